//! Row-level security for tenant-owned tables (PostgreSQL only; SECURITY.md items 4-8).
//!
//! The policy compares `tenant_id` with the transaction-local `app.tenant_id` setting. `NULLIF`
//! matters: once a `SET LOCAL` transaction has committed, the setting reads `''` on that pooled
//! connection, and casting `''` to uuid would fail instead of matching nothing.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

/// The expression every tenant policy uses, in both `USING` and `WITH CHECK`.
pub const TENANT_MATCH: &str = "tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid";

/// Enables and forces row-level security on `table` with the standard tenant policy.
/// A no-op on SQLite, which has no row-level security.
pub async fn enable_tenant_rls(manager: &SchemaManager<'_>, table: &str) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let db = manager.get_connection();
    db.execute_unprepared(&format!(
        "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
         ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
         CREATE POLICY tenant_isolation ON {table} USING ({TENANT_MATCH}) WITH CHECK ({TENANT_MATCH});"
    ))
    .await?;
    Ok(())
}

/// True when no tenant is set: platform code (resolution, the scheduler, tenant management,
/// migrations) runs so, never a tenant's unit of work.
pub const NO_TENANT: &str = "NULLIF(current_setting('app.tenant_id', true), '') IS NULL";

/// The platform's own scope: no tenant, or the nil id that platform admins' sessions live under.
pub const PLATFORM_SCOPE: &str = "(NULLIF(current_setting('app.tenant_id', true), '') IS NULL \
     OR current_setting('app.tenant_id', true) = '00000000-0000-0000-0000-000000000000')";

/// Enables and forces row-level security on a platform table, visible and writable only where
/// `visible` holds (`NO_TENANT`, `PLATFORM_SCOPE`, or a condition of its own), so that a
/// tenant's unit of work sees nothing of it beyond what `visible` grants.
pub async fn enable_platform_rls(manager: &SchemaManager<'_>, table: &str, visible: &str) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    manager
        .get_connection()
        .execute_unprepared(&format!(
            "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
             ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
             CREATE POLICY platform_scope ON {table} USING ({visible}) WITH CHECK ({visible});"
        ))
        .await?;
    Ok(())
}
