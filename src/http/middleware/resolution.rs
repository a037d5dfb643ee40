//! Resolves the tenant (and reads the access token) once per request, before any handler runs.
//! The outcome goes into the request extensions and the tenant onto the request's span; the
//! extractors in `http::extract` turn it into handler arguments or errors. The rules themselves
//! live in `tenancy` (the directory) and `auth` (tokens).

use std::sync::Arc;

use actix_web::{
    HttpMessage,
    body::{EitherBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::header::{AUTHORIZATION, HOST, HeaderMap, HeaderName},
    middleware::Next,
};

use crate::{
    auth::Claims,
    error::{Code, Error},
    services::Env,
    tenancy::Tenant,
};

const TENANT_HEADER: HeaderName = HeaderName::from_static("x-tenant-id");

/// The resolved tenant of a request: `Ok(None)` when the request names none.
#[derive(Clone)]
pub(crate) struct Resolution(pub Result<Option<Arc<Tenant>>, Code>);

/// What the middleware made of the `Authorization` header.
#[derive(Clone)]
pub(crate) enum Authentication {
    Missing,
    Invalid,
    Valid(Arc<Claims>),
}

/// Actix middleware (`from_fn`) that resolves tenant and token for `/api/` routes.
pub async fn resolve_tenant(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if !req.path().starts_with("/api/") {
        return next.call(req).await.map(ServiceResponse::map_into_left_body);
    }
    let Some(env) = req.app_data::<Env>().cloned() else {
        let error = Error::internal("the service environment is not registered");
        return Ok(req.error_response(error).map_into_right_body());
    };
    // Everything below may answer from caches: first hear what other instances committed.
    env.catch_up().await;

    let authentication = match bearer_token(req.headers()) {
        None => Authentication::Missing,
        Some(token) => match env.tokens().verify(token) {
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
    let header = req.headers().get(TENANT_HEADER).map(|value| value.as_bytes());
    let resolution = match env.tenants().resolve(host, header, token_tenant).await {
        Ok(tenant) => Ok(tenant),
        Err(Error::Problem { code, .. }) => Err(code),
        Err(error) => {
            tracing::error!(%error, "tenant resolution failed");
            Err(Code::Internal)
        }
    };
    if let Ok(Some(tenant)) = &resolution {
        tracing::Span::current().record("tenant", tracing::field::display(tenant.id));
    }
    req.extensions_mut().insert(Resolution(resolution));
    req.extensions_mut().insert(authentication);
    next.call(req).await.map(ServiceResponse::map_into_left_body)
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    // from_utf8 is vectorised; HeaderValue::to_str checks byte by byte, which shows up in
    // profiles for 400-byte tokens. A token with non-ASCII bytes fails verification anyway.
    let value = std::str::from_utf8(headers.get(AUTHORIZATION)?.as_bytes()).ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}
