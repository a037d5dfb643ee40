//! Handler arguments: the service environment, the resolved tenant, and the caller with the
//! permission the route needs, so no handler can forget its check (`TenantCaller<Editor>`).
//! Custom routes of extensions take a [`TenantContext`], which offers only the request's tenant.

mod caller;
mod tenant;

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpRequest, dev::Payload};

pub use caller::{Authenticated, PlatformAdmin, TenantCaller, TenantContext};
pub use tenant::{CurrentTenant, OptionalTenant};

use crate::{error::Error, services::Env};

impl FromRequest for Env {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.app_data::<Env>().cloned().ok_or_else(|| Error::internal("the service environment is not registered")),
        )
    }
}
