//! CORS for tenants' frontends: a browser on an allowed origin may call the API (and, through
//! the bucket's own rules, upload to the store). Allowed are the `TB_CORS_ORIGINS` patterns
//! (`https://*.{TB_BASE_DOMAIN}` by default) and `https://{domain}` of every live tenant's
//! custom domain. Preflights are answered here, before tenant resolution, which a preflight
//! (no token, maybe no tenant) would fail. No credentials mode: tokens travel in a header, not a
//! cookie, so a page on another origin cannot ride on a user's session anyway.

use actix_web::{
    HttpResponse,
    body::{EitherBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::{
        Method,
        header::{self, HeaderValue},
    },
    middleware::Next,
};

use crate::{
    services::Env,
    tenancy::{TenantKey, TenantStatus},
};

const ALLOWED_METHODS: &str = "GET, POST, PUT, PATCH, DELETE";
const EXPOSED_HEADERS: &str = "X-Request-Id, ETag, Location, Retry-After, RateLimit, RateLimit-Policy";

pub async fn cors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let origin = req.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()).map(str::to_ascii_lowercase);
    let Some(origin) = origin else { return Ok(next.call(req).await?.map_into_left_body()) };
    let allowed = match req.app_data::<Env>() {
        Some(env) => is_allowed(env, &origin).await,
        None => false,
    };
    let allow_origin = allowed.then(|| HeaderValue::from_str(&origin).ok()).flatten();
    let preflight =
        req.method() == Method::OPTIONS && req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        let mut response = HttpResponse::NoContent();
        response.insert_header((header::VARY, "Origin"));
        if let Some(allow_origin) = allow_origin {
            response
                .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin))
                .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, ALLOWED_METHODS))
                .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"));
            if let Some(asked) = req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
                response.insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone()));
            }
        }
        return Ok(req.into_response(response.finish()).map_into_right_body());
    }
    let mut response = next.call(req).await?;
    let headers = response.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(allow_origin) = allow_origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
        headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSED_HEADERS));
    }
    Ok(response.map_into_left_body())
}

/// A configured pattern, or the custom domain of a live tenant over HTTPS.
async fn is_allowed(env: &Env, origin: &str) -> bool {
    if env.config().files.cors_origins.iter().any(|pattern| origin_matches(pattern, origin)) {
        return true;
    }
    let Some(host) = origin.strip_prefix("https://") else { return false };
    if host.contains(['/', ':', '@']) {
        return false;
    }
    match env.tenants().lookup(TenantKey::Domain(host.to_string())).await {
        Ok(Some(tenant)) => tenant.status != TenantStatus::Deleted,
        _ => false,
    }
}

/// `https://*.example.com` matches `https://acme.example.com` (the `*` stands for at least one
/// character of the host); without a `*` the origin must be the pattern.
pub(crate) fn origin_matches(pattern: &str, origin: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == origin,
        Some((before, after)) => {
            origin.len() > before.len() + after.len()
                && origin.starts_with(before)
                && origin.ends_with(after)
                && !origin[before.len()..origin.len() - after.len()].contains(['/', ':', '@'])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::origin_matches;

    #[test]
    fn wildcards_stand_for_host_labels_only() {
        let pattern = "https://*.example.com";
        assert!(origin_matches(pattern, "https://acme.example.com"));
        assert!(origin_matches(pattern, "https://a.b.example.com"));
        assert!(!origin_matches(pattern, "https://example.com"));
        assert!(!origin_matches(pattern, "http://acme.example.com"));
        assert!(!origin_matches(pattern, "https://acme.example.com.evil.test"));
        assert!(!origin_matches(pattern, "https://evil.test:1/.example.com"));
        assert!(origin_matches("http://*.localhost:8080", "http://acme.localhost:8080"));
        assert!(!origin_matches("http://*.localhost:8080", "http://acme.localhost:9090"));
        assert!(origin_matches("https://app.example.com", "https://app.example.com"));
    }
}
