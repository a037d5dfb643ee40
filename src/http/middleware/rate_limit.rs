//! The plan's request quotas (API.md "Rate limits"), for every request resolved to a tenant:
//! counted per tenant and per caller (the token's user, else the client address), answered with
//! the IETF `RateLimit-Policy` and `RateLimit` fields, refused with 429 `rate_limited` and
//! `Retry-After` when over. Every tenant request is also counted for the tenant's usage.

use actix_web::{
    HttpMessage, ResponseError,
    body::{EitherBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::header::{HeaderMap, HeaderName, HeaderValue},
    middleware::Next,
};

use super::{Authentication, Resolution};
use crate::{
    error::Error,
    http::client_ip::client_ip,
    limits::{CallerKey, Decision},
    services::Env,
};

const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// Actix middleware (`from_fn`), inside tenant resolution.
pub async fn rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let tenant = match req.extensions().get::<Resolution>() {
        Some(Resolution(Ok(Some(tenant)))) => Some(tenant.clone()),
        _ => None,
    };
    let (Some(env), Some(tenant)) = (req.app_data::<Env>().cloned(), tenant) else {
        return next.call(req).await.map(ServiceResponse::map_into_left_body);
    };
    let limits = &env.config().rate_limits;
    if !limits.enabled {
        env.metrics().count_tenant_request(tenant.id, false);
        return next.call(req).await.map(ServiceResponse::map_into_left_body);
    }
    let caller = match req.extensions().get::<Authentication>() {
        Some(Authentication::Valid(claims)) => CallerKey::User(claims.sub),
        _ => client_ip(req.peer_addr(), req.headers(), &env.config().trusted_proxies)
            .map_or(CallerKey::Unknown, CallerKey::Ip),
    };
    let decision = env.request_limiter().check(tenant.id, caller, tenant.rates(limits));
    env.metrics().count_tenant_request(tenant.id, decision.retry_after.is_some());
    if let Some(retry_after) = decision.retry_after {
        let mut response = Error::RateLimited { retry_after }.error_response();
        add_headers(response.headers_mut(), &decision);
        return Ok(req.into_response(response).map_into_right_body());
    }
    let mut response = next.call(req).await?;
    add_headers(response.headers_mut(), &decision);
    Ok(response.map_into_left_body())
}

fn add_headers(headers: &mut HeaderMap, decision: &Decision) {
    if let Ok(policy) = HeaderValue::from_str(&decision.policy_header()) {
        headers.insert(RATELIMIT_POLICY, policy);
    }
    if let Some(state) = decision.state_header().and_then(|s| HeaderValue::from_str(&s).ok()) {
        headers.insert(RATELIMIT, state);
    }
}
