//! Change notices (DESIGN.md principle 5): a change announced inside a transaction reaches this
//! instance's [`ChangeFeed`] when the transaction commits, and every other instance's through
//! PostgreSQL `LISTEN/NOTIFY`, so N instances drop a changed tenant or user from their caches at once.

use std::{
    sync::{Arc, RwLock},
    time::Duration,
};

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};
use uuid::Uuid;

const CHANNEL: &str = "tb_changes";

/// Something cached that changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Tenant(Uuid),
    Member {
        tenant: Uuid,
        user: Uuid,
    },
    /// A tenant's collection definitions.
    Collections(Uuid),
}

impl Change {
    fn payload(self) -> String {
        match self {
            Change::Tenant(id) => format!("tenant:{id}"),
            Change::Member { tenant, user } => format!("member:{tenant}:{user}"),
            Change::Collections(id) => format!("collections:{id}"),
        }
    }

    fn parse(payload: &str) -> Option<Change> {
        let mut parts = payload.split(':');
        let change = match (parts.next()?, parts.next()?, parts.next()) {
            ("tenant", id, None) => Change::Tenant(id.parse().ok()?),
            ("collections", id, None) => Change::Collections(id.parse().ok()?),
            ("member", tenant, Some(user)) => Change::Member { tenant: tenant.parse().ok()?, user: user.parse().ok()? },
            _ => return None,
        };
        parts.next().is_none().then_some(change)
    }
}

/// What this instance learns about changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// One thing changed.
    Changed(Change),
    /// Anything may have changed: notices were missed while the listener was away, one could not
    /// be read, or one transaction changed several tenants at once.
    Reset,
}

type Subscriber = Arc<dyn Fn(Notice) + Send + Sync>;

/// The reactions of this instance to changes. The database layer only delivers notices: whoever
/// caches something registers here at startup (the composition root, `lib.rs`), so this module
/// knows no cache and no service.
#[derive(Clone, Default)]
pub struct ChangeFeed {
    subscribers: Arc<RwLock<Vec<Subscriber>>>,
}

impl ChangeFeed {
    /// Calls `reaction` with every notice from now on.
    pub fn subscribe(&self, reaction: impl Fn(Notice) + Send + Sync + 'static) {
        if let Ok(mut subscribers) = self.subscribers.write() {
            subscribers.push(Arc::new(reaction));
        }
    }

    /// Tells every subscriber of this instance.
    pub fn publish(&self, notice: Notice) {
        let subscribers = match self.subscribers.read() {
            Ok(subscribers) => subscribers.clone(),
            Err(_) => return,
        };
        for subscriber in subscribers {
            subscriber(notice);
        }
    }
}

/// Sends `change` to the other instances; inside a transaction PostgreSQL sends it on commit.
/// (SQLite has no other instances.)
pub(crate) async fn announce(conn: &impl ConnectionTrait, change: Change) -> Result<(), DbErr> {
    if conn.get_database_backend() == DbBackend::Postgres {
        conn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [CHANNEL.into(), change.payload().into()],
        ))
        .await?;
    }
    Ok(())
}

/// Listens for other instances' changes until the process ends, reconnecting after failures. A
/// notice may be missed while disconnected, so every reconnect publishes [`Notice::Reset`].
pub fn spawn_listener(conn: &DatabaseConnection, feed: ChangeFeed) {
    if conn.get_database_backend() != DbBackend::Postgres {
        return;
    }
    let pool = conn.get_postgres_connection_pool().clone();
    tokio::spawn(async move {
        let mut first = true;
        loop {
            match sea_orm::sqlx::postgres::PgListener::connect_with(&pool).await {
                Ok(mut listener) => {
                    if let Err(error) = listener.listen(CHANNEL).await {
                        tracing::warn!(%error, "cannot listen for changes");
                    } else {
                        if !first {
                            feed.publish(Notice::Reset);
                        }
                        first = false;
                        loop {
                            match listener.recv().await {
                                Ok(notice) => feed.publish(match Change::parse(notice.payload()) {
                                    Some(change) => Notice::Changed(change),
                                    None => Notice::Reset,
                                }),
                                Err(error) => {
                                    tracing::warn!(%error, "change listener lost its connection");
                                    break;
                                }
                            }
                        }
                    }
                }
                Err(error) => tracing::warn!(%error, "cannot connect the change listener"),
            }
            if pool.is_closed() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip() {
        let (tenant, user) = (Uuid::now_v7(), Uuid::now_v7());
        for change in [Change::Tenant(tenant), Change::Member { tenant, user }, Change::Collections(tenant)] {
            assert_eq!(Change::parse(&change.payload()), Some(change));
        }
        for bad in ["", "tenant", "tenant:x", "member:a:b", "tenant:1:2:3", "other:1"] {
            assert_eq!(Change::parse(bad), None, "{bad}");
        }
    }
}
