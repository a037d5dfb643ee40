//! Handler arguments: the service environment, the resolved tenant, and the caller with the
//! permission the route needs, so no handler can forget its check (`TenantCaller<Editor>`).
//! Custom routes of extensions take a [`TenantContext`], which offers only the request's tenant.

mod caller;
mod env;
mod tenant;

pub use caller::{Authenticated, PlatformAdmin, TenantCaller, TenantContext};
pub use tenant::{CurrentTenant, OptionalTenant};
