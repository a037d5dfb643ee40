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

/// A per-tenant counter series of `/metrics`: name, help, and the counter it reads.
type Series = (&'static str, &'static str, fn(&Traffic) -> u64);

/// One tenant's traffic: requests, rate-limited requests, bytes of presigned uploads and downloads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    pub requests: u64,
    pub rate_limited: u64,
    pub upload_bytes: u64,
    pub download_bytes: u64,
}

impl Traffic {
    pub fn add(&mut self, other: &Traffic) {
        self.requests += other.requests;
        self.rate_limited += other.rate_limited;
        self.upload_bytes += other.upload_bytes;
        self.download_bytes += other.download_bytes;
    }

    pub fn is_empty(&self) -> bool {
        *self == Traffic::default()
    }
}

/// A tenant's traffic since this process started, and what of it is not yet written to the
/// usage table.
#[derive(Default)]
struct TenantTraffic {
    total: Traffic,
    pending: Traffic,
}

/// Request counters for `/metrics`: per status class, and per tenant (labelled by tenant id),
/// which the usage accounting also flushes to the database.
#[derive(Default)]
pub struct Metrics {
    by_status_class: [AtomicU64; 5],
    by_tenant: Mutex<HashMap<Uuid, TenantTraffic>>,
}

impl Metrics {
    pub fn count_status(&self, status: u16) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.by_status_class[class].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one request of `tenant`, and whether it was refused for its rate.
    pub fn count_tenant_request(&self, tenant: Uuid, rate_limited: bool) {
        let limited = u64::from(rate_limited);
        self.count(tenant, Traffic { requests: 1, rate_limited: limited, ..Traffic::default() });
    }

    /// Counts the bytes of a presigned upload (`upload`) or download.
    pub fn count_presigned(&self, tenant: Uuid, upload: bool, bytes: u64) {
        let traffic = if upload {
            Traffic { upload_bytes: bytes, ..Traffic::default() }
        } else {
            Traffic { download_bytes: bytes, ..Traffic::default() }
        };
        self.count(tenant, traffic);
    }

    fn count(&self, tenant: Uuid, traffic: Traffic) {
        if let Ok(mut map) = self.by_tenant.lock() {
            let entry = map.entry(tenant).or_default();
            entry.total.add(&traffic);
            entry.pending.add(&traffic);
        }
    }

    /// Takes what was counted since the last flush, per tenant.
    pub fn take_pending(&self) -> Vec<(Uuid, Traffic)> {
        let Ok(mut map) = self.by_tenant.lock() else { return Vec::new() };
        map.iter_mut()
            .filter(|(_, traffic)| !traffic.pending.is_empty())
            .map(|(tenant, traffic)| (*tenant, std::mem::take(&mut traffic.pending)))
            .collect()
    }

    /// Gives back counts a flush could not write, to be written by the next one.
    pub fn restore_pending(&self, tenant: Uuid, traffic: Traffic) {
        if let Ok(mut map) = self.by_tenant.lock() {
            map.entry(tenant).or_default().pending.add(&traffic);
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
        let rows: Vec<(Uuid, Traffic)> = match self.by_tenant.lock() {
            Ok(map) => map.iter().map(|(tenant, traffic)| (*tenant, traffic.total)).collect(),
            Err(_) => Vec::new(),
        };
        let mut rows = rows;
        rows.sort_by_key(|(tenant, _)| *tenant);
        let series: [Series; 4] = [
            ("tenantbase_tenant_requests_total", "Requests resolved to each tenant.", |t| t.requests),
            ("tenantbase_tenant_rate_limited_total", "Requests of each tenant refused for its rate.", |t| {
                t.rate_limited
            }),
            ("tenantbase_tenant_upload_bytes_total", "Bytes of uploads presigned for each tenant.", |t| t.upload_bytes),
            ("tenantbase_tenant_download_bytes_total", "Bytes of downloads presigned for each tenant.", |t| {
                t.download_bytes
            }),
        ];
        for (name, help, value) in series {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (tenant, traffic) in &rows {
                let _ = writeln!(out, "{name}{{tenant=\"{tenant}\"}} {}", value(traffic));
            }
        }
        out
    }
}
