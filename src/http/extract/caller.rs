//! Who is calling, as handler arguments. The permission is part of the handler's signature:
//! `PlatformAdmin` for platform routes, `TenantCaller<P>` for tenant routes with policy `P`,
//! `TenantContext<P>` for the custom routes of extensions.

use std::{marker::PhantomData, ops::Deref, sync::Arc};

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload};
use futures_util::future::LocalBoxFuture;

use super::CurrentTenant;
use crate::{
    auth::{
        Caller, Claims, Role,
        caller::{caller_for, invalid_token},
        roles::{Member, Policy},
    },
    error::{Code, Error},
    hooks::ActionContext,
    http::middleware::Authentication,
    services::Env,
    tenancy::Tenant,
};

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

fn forbidden() -> Error {
    Error::new(Code::Forbidden, "Your role does not allow this.")
}

/// The caller behind the request's token, checked against the member's current state.
async fn authenticate(req: &HttpRequest) -> Result<Caller, Error> {
    let claims = claims(req)?;
    let env = req.app_data::<Env>().ok_or_else(|| Error::internal("the service environment is not registered"))?;
    caller_for(&claims, env.members()).await
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

/// A platform admin, for platform routes; anyone else authenticated gets 403. The admin must
/// still exist at the token's session epoch, like any caller.
pub struct PlatformAdmin(pub Caller);

impl FromRequest for PlatformAdmin {
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self, Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            // A tenant user is refused without a lookup; a platform admin is checked.
            let claims = claims(&req)?;
            if claims.role != Role::PlatformAdmin || claims.tid.is_some() {
                return Err(forbidden());
            }
            authenticate(&req).await.map(PlatformAdmin)
        })
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

/// What a custom route of an extension works with: the request's tenant and caller (whose role
/// satisfies `P`) and item operations confined to that tenant, the same [`ActionContext`] an
/// action hook gets. It offers no connection and no other tenant.
pub struct TenantContext<P: Policy = Member> {
    context: ActionContext,
    policy: PhantomData<P>,
}

impl<P: Policy + 'static> FromRequest for TenantContext<P> {
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self, Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = TenantCaller::<P>::from_request(req, payload);
        let env = Env::from_request(req, payload).into_inner();
        Box::pin(async move {
            let (caller, env) = (caller.await?, env?);
            let context = ActionContext::request(env.runtime().clone(), caller.tenant, caller.caller);
            Ok(TenantContext { context, policy: PhantomData })
        })
    }
}

impl<P: Policy> Deref for TenantContext<P> {
    type Target = ActionContext;

    fn deref(&self) -> &ActionContext {
        &self.context
    }
}
