//! Refresh-token sessions, and the per-user instant before which access tokens no longer count.
//!
//! Sessions are tenant-owned rows under row-level security. Platform admins' sessions use the nil
//! tenant id (no tenant can have it), so one table and one code path serve both; there is no
//! foreign key to `users` for that reason, and deleting a user or purging a tenant deletes its
//! sessions explicitly.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Sessions {
    Table,
    TenantId,
    Id,
    FamilyId,
    UserId,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    SpentAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    SessionsValidAfter,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(ColumnDef::new(Users::SessionsValidAfter).timestamp_with_time_zone().null())
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(ColumnDef::new(Sessions::TenantId).uuid().not_null())
                    .col(ColumnDef::new(Sessions::Id).uuid().not_null())
                    .col(ColumnDef::new(Sessions::FamilyId).uuid().not_null())
                    .col(ColumnDef::new(Sessions::UserId).uuid().not_null())
                    .col(ColumnDef::new(Sessions::TokenHash).string_len(64).not_null())
                    .col(ColumnDef::new(Sessions::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Sessions::ExpiresAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Sessions::SpentAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Sessions::RevokedAt).timestamp_with_time_zone().null())
                    .primary_key(Index::create().col(Sessions::TenantId).col(Sessions::Id))
                    .to_owned(),
            )
            .await?;
        for (name, columns) in [
            ("sessions_token_hash_key", vec![Sessions::TenantId, Sessions::TokenHash]),
            ("sessions_family_idx", vec![Sessions::TenantId, Sessions::FamilyId]),
            ("sessions_user_idx", vec![Sessions::TenantId, Sessions::UserId]),
        ] {
            let mut index = Index::create();
            index.name(name).table(Sessions::Table);
            for column in columns {
                index.col(column);
            }
            if name.ends_with("_key") {
                index.unique();
            }
            manager.create_index(index.to_owned()).await?;
        }
        crate::rls::enable_tenant_rls(manager, "sessions").await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Sessions::Table).to_owned()).await?;
        manager
            .alter_table(Table::alter().table(Users::Table).drop_column(Users::SessionsValidAfter).to_owned())
            .await?;
        Ok(())
    }
}
