//! Scheduled hooks: the loop that runs each due job once across every instance. An instance
//! claims a run by inserting `(job, second)` into `schedule_runs`; the primary key lets exactly
//! one instance win, on PostgreSQL and SQLite alike.

use std::{panic::AssertUnwindSafe, sync::Arc, time::Duration};

use chrono::{DateTime, SubsecRound, Timelike, Utc};
use futures_util::FutureExt;
use sea_orm::{ConnectionTrait, DbErr, Statement};

use futures_util::future::BoxFuture;

use super::{ActionContext, HookResult, Runtime, cron::Cron};
use crate::{
    schema::format_datetime,
    tenancy::{Tenant, directory},
};

/// Whether a job runs once per active tenant (each with that tenant's context) or once for the
/// platform (with the explicitly named platform context).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleScope {
    PerTenant,
    Platform,
}

/// A scheduled job.
pub type ScheduleFn = Arc<dyn Fn(ActionContext) -> BoxFuture<'static, HookResult<()>> + Send + Sync>;

/// A scheduled job as registered.
#[derive(Clone)]
pub struct Schedule {
    pub name: String,
    pub cron: Cron,
    pub scope: ScheduleScope,
    pub(crate) extension: Option<String>,
    pub(crate) job: ScheduleFn,
}

/// Runs due jobs until the process ends. Seconds missed while busy (up to a minute) are caught up.
pub fn spawn_scheduler(runtime: Runtime) {
    if runtime.hooks().schedules().is_empty() {
        return;
    }
    tokio::spawn(async move {
        let mut last = Utc::now().trunc_subsecs(0);
        loop {
            let now = Utc::now();
            let next = now.trunc_subsecs(0) + chrono::Duration::seconds(1);
            tokio::time::sleep((next - now).to_std().unwrap_or(Duration::from_millis(10))).await;
            let current = Utc::now().trunc_subsecs(0);
            let mut second = (last + chrono::Duration::seconds(1)).max(current - chrono::Duration::seconds(60));
            while second <= current {
                for schedule in runtime.hooks().schedules().iter().filter(|s| s.cron.matches(second)) {
                    let (runtime, schedule) = (runtime.clone(), schedule.clone());
                    tokio::spawn(async move { run_once(&runtime, &schedule, second).await });
                }
                second += chrono::Duration::seconds(1);
            }
            last = current;
        }
    });
}

/// Claims the run of `schedule` at `at` and, if this instance won it, runs the job.
async fn run_once(runtime: &Runtime, schedule: &Schedule, at: DateTime<Utc>) {
    match claim(runtime, &schedule.name, at).await {
        Ok(true) => {}
        Ok(false) => return,
        Err(error) => {
            tracing::error!(job = schedule.name, %error, "cannot claim a scheduled run");
            return;
        }
    }
    match schedule.scope {
        ScheduleScope::Platform => run_job(runtime, schedule, None).await,
        ScheduleScope::PerTenant => {
            let tenants = match directory::active(runtime.db()).await {
                Ok(tenants) => tenants,
                Err(error) => {
                    tracing::error!(job = schedule.name, %error, "cannot list the tenants of a scheduled run");
                    return;
                }
            };
            for tenant in tenants {
                if runtime.hooks().enabled(schedule.extension.as_deref(), Some(&tenant)) {
                    run_job(runtime, schedule, Some(Arc::new(tenant))).await;
                }
            }
        }
    }
}

async fn run_job(runtime: &Runtime, schedule: &Schedule, tenant: Option<Arc<Tenant>>) {
    let tenant_id = tenant.as_ref().map(|t| t.id);
    let ctx = ActionContext::scheduled(runtime.clone(), tenant, &schedule.name);
    match AssertUnwindSafe((schedule.job)(ctx)).catch_unwind().await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::error!(job = schedule.name, tenant = ?tenant_id, %error, "a scheduled job failed"),
        Err(_) => tracing::error!(job = schedule.name, tenant = ?tenant_id, "a scheduled job panicked"),
    }
}

/// Records that `job` runs at `at`; false when another instance already did.
async fn claim(runtime: &Runtime, job: &str, at: DateTime<Utc>) -> Result<bool, DbErr> {
    let conn = runtime.db().platform_conn();
    let backend = conn.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => {
            "INSERT INTO schedule_runs (job, run_at) VALUES ($1, $2) ON CONFLICT DO NOTHING"
        }
        _ => "INSERT INTO schedule_runs (job, run_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
    };
    let text = format_datetime(at);
    let result = conn.execute_raw(Statement::from_sql_and_values(backend, sql, [job.into(), text.into()])).await?;
    let won = result.rows_affected() == 1;
    // Claims are only needed while instances could still race for a run: the winner of each
    // whole minute drops the job's claims older than an hour.
    if won && at.second() == 0 {
        let cutoff = format_datetime(at - chrono::Duration::hours(1));
        let sql = match backend {
            sea_orm::DbBackend::Postgres => "DELETE FROM schedule_runs WHERE job = $1 AND run_at < $2",
            _ => "DELETE FROM schedule_runs WHERE job = ? AND run_at < ?",
        };
        conn.execute_raw(Statement::from_sql_and_values(backend, sql, [job.into(), cutoff.into()])).await?;
    }
    Ok(won)
}
