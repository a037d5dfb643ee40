//! The middleware every request passes, outermost first: the path's one normal form, the
//! request context (id, span, log line), CORS (preflights answered here), the UTF-8 check of
//! the query string, tenant and token resolution (for `/api/` paths only), then the plan's
//! rate limits (for requests resolved to a tenant). `http::app` sets this order.

mod cors;
mod normalize_path;
mod rate_limit;
mod request_context;
mod resolution;
mod utf8_query;

pub use cors::cors;
pub use normalize_path::normalize_path;
pub use rate_limit::rate_limit;
pub use request_context::request_context;
pub use resolution::resolve_tenant;
pub(crate) use resolution::{Authentication, Resolution};
pub use utf8_query::require_utf8_query;
