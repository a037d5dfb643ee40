//! Cross-instance change notices over PostgreSQL `LISTEN/NOTIFY` (DESIGN.md principle 5): when
//! one instance changes a tenant or a user, every instance drops it from its caches at once.

use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};
use uuid::Uuid;

use crate::{auth::members::MemberCache, services::collections::CollectionCache, tenancy::TenantCache};

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

/// The caches a change notice applies to.
#[derive(Clone)]
pub struct Caches {
    pub tenants: TenantCache,
    pub members: MemberCache,
    pub collections: CollectionCache,
}

impl Caches {
    /// Drops what `change` made stale on this instance.
    pub fn apply(&self, change: Change) {
        match change {
            Change::Tenant(id) => {
                self.tenants.invalidate(id);
                self.members.invalidate_tenant(id);
                self.collections.invalidate(id);
            }
            Change::Member { tenant, user } => self.members.invalidate_member(tenant, user),
            Change::Collections(id) => self.collections.invalidate(id),
        }
    }

    fn clear(&self) {
        self.tenants.clear();
        self.members.clear();
        self.collections.clear();
    }
}

/// Announces a change to other instances. Inside a transaction the notice is sent on commit;
/// the caller also applies it to its own caches (SQLite has no other instances).
pub async fn announce(conn: &impl ConnectionTrait, change: Change) -> Result<(), DbErr> {
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

/// Listens for changes until the process ends, reconnecting after failures. A notice may be
/// missed while disconnected, so every reconnect empties the caches.
pub fn spawn_listener(conn: &DatabaseConnection, caches: Caches) {
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
                            caches.clear();
                        }
                        first = false;
                        loop {
                            match listener.recv().await {
                                Ok(notice) => match Change::parse(notice.payload()) {
                                    Some(change) => caches.apply(change),
                                    None => caches.clear(),
                                },
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
