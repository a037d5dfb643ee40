//! Platform tables: tenants, their custom domains, and platform admins.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    Slug,
    Name,
    Plan,
    Status,
    Settings,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum TenantDomains {
    Table,
    Domain,
    TenantId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PlatformAdmins {
    Table,
    Id,
    Email,
    PasswordHash,
    Name,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tenants::Table)
                    .col(ColumnDef::new(Tenants::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Tenants::Slug).string_len(63).not_null().unique_key())
                    .col(ColumnDef::new(Tenants::Name).string_len(200).not_null())
                    .col(ColumnDef::new(Tenants::Plan).string_len(32).not_null())
                    .col(ColumnDef::new(Tenants::Status).string_len(16).not_null())
                    .col(ColumnDef::new(Tenants::Settings).json_binary().not_null())
                    .col(ColumnDef::new(Tenants::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Tenants::UpdatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Tenants::DeletedAt).timestamp_with_time_zone().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("tenants_status_idx").table(Tenants::Table).col(Tenants::Status).to_owned(),
            )
            .await?;

        // The routing table from custom domain to tenant. It has a tenant_id, so on PostgreSQL it
        // is under row-level security like every tenant table; but resolving a Host header must
        // find the tenant before any tenant is known, so reading is open to all (a domain's owner
        // is public knowledge: DNS points it here) while writes stay scoped to the tenant.
        manager
            .create_table(
                Table::create()
                    .table(TenantDomains::Table)
                    .col(ColumnDef::new(TenantDomains::Domain).string_len(253).not_null().primary_key())
                    .col(ColumnDef::new(TenantDomains::TenantId).uuid().not_null())
                    .col(ColumnDef::new(TenantDomains::CreatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(TenantDomains::Table, TenantDomains::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("tenant_domains_tenant_idx")
                    .table(TenantDomains::Table)
                    .col(TenantDomains::TenantId)
                    .to_owned(),
            )
            .await?;
        crate::rls::enable_tenant_rls(manager, "tenant_domains").await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("CREATE POLICY domain_lookup ON tenant_domains FOR SELECT USING (true);")
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(PlatformAdmins::Table)
                    .col(ColumnDef::new(PlatformAdmins::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(PlatformAdmins::Email).string_len(254).not_null().unique_key())
                    .col(ColumnDef::new(PlatformAdmins::PasswordHash).string().not_null())
                    .col(ColumnDef::new(PlatformAdmins::Name).string_len(200).null())
                    .col(ColumnDef::new(PlatformAdmins::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(PlatformAdmins::UpdatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(PlatformAdmins::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(TenantDomains::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Tenants::Table).to_owned()).await?;
        Ok(())
    }
}
