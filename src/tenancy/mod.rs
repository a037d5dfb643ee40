//! Knowing which tenant a request belongs to: the tenant model and its naming rules, the pure
//! resolution rules, the cache, and the directory that finds tenants and resolves requests.
//! The HTTP edge (`http::middleware::resolution`) asks the directory once per request.

mod cache;
pub mod directory;
mod model;
pub mod resolve;
pub mod validate;

pub use cache::{TenantCache, TenantKey, tenant_cache};
pub use directory::TenantDirectory;
pub use model::{Plan, RateLimitOverride, Tenant, TenantStatus};
