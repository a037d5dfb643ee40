//! Scheduled hooks: cron expressions, and the loop that runs each due job once across every
//! instance. An instance claims a run by inserting `(job, second)` into `schedule_runs`; the
//! primary key lets exactly one instance win, on PostgreSQL and SQLite alike.

use std::{panic::AssertUnwindSafe, sync::Arc, time::Duration};

use chrono::{DateTime, Datelike, SubsecRound, Timelike, Utc};
use futures_util::FutureExt;
use sea_orm::{ConnectionTrait, DbErr, Statement};

use super::{ActionContext, Env, Schedule};
use crate::services::tenants;

/// Whether a job runs once per active tenant (each with that tenant's context) or once for the
/// platform (with the explicitly named platform context).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleScope {
    PerTenant,
    Platform,
}

/// A cron expression: `sec min hour day-of-month month day-of-week` (or the usual five fields,
/// then at second 0). Fields take `*`, `5`, `1-5`, `*/15`, `10-40/10` and lists `1,2,3`;
/// weekdays run 0-6 from Sunday (7 is Sunday too). Times are UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cron {
    fields: [u64; 6],
}

const RANGES: [(u32, u32); 6] = [(0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 7)];

impl std::str::FromStr for Cron {
    type Err = String;

    fn from_str(text: &str) -> Result<Cron, String> {
        let parts: Vec<&str> = text.split_whitespace().collect();
        let parts: Vec<&str> = match parts.len() {
            5 => std::iter::once("0").chain(parts).collect(),
            6 => parts,
            n => return Err(format!("a cron expression has 5 or 6 fields, not {n}: `{text}`")),
        };
        let mut fields = [0u64; 6];
        for (i, part) in parts.iter().enumerate() {
            fields[i] = parse_field(part, RANGES[i]).ok_or_else(|| format!("bad cron field `{part}` in `{text}`"))?;
        }
        // Sunday is 0 or 7.
        if fields[5] & (1 << 7) != 0 {
            fields[5] |= 1;
        }
        Ok(Cron { fields })
    }
}

fn parse_field(part: &str, (min, max): (u32, u32)) -> Option<u64> {
    let mut mask = 0u64;
    for item in part.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (range, step.parse::<u32>().ok().filter(|s| *s > 0)?),
            None => (item, 1),
        };
        let (low, high) = match range {
            "*" => (min, max),
            _ => match range.split_once('-') {
                Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
                None => {
                    let n = range.parse().ok()?;
                    (n, if item.contains('/') { max } else { n })
                }
            },
        };
        if low < min || high > max || low > high {
            return None;
        }
        for n in (low..=high).step_by(step as usize) {
            mask |= 1 << n;
        }
    }
    Some(mask)
}

impl Cron {
    /// Whether the job is due at this second.
    pub fn matches(&self, at: DateTime<Utc>) -> bool {
        let values = [at.second(), at.minute(), at.hour(), at.day(), at.month(), at.weekday().num_days_from_sunday()];
        values.iter().zip(self.fields).all(|(value, mask)| mask & (1 << value) != 0)
    }
}

/// Runs due jobs until the process ends. Seconds missed while busy (up to a minute) are caught up.
pub fn spawn_scheduler(env: Env) {
    if env.hooks.schedules().is_empty() {
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
                for schedule in env.hooks.schedules().iter().filter(|s| s.cron.matches(second)) {
                    let (env, schedule) = (env.clone(), schedule.clone());
                    tokio::spawn(async move { run_once(&env, &schedule, second).await });
                }
                second += chrono::Duration::seconds(1);
            }
            last = current;
        }
    });
}

/// Claims the run of `schedule` at `at` and, if this instance won it, runs the job.
async fn run_once(env: &Env, schedule: &Schedule, at: DateTime<Utc>) {
    match claim(env, &schedule.name, at).await {
        Ok(true) => {}
        Ok(false) => return,
        Err(error) => {
            tracing::error!(job = schedule.name, %error, "cannot claim a scheduled run");
            return;
        }
    }
    match schedule.scope {
        ScheduleScope::Platform => run_job(env, schedule, None).await,
        ScheduleScope::PerTenant => {
            let tenants = match tenants::active(&env.db).await {
                Ok(tenants) => tenants,
                Err(error) => {
                    tracing::error!(job = schedule.name, %error, "cannot list the tenants of a scheduled run");
                    return;
                }
            };
            for tenant in tenants {
                if env.hooks.enabled(schedule.extension.as_deref(), Some(&tenant)) {
                    run_job(env, schedule, Some(Arc::new(tenant))).await;
                }
            }
        }
    }
}

async fn run_job(env: &Env, schedule: &Schedule, tenant: Option<Arc<crate::tenancy::Tenant>>) {
    let tenant_id = tenant.as_ref().map(|t| t.id);
    let ctx = ActionContext::scheduled(env.clone(), tenant, &schedule.name);
    match AssertUnwindSafe((schedule.job)(ctx)).catch_unwind().await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::error!(job = schedule.name, tenant = ?tenant_id, %error, "a scheduled job failed"),
        Err(_) => tracing::error!(job = schedule.name, tenant = ?tenant_id, "a scheduled job panicked"),
    }
}

/// Records that `job` runs at `at`; false when another instance already did.
async fn claim(env: &Env, job: &str, at: DateTime<Utc>) -> Result<bool, DbErr> {
    let conn = env.db.platform_conn();
    let backend = conn.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => {
            "INSERT INTO schedule_runs (job, run_at) VALUES ($1, $2) ON CONFLICT DO NOTHING"
        }
        _ => "INSERT INTO schedule_runs (job, run_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
    };
    let text = crate::services::fields::format_datetime(at);
    let result = conn.execute_raw(Statement::from_sql_and_values(backend, sql, [job.into(), text.into()])).await?;
    let won = result.rows_affected() == 1;
    // Claims are only needed while instances could still race for a run: the winner of each
    // whole minute drops the job's claims older than an hour.
    if won && at.second() == 0 {
        let cutoff = crate::services::fields::format_datetime(at - chrono::Duration::hours(1));
        let sql = match backend {
            sea_orm::DbBackend::Postgres => "DELETE FROM schedule_runs WHERE job = $1 AND run_at < $2",
            _ => "DELETE FROM schedule_runs WHERE job = ? AND run_at < ?",
        };
        conn.execute_raw(Statement::from_sql_and_values(backend, sql, [job.into(), cutoff.into()])).await?;
    }
    Ok(won)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        // 2026-11-22 is a Sunday.
        Utc.with_ymd_and_hms(2026, 11, 22, h, m, s).unwrap()
    }

    #[test]
    fn cron_fields_match_as_documented() {
        let every_second: Cron = "* * * * * *".parse().unwrap();
        assert!(every_second.matches(at(3, 4, 5)));
        let quarter: Cron = "*/15 * * * *".parse().unwrap();
        assert!(quarter.matches(at(10, 30, 0)) && !quarter.matches(at(10, 31, 0)) && !quarter.matches(at(10, 30, 1)));
        let sundays: Cron = "0 0 9 * * 7".parse().unwrap();
        assert!(sundays.matches(at(9, 0, 0)));
        let office: Cron = "0 0 9-17/4 * * 1-5".parse().unwrap();
        assert!(!office.matches(at(9, 0, 0)), "Sunday is not 1-5");
        let list: Cron = "5,10 * * * * *".parse().unwrap();
        assert!(list.matches(at(1, 1, 10)) && !list.matches(at(1, 1, 6)));
        for bad in ["", "* * * *", "61 * * * * *", "*/0 * * * *", "a * * * *", "5-1 * * * *"] {
            assert!(bad.parse::<Cron>().is_err(), "{bad}");
        }
    }
}
