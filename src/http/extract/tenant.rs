//! The tenant resolved by the middleware, as a handler argument.

use std::{
    future::{Ready, ready},
    ops::Deref,
    sync::Arc,
};

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload};

use crate::{
    error::{Code, Error},
    http::middleware::Resolution,
    tenancy::{Tenant, resolve::problem},
};

/// The tenant of a tenant-scoped route. Fails with the resolution's error, or
/// `tenant_required` when the request names no tenant.
pub struct CurrentTenant(pub Arc<Tenant>);

/// For routes that work with or without a tenant (login): `None` when none is named, but a
/// conflicting, unknown or suspended tenant is still an error.
pub struct OptionalTenant(pub Option<Arc<Tenant>>);

fn resolution(req: &HttpRequest) -> Result<Option<Arc<Tenant>>, Error> {
    match req.extensions().get::<Resolution>() {
        Some(Resolution(Ok(tenant))) => Ok(tenant.clone()),
        Some(Resolution(Err(code))) => Err(problem(*code)),
        // The middleware wraps every tenant route; reaching this is a server bug.
        None => Err(Error::internal("tenant resolution middleware did not run")),
    }
}

impl FromRequest for CurrentTenant {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(resolution(req).and_then(|t| t.map(CurrentTenant).ok_or_else(|| problem(Code::TenantRequired))))
    }
}

impl FromRequest for OptionalTenant {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(resolution(req).map(OptionalTenant))
    }
}

impl Deref for CurrentTenant {
    type Target = Tenant;

    fn deref(&self) -> &Tenant {
        &self.0
    }
}
