//! Collections (and through them items) belong to a tenant row: a tenant cannot be removed
//! while any of its collections remains, so a purge that missed a row fails and is retried
//! instead of leaving it behind. (PostgreSQL; SQLite cannot add a constraint to a table, and
//! its single writer orders deletions against writes anyway.)

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
                "ALTER TABLE collections ADD CONSTRAINT collections_tenant_fkey \
                 FOREIGN KEY (tenant_id) REFERENCES tenants (id)",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE collections DROP CONSTRAINT collections_tenant_fkey")
            .await?;
        Ok(())
    }
}
