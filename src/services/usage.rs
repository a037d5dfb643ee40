//! Usage accounting: every instance counts its tenants' requests, rate-limited requests and
//! presigned bytes in memory (`telemetry::Metrics`), and flushes them every
//! `TB_USAGE_FLUSH_SECONDS` into `tenant_usage_hourly`, adding to what other instances wrote,
//! so a tenant's totals are the sum over every instance. Reading a tenant's usage flushes this
//! instance first; other instances' last few seconds arrive with their next flush.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Timelike, Utc};
use sea_orm::{
    ColumnTrait, QueryOrder,
    sea_query::{Expr, OnConflict},
};
use serde::Serialize;
use uuid::Uuid;

use crate::{
    db::{TenantTxn, TxnError},
    entities::tenant_usage_hourly::{self as hourly, Column},
    error::{Code, Error, Result},
    services::Env,
    telemetry::Traffic,
};

/// The longest range one usage request may cover.
pub const MAX_DAYS: i64 = 366;

/// One day of a tenant's traffic (UTC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DayUsage {
    /// `YYYY-MM-DD`
    #[schema(value_type = String, format = Date)]
    pub date: NaiveDate,
    pub requests: u64,
    pub rate_limited: u64,
    pub upload_bytes: u64,
    pub download_bytes: u64,
}

/// The days `from..=to` of a usage request: by default the last 30 days up to today.
#[derive(Debug, Clone, Copy)]
pub struct DayRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl DayRange {
    /// From the query's `from` and `to` (`YYYY-MM-DD`, either may be missing).
    pub fn parse(from: Option<&str>, to: Option<&str>) -> Result<DayRange> {
        let day = |name: &str, text: &str| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map_err(|_| Error::new(Code::InvalidQuery, format!("`{name}` must be a date as YYYY-MM-DD.")))
        };
        let to = match to {
            Some(text) => day("to", text)?,
            None => Utc::now().date_naive(),
        };
        let from = match from {
            Some(text) => day("from", text)?,
            None => to - Duration::days(29),
        };
        if from > to {
            return Err(Error::new(Code::InvalidQuery, "`from` must not be after `to`."));
        }
        if (to - from).num_days() >= MAX_DAYS {
            return Err(Error::new(Code::InvalidQuery, format!("A usage range covers at most {MAX_DAYS} days.")));
        }
        Ok(DayRange { from, to })
    }
}

fn hour_of(now: DateTime<Utc>) -> DateTime<Utc> {
    now.with_minute(0).and_then(|t| t.with_second(0)).and_then(|t| t.with_nanosecond(0)).unwrap_or(now)
}

fn count(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Writes what this instance counted since its last flush. A tenant whose write fails keeps its
/// counts for the next flush, unless the tenant is gone.
pub async fn flush(env: &Env) {
    let hour = hour_of(Utc::now());
    for (tenant, traffic) in env.metrics().take_pending() {
        match add(env, tenant, hour, &traffic).await {
            Ok(()) => {}
            Err(TxnError::TenantGone(_)) => {}
            Err(error) => {
                tracing::warn!(%tenant, %error, "could not write usage counters; keeping them for the next flush");
                env.metrics().restore_pending(tenant, traffic);
            }
        }
    }
}

async fn add(env: &Env, tenant: Uuid, hour: DateTime<Utc>, traffic: &Traffic) -> Result<(), TxnError> {
    let txn = env.db().tenant(tenant).begin().await?;
    let row = hourly::ActiveModel {
        tenant_id: sea_orm::Set(tenant),
        hour: sea_orm::Set(hour),
        requests: sea_orm::Set(count(traffic.requests)),
        rate_limited: sea_orm::Set(count(traffic.rate_limited)),
        upload_bytes: sea_orm::Set(count(traffic.upload_bytes)),
        download_bytes: sea_orm::Set(count(traffic.download_bytes)),
    };
    let mut conflict = OnConflict::columns([Column::TenantId, Column::Hour]);
    for (column, name) in [
        (Column::Requests, "requests"),
        (Column::RateLimited, "rate_limited"),
        (Column::UploadBytes, "upload_bytes"),
        (Column::DownloadBytes, "download_bytes"),
    ] {
        conflict.value(column, Expr::cust(format!("tenant_usage_hourly.{name} + excluded.{name}")));
    }
    txn.upsert(row, conflict).await?;
    txn.commit().await?;
    Ok(())
}

/// The tenant's traffic: per day of `range`, and over the last 24 hours.
pub(crate) async fn traffic(txn: &TenantTxn, range: DayRange) -> Result<(Vec<DayUsage>, Traffic)> {
    let start = |day: NaiveDate| Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default());
    let since = hour_of(Utc::now()) - Duration::hours(23);
    let from = start(range.from).min(since);
    let rows = txn
        .find::<hourly::Entity>()
        .filter(Column::Hour.gte(from))
        .map(|q| q.order_by_asc(Column::Hour))
        .all(txn)
        .await?;
    let mut days: Vec<DayUsage> = Vec::new();
    let mut last_24h = Traffic::default();
    for row in rows {
        let traffic = Traffic {
            requests: row.requests.max(0) as u64,
            rate_limited: row.rate_limited.max(0) as u64,
            upload_bytes: row.upload_bytes.max(0) as u64,
            download_bytes: row.download_bytes.max(0) as u64,
        };
        if row.hour >= since {
            last_24h.add(&traffic);
        }
        let date = row.hour.date_naive();
        if date < range.from || date > range.to {
            continue;
        }
        match days.last_mut() {
            Some(day) if day.date == date => {
                day.requests += traffic.requests;
                day.rate_limited += traffic.rate_limited;
                day.upload_bytes += traffic.upload_bytes;
                day.download_bytes += traffic.download_bytes;
            }
            _ => days.push(DayUsage {
                date,
                requests: traffic.requests,
                rate_limited: traffic.rate_limited,
                upload_bytes: traffic.upload_bytes,
                download_bytes: traffic.download_bytes,
            }),
        }
    }
    Ok((days, last_24h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_default_to_thirty_days_and_refuse_nonsense() {
        let range = DayRange::parse(None, Some("2026-12-02")).unwrap();
        assert_eq!(range.from, NaiveDate::from_ymd_opt(2026, 11, 3).unwrap());
        for (from, to) in [
            (Some("2026-12-03"), Some("2026-12-02")),
            (Some("yesterday"), None),
            (Some("2024-01-01"), Some("2026-01-01")),
        ] {
            assert_eq!(DayRange::parse(from, to).unwrap_err().code(), Code::InvalidQuery, "{from:?}..{to:?}");
        }
    }
}
