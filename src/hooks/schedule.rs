//! Scheduled hooks: the loop that runs each due job once across every instance (see
//! `claims.rs`), for its tenants a bounded number at once, each run under a deadline and a lease
//! so that a slow run is neither piled onto nor waited for by other tenants' runs.

use std::{panic::AssertUnwindSafe, sync::Arc, time::Duration};

use chrono::{DateTime, SubsecRound, Utc};
use futures_util::{FutureExt, future::BoxFuture};
use tokio::{sync::Semaphore, task::JoinSet};

use super::{ActionContext, HookResult, Runtime, claims::Claims, cron::Cron};
use crate::tenancy::{Tenant, directory};

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

/// How scheduled runs are bounded.
#[derive(Debug, Clone, Copy)]
pub struct ScheduleLimits {
    /// Tenants whose runs of one job go on at once.
    pub concurrency: usize,
    /// How long one run may take before it is cancelled.
    pub timeout: Duration,
}

/// What the scheduler's runs share.
struct Scheduler {
    runtime: Runtime,
    claims: Claims,
    limits: ScheduleLimits,
}

/// Runs due jobs until the process ends. Seconds missed while busy (up to a minute) are caught up.
pub fn spawn_scheduler(runtime: Runtime, limits: ScheduleLimits) {
    if runtime.hooks().schedules().is_empty() {
        return;
    }
    let claims = Claims::new(runtime.db().clone());
    let scheduler = Arc::new(Scheduler { runtime, claims, limits });
    tokio::spawn(async move {
        let mut last = Utc::now().trunc_subsecs(0);
        loop {
            let now = Utc::now();
            let next = now.trunc_subsecs(0) + chrono::Duration::seconds(1);
            tokio::time::sleep((next - now).to_std().unwrap_or(Duration::from_millis(10))).await;
            let current = Utc::now().trunc_subsecs(0);
            let mut second = (last + chrono::Duration::seconds(1)).max(current - chrono::Duration::seconds(60));
            while second <= current {
                for schedule in scheduler.runtime.hooks().schedules().iter().filter(|s| s.cron.matches(second)) {
                    let (scheduler, schedule) = (scheduler.clone(), schedule.clone());
                    tokio::spawn(async move { scheduler.run_once(&schedule, second).await });
                }
                second += chrono::Duration::seconds(1);
            }
            last = current;
        }
    });
}

impl Scheduler {
    /// Claims the run of `schedule` at `at` and, if this instance won it, runs the job: once for
    /// the platform, or for every active tenant where it is enabled, a bounded number at once.
    async fn run_once(self: Arc<Self>, schedule: &Schedule, at: DateTime<Utc>) {
        match self.claims.claim(&schedule.name, at).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(error) => {
                tracing::error!(job = schedule.name, %error, "cannot claim a scheduled run");
                return;
            }
        }
        match schedule.scope {
            ScheduleScope::Platform => self.run_job(schedule, None).await,
            ScheduleScope::PerTenant => {
                let tenants = match directory::active(self.runtime.db()).await {
                    Ok(tenants) => tenants,
                    Err(error) => {
                        tracing::error!(job = schedule.name, %error, "cannot list the tenants of a scheduled run");
                        return;
                    }
                };
                let slots = Arc::new(Semaphore::new(self.limits.concurrency.max(1)));
                let mut runs = JoinSet::new();
                for tenant in tenants {
                    if !self.runtime.hooks().enabled(schedule.extension.as_deref(), Some(&tenant)) {
                        continue;
                    }
                    let (scheduler, schedule, slots) = (self.clone(), schedule.clone(), slots.clone());
                    runs.spawn(async move {
                        let Ok(_slot) = slots.acquire_owned().await else { return };
                        scheduler.run_job(&schedule, Some(Arc::new(tenant))).await;
                    });
                }
                while runs.join_next().await.is_some() {}
            }
        }
    }

    /// Runs the job for one scope under its lease and deadline; a run of the same job and scope
    /// still going (here or on another instance) makes this one skip.
    async fn run_job(&self, schedule: &Schedule, tenant: Option<Arc<Tenant>>) {
        let tenant_id = tenant.as_ref().map(|t| t.id);
        let scope = tenant_id.map_or_else(|| "platform".to_string(), |id| id.to_string());
        let timeout = self.limits.timeout;
        let until = Utc::now() + chrono::Duration::from_std(timeout).unwrap_or(chrono::Duration::hours(1));
        let lease = match self.claims.lease(&schedule.name, &scope, until).await {
            Ok(Some(lease)) => lease,
            Ok(None) => {
                tracing::warn!(job = schedule.name, tenant = ?tenant_id, "skipped: the previous run is still going");
                return;
            }
            Err(error) => {
                tracing::error!(job = schedule.name, tenant = ?tenant_id, %error, "cannot lease a scheduled run");
                return;
            }
        };
        let ctx = ActionContext::scheduled(self.runtime.clone(), tenant, &schedule.name);
        let run = AssertUnwindSafe((schedule.job)(ctx)).catch_unwind();
        match tokio::time::timeout(timeout, run).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(error))) => {
                tracing::error!(job = schedule.name, tenant = ?tenant_id, %error, "a scheduled job failed")
            }
            Ok(Err(_)) => tracing::error!(job = schedule.name, tenant = ?tenant_id, "a scheduled job panicked"),
            Err(_) => tracing::error!(
                job = schedule.name,
                tenant = ?tenant_id,
                seconds = timeout.as_secs(),
                "a scheduled job ran past its deadline and was stopped"
            ),
        }
        if let Err(error) = self.claims.release(&schedule.name, &scope, &lease).await {
            tracing::warn!(job = schedule.name, tenant = ?tenant_id, %error, "cannot release a lease; it expires");
        }
    }
}
