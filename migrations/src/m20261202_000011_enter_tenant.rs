//! `tb_enter_tenant`: how a tenant transaction that will write starts, in one round trip and in
//! a guaranteed order: set `app.tenant_id`, take the tenant's lifecycle lock (shared by writers,
//! exclusive for a change of the tenant itself or its deletion), then read the tenant's status
//! with a snapshot taken after the lock, so a write waiting behind a deletion sees it. A plain
//! statement could not: its snapshot is taken before the lock is granted. (PostgreSQL only;
//! SQLite's single writer orders a deletion against writes.)

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE FUNCTION tb_enter_tenant(tenant text, lock_key bigint, exclusive boolean) RETURNS text
                 LANGUAGE plpgsql VOLATILE AS $$
                 DECLARE
                     found text;
                 BEGIN
                     PERFORM set_config('app.tenant_id', tenant, true);
                     IF exclusive THEN
                         PERFORM pg_advisory_xact_lock(lock_key);
                     ELSE
                         PERFORM pg_advisory_xact_lock_shared(lock_key);
                     END IF;
                     SELECT status INTO found FROM tenants WHERE id = tenant::uuid;
                     RETURN found;
                 END
                 $$;",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        manager.get_connection().execute_unprepared("DROP FUNCTION tb_enter_tenant(text, bigint, boolean)").await?;
        Ok(())
    }
}
