//! What rate limits and usage accounting keep in the database:
//!
//! - `tenants.rate_limits`: a platform admin's per-tenant override of the plan's request rates.
//! - `instances`: each running server's heartbeat, so every instance knows how many share each
//!   plan's quota (a platform table, invisible inside a tenant's unit of work).
//! - `tenant_usage_hourly`: requests, rate-limited requests and presigned bytes per tenant and
//!   hour, summed by every instance's periodic flush (tenant-owned, with the tenant policy).

use sea_orm_migration::prelude::*;

use crate::rls::{NO_TENANT, enable_platform_rls, enable_tenant_rls};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    RateLimits,
}

#[derive(DeriveIden)]
enum Instances {
    Table,
    Id,
    StartedAt,
    SeenAt,
}

#[derive(DeriveIden)]
enum TenantUsageHourly {
    Table,
    TenantId,
    Hour,
    Requests,
    RateLimited,
    UploadBytes,
    DownloadBytes,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Tenants::Table)
                    .add_column(ColumnDef::new(Tenants::RateLimits).json().not_null().default("{}"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Instances::Table)
                    .col(ColumnDef::new(Instances::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Instances::StartedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Instances::SeenAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        enable_platform_rls(manager, "instances", NO_TENANT).await?;
        let counter = |column: TenantUsageHourly| ColumnDef::new(column).big_integer().not_null().default(0).to_owned();
        manager
            .create_table(
                Table::create()
                    .table(TenantUsageHourly::Table)
                    .col(ColumnDef::new(TenantUsageHourly::TenantId).uuid().not_null())
                    .col(ColumnDef::new(TenantUsageHourly::Hour).timestamp_with_time_zone().not_null())
                    .col(counter(TenantUsageHourly::Requests))
                    .col(counter(TenantUsageHourly::RateLimited))
                    .col(counter(TenantUsageHourly::UploadBytes))
                    .col(counter(TenantUsageHourly::DownloadBytes))
                    .primary_key(Index::create().col(TenantUsageHourly::TenantId).col(TenantUsageHourly::Hour))
                    .foreign_key(
                        ForeignKey::create()
                            .from(TenantUsageHourly::Table, TenantUsageHourly::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        enable_tenant_rls(manager, "tenant_usage_hourly").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(TenantUsageHourly::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Instances::Table).to_owned()).await?;
        manager.alter_table(Table::alter().table(Tenants::Table).drop_column(Tenants::RateLimits).to_owned()).await
    }
}
