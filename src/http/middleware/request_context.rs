//! The outermost middleware: a request id (the client's when sane, else a new one), one span per
//! request carrying method, path, tenant and status, a log line when it ends, and `X-Request-Id`
//! on every response.

use std::time::Instant;

use actix_web::{
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::header::{HeaderName, HeaderValue},
    middleware::Next,
};
use tracing::Instrument;
use uuid::Uuid;

use crate::{services::Env, telemetry};

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Accepts a client's request id only if it is short, visible ASCII (it ends up in logs).
fn client_request_id(req: &ServiceRequest) -> Option<String> {
    let value = req.headers().get(REQUEST_ID_HEADER)?.to_str().ok()?;
    let ok = !value.is_empty() && value.len() <= 128 && value.bytes().all(|b| b.is_ascii_graphic());
    ok.then(|| value.to_string())
}

pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let request_id = client_request_id(&req).unwrap_or_else(|| Uuid::now_v7().to_string());
    // The path only: query strings may carry tokens.
    let span = tracing::info_span!(
        "request",
        method = %req.method(),
        path = %req.path(),
        request_id = %request_id,
        tenant = tracing::field::Empty,
        status = tracing::field::Empty,
    );
    let env = req.app_data::<Env>().cloned();
    let started = Instant::now();

    // Handlers and extractors render their errors inside this scope, so a problem body can
    // carry the request id. Inner middleware answer errors as responses, never as `Err`.
    let response = telemetry::with_request_id(request_id.clone(), next.call(req)).instrument(span.clone()).await?;

    let status = response.status();
    span.record("status", status.as_u16());
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| {
        if status.is_server_error() {
            tracing::warn!(elapsed_ms, "request failed");
        } else {
            tracing::info!(elapsed_ms, "request");
        }
    });
    if let Some(env) = env {
        env.metrics().count_status(status.as_u16());
    }
    let mut response = response;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    Ok(response)
}
