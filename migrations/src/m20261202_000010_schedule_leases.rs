//! Leases of scheduled runs: while a job runs for a tenant (or the platform), one row here says
//! so until its deadline, and no instance starts that job for that scope again before it ends or
//! the lease expires. A platform table, visible only to platform code.

use sea_orm_migration::prelude::*;

use crate::rls::{NO_TENANT, enable_platform_rls};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ScheduleLeases {
    Table,
    Job,
    Scope,
    Until,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ScheduleLeases::Table)
                    .col(ColumnDef::new(ScheduleLeases::Job).string_len(200).not_null())
                    .col(ColumnDef::new(ScheduleLeases::Scope).string_len(40).not_null())
                    .col(ColumnDef::new(ScheduleLeases::Until).string_len(40).not_null())
                    .primary_key(Index::create().col(ScheduleLeases::Job).col(ScheduleLeases::Scope))
                    .to_owned(),
            )
            .await?;
        enable_platform_rls(manager, "schedule_leases", NO_TENANT).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ScheduleLeases::Table).to_owned()).await
    }
}
