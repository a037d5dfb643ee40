//! Checkpoints of the embedded database, off the write path.
//!
//! In WAL mode SQLite copies the log back into the database file when a commit finds it over
//! `wal_autocheckpoint` pages, and that commit waits for the copy (and its fsync). Under a
//! stream of writes that is a stall every few hundred commits, which is most of a create's p99.
//! Here a background task checkpoints every quarter second instead, `PASSIVE`ly (it neither
//! waits for nor blocks readers and the writer); the writer's own automatic checkpoint stays as
//! a backstop, at a size the background task keeps the log well under.

use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection};

/// How often the log is copied back.
const EVERY: Duration = Duration::from_millis(250);

/// The writer checkpoints by itself only past this many pages (40 MiB of 4 KiB pages).
pub(super) const WRITER_CHECKPOINT_PAGES: u32 = 10_000;

/// Starts the background checkpoints of a SQLite file database (`readers` is its pool of
/// readers; a checkpoint needs no write lock).
pub fn spawn_checkpointer(readers: &DatabaseConnection) {
    let readers = readers.clone();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(error) = readers.execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)").await {
                tracing::warn!(%error, "background checkpoint failed; the writer checkpoints by itself");
            }
        }
    });
}
