//! Knowing which tenant a request belongs to: the tenant model and its naming rules, the pure
//! resolution rules, the cache, the middleware that resolves once per request, and the
//! extractors that hand the result to handlers.

mod cache;
mod extract;
pub mod middleware;
mod model;
pub mod resolve;
pub mod validate;

pub use cache::{TenantCache, TenantKey, tenant_cache};
pub use extract::{CurrentTenant, OptionalTenant};
pub use model::{Plan, Tenant, TenantStatus};
