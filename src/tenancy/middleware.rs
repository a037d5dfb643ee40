//! Resolves the tenant (and reads the access token) once per request, before any handler runs.
//! The outcome goes into the request extensions and the tenant onto the request's span; the
//! extractors in `extract.rs` and `auth::caller` turn it into handler arguments or errors.

use std::sync::Arc;

use actix_web::{
    HttpMessage,
    body::{EitherBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::header::{AUTHORIZATION, HOST, HeaderMap, HeaderName},
    middleware::Next,
    web,
};
use uuid::Uuid;

use super::{
    Tenant, TenantKey,
    resolve::{self, Decision, Lookup},
};
use crate::{
    auth::caller::Authentication,
    error::{Code, Error},
    services,
    state::AppState,
};

const TENANT_HEADER: HeaderName = HeaderName::from_static("x-tenant-id");

/// The resolved tenant of a request: `Ok(None)` when the request names none.
#[derive(Clone)]
pub(crate) struct Resolution(pub Result<Option<Arc<Tenant>>, Code>);

/// Actix middleware (`from_fn`) that resolves tenant and token for `/api/` routes.
pub async fn resolve_tenant(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if !req.path().starts_with("/api/") {
        return next.call(req).await.map(ServiceResponse::map_into_left_body);
    }
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        let error = Error::internal("application state is not registered");
        return Ok(req.error_response(error).map_into_right_body());
    };

    let authentication = match bearer_token(req.headers()) {
        None => Authentication::Missing,
        Some(token) => match state.tokens.verify(token) {
            Ok(claims) => Authentication::Valid(claims),
            Err(error) => {
                tracing::debug!(%error, "access token refused");
                Authentication::Invalid
            }
        },
    };
    let token_tenant = match &authentication {
        Authentication::Valid(claims) => claims.tid,
        _ => None,
    };

    let host = req.headers().get(HOST).and_then(|h| h.to_str().ok()).or_else(|| req.uri().host());
    let resolution = match resolve(&state, host, req.headers(), token_tenant).await {
        Ok(tenant) => Ok(tenant),
        Err(Error::Problem { code, .. }) => Err(code),
        Err(error) => {
            tracing::error!(%error, "tenant resolution failed");
            Err(Code::Internal)
        }
    };
    if let Ok(Some(tenant)) = &resolution {
        tracing::Span::current().record("tenant", tracing::field::display(tenant.id));
        state.metrics.count_tenant_request(tenant.id);
    }
    req.extensions_mut().insert(Resolution(resolution));
    req.extensions_mut().insert(authentication);
    next.call(req).await.map(ServiceResponse::map_into_left_body)
}

async fn resolve(
    state: &AppState,
    host: Option<&str>,
    headers: &HeaderMap,
    token_tenant: Option<Uuid>,
) -> Result<Option<Arc<Tenant>>, Error> {
    let host_lookup = match host.and_then(|h| resolve::host_key(h, &state.config.base_domain)) {
        // A domain nobody registered names no tenant; an unknown subdomain names a missing one.
        Some(key @ TenantKey::Domain(_)) => lookup(state, key).await?.map(Some),
        Some(key) => Some(lookup(state, key).await?),
        None => None,
    };
    let header_lookup = match headers.get(TENANT_HEADER) {
        Some(value) => match resolve::header_key(value.as_bytes()) {
            Ok(key) => Some(lookup(state, key).await?),
            Err(_) => Some(None),
        },
        None => None,
    };
    let tenant = match resolve::decide(host_lookup, header_lookup, token_tenant).map_err(problem)? {
        Decision::Named(tenant) => tenant,
        Decision::TokenOnly(id) => {
            lookup(state, TenantKey::Id(id)).await?.ok_or_else(|| problem(Code::TenantNotFound))?
        }
        Decision::NoTenant => return Ok(None),
    };
    resolve::admit(tenant).map(Some).map_err(problem)
}

/// The active tenant with this id, as resolution would admit it (refresh tokens name theirs).
pub(crate) async fn admitted_tenant(state: &AppState, id: Uuid) -> Result<Arc<Tenant>, Error> {
    let tenant = lookup(state, TenantKey::Id(id)).await?.ok_or_else(|| problem(Code::TenantNotFound))?;
    resolve::admit(tenant).map_err(problem)
}

async fn lookup(state: &AppState, key: TenantKey) -> Result<Lookup, Error> {
    state.caches.tenants.get_or_load(key.clone(), || services::tenants::find(&state.db, key)).await
}

fn problem(code: Code) -> Error {
    let detail = match code {
        Code::TenantConflict => "The Host and X-Tenant-ID headers name different tenants.",
        Code::TokenTenantMismatch => "The access token belongs to a different tenant than the one requested.",
        Code::TenantNotFound => "No such tenant.",
        Code::TenantSuspended => "This tenant is suspended.",
        Code::TenantRequired => "This route needs a tenant: use its subdomain, X-Tenant-ID, or a tenant token.",
        _ => "The tenant could not be resolved.",
    };
    Error::new(code, detail)
}

pub(crate) fn problem_for(code: Code) -> Error {
    problem(code)
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    // from_utf8 is vectorised; HeaderValue::to_str checks byte by byte, which shows up in
    // profiles for 400-byte tokens. A token with non-ASCII bytes fails verification anyway.
    let value = std::str::from_utf8(headers.get(AUTHORIZATION)?.as_bytes()).ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}
