//! Hearing other processes' changes: a PostgreSQL `LISTEN` connection, or, on the embedded
//! database, a reader of its change log; either publishes to this instance's [`ChangeFeed`].

use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

use super::{
    fence::ChangeFence,
    notify::{CHANNEL, Change, ChangeFeed, Notice},
};

/// How often the change log of the embedded database is read.
const LOG_POLL: Duration = Duration::from_millis(500);
/// How long rows stay in the change log (far longer than any reader takes to see them).
const LOG_KEEP_SECONDS: i64 = 600;

/// The first wait before reconnecting a lost listener, doubled after each failure up to
/// [`MOST_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MOST_BACKOFF: Duration = Duration::from_secs(5);

/// Listens for other instances' changes until the process ends. Until the listener is
/// connected, and whenever it loses its connection, this instance hears nothing from the others:
/// it publishes `Listening(false)` so caches are bypassed, reconnects with backoff, and publishes
/// `Listening(true)` once it listens again (caches then start empty, as anything may have
/// changed meanwhile). The returned fence lets requests wait until the listener has heard
/// everything committed before them.
pub fn spawn_listener(conn: &DatabaseConnection, feed: ChangeFeed) -> ChangeFence {
    if conn.get_database_backend() != DbBackend::Postgres {
        spawn_log_reader(conn.clone(), feed);
        return ChangeFence::default();
    }
    let pool = conn.get_postgres_connection_pool().clone();
    let fence = ChangeFence::postgres(pool.clone(), feed.clone());
    let heard = fence.clone();
    feed.publish(Notice::Listening(false));
    tokio::spawn(async move {
        let mut backoff = FIRST_BACKOFF;
        loop {
            match listen(&pool, &heard).await {
                Ok(mut listener) => {
                    feed.publish(Notice::Listening(true));
                    heard.listening(true);
                    backoff = FIRST_BACKOFF;
                    // sqlx's `recv` would reconnect silently and hide the notices lost meanwhile:
                    // `try_recv` says `None` when the connection is gone.
                    loop {
                        let received = tokio::select! {
                            received = listener.try_recv() => received,
                            () = heard.stalled() => break,
                        };
                        match received {
                            Ok(Some(notice)) if Some(notice.channel()) == heard.channel() => {
                                heard.heard_marker(notice.payload())
                            }
                            Ok(Some(notice)) => {
                                feed.publish(Change::parse(notice.payload()).map_or(Notice::Reset, Notice::Changed))
                            }
                            Ok(None) => {
                                tracing::warn!(
                                    "change listener lost its connection; caches are bypassed until it is back"
                                );
                                break;
                            }
                            Err(error) => {
                                tracing::warn!(%error, "change listener failed; caches are bypassed until it is back");
                                break;
                            }
                        }
                    }
                    feed.publish(Notice::Listening(false));
                    heard.listening(false);
                }
                Err(error) => tracing::warn!(%error, "cannot connect the change listener"),
            }
            if pool.is_closed() {
                return;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MOST_BACKOFF);
        }
    });
    fence
}

/// A listener on the change channel (and this instance's marker channel) that never reconnects
/// behind our back.
async fn listen(
    pool: &sea_orm::sqlx::PgPool,
    fence: &ChangeFence,
) -> Result<sea_orm::sqlx::postgres::PgListener, sea_orm::sqlx::Error> {
    let mut listener = sea_orm::sqlx::postgres::PgListener::connect_with(pool).await?;
    listener.eager_reconnect(false);
    listener.listen(CHANNEL).await?;
    if let Some(channel) = fence.channel() {
        listener.listen(channel).await?;
    }
    Ok(listener)
}

/// Reads the embedded database's change log every half second, from its end at startup, and
/// prunes old rows. An unreadable log (e.g. a database being migrated) is retried.
fn spawn_log_reader(conn: DatabaseConnection, feed: ChangeFeed) {
    tokio::spawn(async move {
        let backend = conn.get_database_backend();
        let mut last: Option<i64> = None;
        let mut polls: u64 = 0;
        loop {
            // The log's end when the reader starts: what came before it is in no cache yet.
            let Some(seen) = last else {
                let start = conn
                    .query_one_raw(Statement::from_string(backend, "SELECT coalesce(max(seq), 0) FROM change_log"))
                    .await;
                last = start.ok().flatten().and_then(|row| row.try_get_by_index::<i64>(0).ok());
                if last.is_none() {
                    tokio::time::sleep(LOG_POLL).await;
                }
                continue;
            };
            tokio::time::sleep(LOG_POLL).await;
            if conn.get_sqlite_connection_pool().is_closed() {
                return;
            }
            let rows = conn
                .query_all_raw(Statement::from_sql_and_values(
                    backend,
                    "SELECT seq, payload FROM change_log WHERE seq > ? ORDER BY seq",
                    [seen.into()],
                ))
                .await;
            match rows {
                Ok(rows) => {
                    for row in rows {
                        let (Ok(seq), Ok(payload)) =
                            (row.try_get_by_index::<i64>(0), row.try_get_by_index::<String>(1))
                        else {
                            continue;
                        };
                        last = Some(seq);
                        feed.publish(Change::parse(&payload).map_or(Notice::Reset, Notice::Changed));
                    }
                }
                Err(error) => tracing::warn!(%error, "cannot read the change log"),
            }
            polls += 1;
            if polls.is_multiple_of(120) {
                let cutoff = chrono::Utc::now().timestamp() - LOG_KEEP_SECONDS;
                let prune = Statement::from_sql_and_values(
                    backend,
                    "DELETE FROM change_log WHERE created_at < ?",
                    [cutoff.into()],
                );
                if let Err(error) = conn.execute_raw(prune).await {
                    tracing::warn!(%error, "cannot prune the change log");
                }
            }
        }
    });
}
