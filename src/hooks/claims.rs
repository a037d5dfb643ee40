//! What makes a scheduled job run once, and never twice at a time, across every instance: a claim
//! per (job, second) in `schedule_runs`, which exactly one instance wins (the primary key
//! decides), and a lease per (job, scope) in `schedule_leases`, held until the run ends or its
//! deadline passes. Both work on PostgreSQL and SQLite alike.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};

use crate::{db::PlatformDb, schema::format_datetime};

/// How long claims are kept: far longer than instances could still race for a run.
const KEEP_CLAIMS: chrono::Duration = chrono::Duration::hours(1);
/// How often each job's old claims are dropped.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// The claims and leases of this instance's scheduler.
pub(super) struct Claims {
    db: PlatformDb,
    /// When each job's old claims were last dropped here.
    pruned: Mutex<HashMap<String, Instant>>,
}

/// `?` placeholders as the backend writes them.
fn statement(backend: DbBackend, sql: &str, values: Vec<Value>) -> Statement {
    let sql = match backend {
        DbBackend::Postgres => {
            let mut n = 0;
            sql.chars()
                .map(|c| {
                    if c == '?' {
                        n += 1;
                        format!("${n}")
                    } else {
                        c.to_string()
                    }
                })
                .collect()
        }
        _ => sql.to_string(),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

impl Claims {
    pub(super) fn new(db: PlatformDb) -> Self {
        Claims { db, pruned: Mutex::new(HashMap::new()) }
    }

    async fn execute(&self, sql: &str, values: Vec<Value>) -> Result<u64, DbErr> {
        let conn = self.db.platform_conn();
        Ok(conn.execute_raw(statement(conn.get_database_backend(), sql, values)).await?.rows_affected())
    }

    /// Records that `job` runs at `at`; false when another instance already did. The winner
    /// also drops the job's old claims, at most once a minute, whatever its cron expression.
    pub(super) async fn claim(&self, job: &str, at: DateTime<Utc>) -> Result<bool, DbErr> {
        let sql = "INSERT INTO schedule_runs (job, run_at) VALUES (?, ?) ON CONFLICT DO NOTHING";
        let won = self.execute(sql, vec![job.into(), format_datetime(at).into()]).await? == 1;
        if won && self.due_for_pruning(job) {
            let cutoff = format_datetime(at - KEEP_CLAIMS);
            self.execute("DELETE FROM schedule_runs WHERE job = ? AND run_at < ?", vec![job.into(), cutoff.into()])
                .await?;
        }
        Ok(won)
    }

    fn due_for_pruning(&self, job: &str) -> bool {
        let Ok(mut pruned) = self.pruned.lock() else { return true };
        let due = pruned.get(job).is_none_or(|at| at.elapsed() >= PRUNE_EVERY);
        if due {
            pruned.insert(job.to_string(), Instant::now());
        }
        due
    }

    /// Takes the lease of `job` for `scope` until `until`, unless a run holds an unexpired one;
    /// the lease's text, to release it with.
    pub(super) async fn lease(&self, job: &str, scope: &str, until: DateTime<Utc>) -> Result<Option<String>, DbErr> {
        let (now, until) = (format_datetime(Utc::now()), format_datetime(until));
        let sql = "INSERT INTO schedule_leases (job, scope, until) VALUES (?, ?, ?) \
                   ON CONFLICT (job, scope) DO UPDATE SET until = excluded.until WHERE schedule_leases.until < ?";
        let taken = self.execute(sql, vec![job.into(), scope.into(), until.clone().into(), now.into()]).await? == 1;
        Ok(taken.then_some(until))
    }

    /// Gives a lease back (only the one this run took).
    pub(super) async fn release(&self, job: &str, scope: &str, until: &str) -> Result<(), DbErr> {
        let sql = "DELETE FROM schedule_leases WHERE job = ? AND scope = ? AND until = ?";
        self.execute(sql, vec![job.into(), scope.into(), until.into()]).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_follow_the_backend() {
        let pg = statement(DbBackend::Postgres, "a = ? AND b = ?", vec![1.into(), 2.into()]);
        assert_eq!(pg.sql, "a = $1 AND b = $2");
        let lite = statement(DbBackend::Sqlite, "a = ? AND b = ?", vec![1.into(), 2.into()]);
        assert_eq!(lite.sql, "a = ? AND b = ?");
    }
}
