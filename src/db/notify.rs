//! Cross-instance change notices over PostgreSQL `LISTEN/NOTIFY` (DESIGN.md principle 5): when
//! one instance changes a tenant, every instance drops it from its cache at once.

use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};
use uuid::Uuid;

use crate::tenancy::TenantCache;

const TENANT_CHANNEL: &str = "tb_tenant_changed";

/// Announces that a tenant changed. Inside a transaction the notice is sent on commit.
pub async fn tenant_changed(conn: &impl ConnectionTrait, tenant_id: Uuid) -> Result<(), DbErr> {
    if conn.get_database_backend() == DbBackend::Postgres {
        conn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [TENANT_CHANNEL.into(), tenant_id.to_string().into()],
        ))
        .await?;
    }
    Ok(())
}

/// Listens for tenant changes until the process ends, reconnecting after failures. A notice
/// may be missed while disconnected, so every reconnect empties the cache.
pub fn spawn_listener(conn: &DatabaseConnection, cache: TenantCache) {
    if conn.get_database_backend() != DbBackend::Postgres {
        return;
    }
    let pool = conn.get_postgres_connection_pool().clone();
    tokio::spawn(async move {
        let mut first = true;
        loop {
            match sea_orm::sqlx::postgres::PgListener::connect_with(&pool).await {
                Ok(mut listener) => {
                    if let Err(error) = listener.listen(TENANT_CHANNEL).await {
                        tracing::warn!(%error, "cannot listen for tenant changes");
                    } else {
                        if !first {
                            cache.clear();
                        }
                        first = false;
                        loop {
                            match listener.recv().await {
                                Ok(notice) => match notice.payload().parse::<Uuid>() {
                                    Ok(id) => cache.invalidate(id),
                                    Err(_) => cache.clear(),
                                },
                                Err(error) => {
                                    tracing::warn!(%error, "tenant change listener lost its connection");
                                    break;
                                }
                            }
                        }
                    }
                }
                Err(error) => tracing::warn!(%error, "cannot connect the tenant change listener"),
            }
            if pool.is_closed() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}
