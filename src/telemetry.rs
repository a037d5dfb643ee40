//! Logging and request context: tracing setup, the request id, one span per request carrying
//! method, path, tenant and status, and the in-process counters behind `/metrics`.

use std::{
    collections::HashMap,
    fmt::Write as _,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

use actix_web::{
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::header::{HeaderName, HeaderValue},
    middleware::Next,
    web,
};
use tracing::Instrument;
use tracing_subscriber::{EnvFilter, fmt};
use uuid::Uuid;

use crate::{config::LogFormat, state::AppState};

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

tokio::task_local! {
    static REQUEST_ID: String;
}

/// Installs the global tracing subscriber (`TB_LOG`, `TB_LOG_FORMAT`). Call once, from `main`.
pub fn init(filter: &str, format: LogFormat) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_target(false);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).with_span_list(false).try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}

/// The id of the request being handled on this task, if any.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Accepts a client's request id only if it is short, visible ASCII (it ends up in logs).
fn client_request_id(req: &ServiceRequest) -> Option<String> {
    let value = req.headers().get(REQUEST_ID_HEADER)?.to_str().ok()?;
    let ok = !value.is_empty() && value.len() <= 128 && value.bytes().all(|b| b.is_ascii_graphic());
    ok.then(|| value.to_string())
}

/// Outermost middleware: request id, request span, status logging, and `X-Request-Id` on every
/// response.
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
    let metrics = req.app_data::<web::Data<AppState>>().cloned();
    let started = Instant::now();

    // Handlers and extractors render their errors inside this scope, so a problem body can
    // carry the request id. Inner middleware answer errors as responses, never as `Err`.
    let response = REQUEST_ID.scope(request_id.clone(), next.call(req)).instrument(span.clone()).await?;

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
    if let Some(state) = metrics {
        state.metrics.count_status(status.as_u16());
    }
    let mut response = response;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    Ok(response)
}

/// Request counters for `/metrics`: per status class, and per tenant (labelled by tenant id).
#[derive(Default)]
pub struct Metrics {
    by_status_class: [AtomicU64; 5],
    by_tenant: Mutex<HashMap<Uuid, u64>>,
}

impl Metrics {
    pub fn count_status(&self, status: u16) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.by_status_class[class].fetch_add(1, Ordering::Relaxed);
    }

    pub fn count_tenant_request(&self, tenant: Uuid) {
        if let Ok(mut map) = self.by_tenant.lock() {
            *map.entry(tenant).or_default() += 1;
        }
    }

    /// Forgets a deleted tenant's series.
    pub fn forget_tenant(&self, tenant: Uuid) {
        if let Ok(mut map) = self.by_tenant.lock() {
            map.remove(&tenant);
        }
    }

    /// Renders the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP tenantbase_http_requests_total HTTP responses by status class.\n");
        out.push_str("# TYPE tenantbase_http_requests_total counter\n");
        for (i, counter) in self.by_status_class.iter().enumerate() {
            let _ = writeln!(
                out,
                "tenantbase_http_requests_total{{class=\"{}xx\"}} {}",
                i + 1,
                counter.load(Ordering::Relaxed)
            );
        }
        out.push_str("# HELP tenantbase_tenant_requests_total Requests resolved to each tenant.\n");
        out.push_str("# TYPE tenantbase_tenant_requests_total counter\n");
        if let Ok(map) = self.by_tenant.lock() {
            let mut rows: Vec<_> = map.iter().collect();
            rows.sort();
            for (tenant, count) in rows {
                let _ = writeln!(out, "tenantbase_tenant_requests_total{{tenant=\"{tenant}\"}} {count}");
            }
        }
        out
    }
}
