//! Logging and request context: tracing setup, the id of the request being handled, and the
//! in-process counters behind `/metrics`. The HTTP edge opens the span of each request
//! (`http::middleware::request_context`); nothing here knows the web framework.

use std::{
    collections::HashMap,
    fmt::Write as _,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use tracing_subscriber::{EnvFilter, fmt};
use uuid::Uuid;

use crate::config::LogFormat;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// Installs the global tracing subscriber (`TB_LOG`, `TB_LOG_FORMAT`). Call once, from `main`.
/// In JSON mode a panic is logged as a JSON event too, so that every line of output is JSON.
pub fn init(filter: &str, format: LogFormat) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_target(false);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).with_span_list(false).try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
    if format == LogFormat::Json {
        std::panic::set_hook(Box::new(|panic| {
            let location = panic.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
            tracing::error!(panic = %panic.payload_as_str().unwrap_or("(no message)"), %location, "panicked");
        }));
    }
}

/// The id of the request being handled on this task, if any.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Runs `work` as the handling of request `request_id`: problems rendered inside it carry the id.
pub async fn with_request_id<F: Future>(request_id: String, work: F) -> F::Output {
    REQUEST_ID.scope(request_id, work).await
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
