//! The change log of the embedded database: on SQLite, which has no `LISTEN/NOTIFY`, a change
//! announced by one process (the server, or a one-off command such as `tenants apply`) is a row
//! here, and a running server reads new rows within a second. PostgreSQL uses `NOTIFY` instead
//! and has no such table.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ChangeLog {
    Table,
    Seq,
    Payload,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Sqlite {
            return Ok(());
        }
        manager
            .create_table(
                Table::create()
                    .table(ChangeLog::Table)
                    .col(ColumnDef::new(ChangeLog::Seq).integer().not_null().primary_key().auto_increment())
                    .col(ColumnDef::new(ChangeLog::Payload).string_len(200).not_null())
                    .col(ColumnDef::new(ChangeLog::CreatedAt).big_integer().not_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Sqlite {
            return Ok(());
        }
        manager.drop_table(Table::drop().table(ChangeLog::Table).to_owned()).await
    }
}
