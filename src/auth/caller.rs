//! Who is calling, as handler arguments. The permission is part of the handler's signature:
//! `PlatformAdmin` for platform routes, `TenantCaller<P>` for tenant routes with policy `P`.

use std::{
    future::{Ready, ready},
    marker::PhantomData,
    sync::Arc,
};

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload};
use uuid::Uuid;

use super::{
    Claims, Role,
    roles::{Member, Policy},
};
use crate::{
    error::{Code, Error},
    tenancy::{CurrentTenant, Tenant},
};

/// What the middleware made of the `Authorization` header.
#[derive(Clone)]
pub(crate) enum Authentication {
    Missing,
    Invalid,
    Valid(Arc<Claims>),
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub id: Uuid,
    /// The caller's tenant; `None` for platform admins.
    pub tenant_id: Option<Uuid>,
    pub role: Role,
}

impl Caller {
    pub fn is_platform_admin(&self) -> bool {
        self.role == Role::PlatformAdmin
    }
}

fn caller(req: &HttpRequest) -> Result<Caller, Error> {
    match req.extensions().get::<Authentication>() {
        Some(Authentication::Valid(claims)) => Ok(Caller { id: claims.sub, tenant_id: claims.tid, role: claims.role }),
        Some(Authentication::Invalid) => Err(Error::new(Code::InvalidToken, "The access token is invalid or expired.")),
        Some(Authentication::Missing) => {
            Err(Error::new(Code::Unauthenticated, "This route needs an access token (Authorization: Bearer …)."))
        }
        None => Err(Error::internal("authentication middleware did not run")),
    }
}

fn forbidden() -> Error {
    Error::new(Code::Forbidden, "Your role does not allow this.")
}

/// Any authenticated caller.
pub struct Authenticated(pub Caller);

impl FromRequest for Authenticated {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(caller(req).map(Authenticated))
    }
}

/// A platform admin, for platform routes; anyone else authenticated gets 403.
pub struct PlatformAdmin(pub Caller);

impl FromRequest for PlatformAdmin {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(caller(req).and_then(|c| if c.is_platform_admin() { Ok(PlatformAdmin(c)) } else { Err(forbidden()) }))
    }
}

/// A caller acting inside the resolved tenant whose role satisfies `P`: a member of that tenant,
/// or a platform admin (who acts as the tenant's admin).
pub struct TenantCaller<P: Policy = Member> {
    pub tenant: Arc<Tenant>,
    pub caller: Caller,
    policy: PhantomData<P>,
}

impl<P: Policy> FromRequest for TenantCaller<P> {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let result = (|| {
            let tenant = CurrentTenant::from_request(req, payload).into_inner()?.0;
            let caller = caller(req)?;
            if caller.tenant_id.is_some_and(|tid| tid != tenant.id) {
                return Err(Error::new(Code::TokenTenantMismatch, "The access token belongs to another tenant."));
            }
            if !P::allows(caller.role) {
                return Err(forbidden());
            }
            Ok(TenantCaller { tenant, caller, policy: PhantomData })
        })();
        ready(result)
    }
}
