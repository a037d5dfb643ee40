//! Who is calling, as handler arguments. The permission is part of the handler's signature:
//! `PlatformAdmin` for platform routes, `TenantCaller<P>` for tenant routes with policy `P`.

use std::{
    future::{Ready, ready},
    marker::PhantomData,
    sync::Arc,
};

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, web};
use futures_util::future::LocalBoxFuture;
use uuid::Uuid;

use super::{
    Claims, Role,
    roles::{Member, Policy},
};
use crate::{
    error::{Code, Error},
    services,
    state::AppState,
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

/// The verified claims of the request's token, or why there are none.
fn claims(req: &HttpRequest) -> Result<Arc<Claims>, Error> {
    match req.extensions().get::<Authentication>() {
        Some(Authentication::Valid(claims)) => Ok(claims.clone()),
        Some(Authentication::Invalid) => Err(invalid_token()),
        Some(Authentication::Missing) => {
            Err(Error::new(Code::Unauthenticated, "This route needs an access token (Authorization: Bearer …)."))
        }
        None => Err(Error::internal("authentication middleware did not run")),
    }
}

fn invalid_token() -> Error {
    Error::new(Code::InvalidToken, "The access token is invalid or expired.")
}

/// The caller behind the request's token. A tenant user must still be active, with sessions not
/// ended since the token was issued, and acts with their current role (not the token's).
async fn authenticate(req: &HttpRequest) -> Result<Caller, Error> {
    let claims = claims(req)?;
    let Some(tenant) = claims.tid else {
        return Ok(Caller { id: claims.sub, tenant_id: None, role: claims.role });
    };
    let state =
        req.app_data::<web::Data<AppState>>().ok_or_else(|| Error::internal("application state is not registered"))?;
    let member = state
        .caches
        .members
        .get_or_load((tenant, claims.sub), || services::users::load_member(&state.db, tenant, claims.sub))
        .await?;
    match member {
        Some(member) if member.accepts_token_issued_at(claims.iat) => {
            Ok(Caller { id: claims.sub, tenant_id: Some(tenant), role: member.role })
        }
        _ => Err(invalid_token()),
    }
}

fn forbidden() -> Error {
    Error::new(Code::Forbidden, "Your role does not allow this.")
}

/// Any authenticated caller.
pub struct Authenticated(pub Caller);

impl FromRequest for Authenticated {
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self, Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authenticate(&req).await.map(Authenticated) })
    }
}

/// A platform admin, for platform routes; anyone else authenticated gets 403.
pub struct PlatformAdmin(pub Caller);

impl FromRequest for PlatformAdmin {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // Platform admins have no per-user state to check; anyone else is refused outright.
        let result = claims(req).and_then(|c| match c.role {
            Role::PlatformAdmin if c.tid.is_none() => {
                Ok(PlatformAdmin(Caller { id: c.sub, tenant_id: None, role: c.role }))
            }
            _ => Err(forbidden()),
        });
        ready(result)
    }
}

/// A caller acting inside the resolved tenant whose role satisfies `P`: a member of that tenant,
/// or a platform admin (who acts as the tenant's admin).
pub struct TenantCaller<P: Policy = Member> {
    pub tenant: Arc<Tenant>,
    pub caller: Caller,
    policy: PhantomData<P>,
}

impl<P: Policy + 'static> FromRequest for TenantCaller<P> {
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self, Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let tenant = CurrentTenant::from_request(req, payload).into_inner();
        let req = req.clone();
        Box::pin(async move {
            let tenant = tenant?.0;
            let caller = authenticate(&req).await?;
            if caller.tenant_id.is_some_and(|tid| tid != tenant.id) {
                return Err(Error::new(Code::TokenTenantMismatch, "The access token belongs to another tenant."));
            }
            if !P::allows(caller.role) {
                return Err(forbidden());
            }
            Ok(TenantCaller { tenant, caller, policy: PhantomData })
        })
    }
}
