//! Claims of scheduled hook runs: one row per job and second, so that of several instances
//! exactly one runs each due job (the primary key decides). A platform table.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ScheduleRuns {
    Table,
    Job,
    RunAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ScheduleRuns::Table)
                    .col(ColumnDef::new(ScheduleRuns::Job).string_len(200).not_null())
                    .col(ColumnDef::new(ScheduleRuns::RunAt).string_len(40).not_null())
                    .primary_key(Index::create().col(ScheduleRuns::Job).col(ScheduleRuns::RunAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ScheduleRuns::Table).to_owned()).await
    }
}
