//! Each running server's heartbeat in the `instances` table, so that every instance knows how
//! many share the deployment's work (each enforces `quota / live` of every rate limit). The
//! database's clock decides who is live, so the instances' own clocks may disagree.

use std::time::Duration;

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};
use uuid::Uuid;

use super::PlatformDb;

/// How often an instance announces itself.
pub const HEARTBEAT: Duration = Duration::from_secs(2);
/// How long a starting instance that finds others waits before it serves: one heartbeat of
/// theirs, and a margin, so every other instance counts it.
pub const JOIN_SETTLE: Duration = Duration::from_millis(2_500);
/// An instance not heard from for this long is gone (three missed heartbeats).
const LIVE_SECONDS: i64 = 6;
/// Rows of instances gone this long are deleted.
const FORGET_SECONDS: i64 = 60;

impl PlatformDb {
    /// Records that instance `id` is alive and answers how many instances are, itself included.
    /// One statement: the upsert, the pruning of long-gone rows, and the count of the others.
    /// On the embedded database there is only ever this process.
    pub async fn heartbeat(&self, id: Uuid) -> Result<u32, DbErr> {
        if self.backend() != DbBackend::Postgres {
            return Ok(1);
        }
        let sql = format!(
            "WITH beat AS (
                 INSERT INTO instances (id, started_at, seen_at) VALUES ($1, now(), now())
                 ON CONFLICT (id) DO UPDATE SET seen_at = now() RETURNING id
             ), forgotten AS (
                 DELETE FROM instances WHERE seen_at < now() - interval '{FORGET_SECONDS} seconds' RETURNING id
             )
             SELECT count(*) + 1 FROM instances
             WHERE seen_at > now() - interval '{LIVE_SECONDS} seconds' AND id <> $1"
        );
        let statement = Statement::from_sql_and_values(DbBackend::Postgres, sql, [id.into()]);
        let row = self.platform_conn().query_one_raw(statement).await?;
        let live = row.map(|row| row.try_get_by_index::<i64>(0)).transpose()?.unwrap_or(1);
        Ok(u32::try_from(live).unwrap_or(u32::MAX).max(1))
    }

    /// Removes instance `id` at once (a graceful stop), so the others take over its share on
    /// their next heartbeat instead of after it expires.
    pub async fn leave(&self, id: Uuid) -> Result<(), DbErr> {
        if self.backend() != DbBackend::Postgres {
            return Ok(());
        }
        let statement =
            Statement::from_sql_and_values(DbBackend::Postgres, "DELETE FROM instances WHERE id = $1", [id.into()]);
        self.platform_conn().execute_raw(statement).await?;
        Ok(())
    }
}
