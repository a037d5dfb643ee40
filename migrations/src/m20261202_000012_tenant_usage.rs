//! What each tenant stores: bytes and files, pending uploads included, kept by the file service
//! as it reserves and releases them, so that a quota check is one conditional update that
//! parallel uploads cannot overshoot. Tenant-owned, with the tenant policy.

use sea_orm_migration::prelude::*;

use crate::rls::enable_tenant_rls;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum TenantUsage {
    Table,
    TenantId,
    StorageBytes,
    Files,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TenantUsage::Table)
                    .col(ColumnDef::new(TenantUsage::TenantId).uuid().not_null().primary_key())
                    .col(ColumnDef::new(TenantUsage::StorageBytes).big_integer().not_null().default(0))
                    .col(ColumnDef::new(TenantUsage::Files).big_integer().not_null().default(0))
                    .foreign_key(
                        ForeignKey::create()
                            .from(TenantUsage::Table, TenantUsage::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        enable_tenant_rls(manager, "tenant_usage").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(TenantUsage::Table).to_owned()).await
    }
}
