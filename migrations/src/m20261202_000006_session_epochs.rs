//! Session epochs: a counter per tenant user and per platform admin that every access token
//! carries. Ending a user's sessions (disabled, new password or role) bumps it, so every token
//! issued before refuses from then on, however close in time; it replaces the whole-second
//! `sessions_valid_after`, which let a token from earlier in the same second through.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    SessionEpoch,
    SessionsValidAfter,
}

#[derive(DeriveIden)]
enum PlatformAdmins {
    Table,
    SessionEpoch,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let epoch = || ColumnDef::new(Users::SessionEpoch).big_integer().not_null().default(0).to_owned();
        manager.alter_table(Table::alter().table(Users::Table).add_column(epoch()).to_owned()).await?;
        manager
            .alter_table(Table::alter().table(Users::Table).drop_column(Users::SessionsValidAfter).to_owned())
            .await?;
        let admin_epoch = ColumnDef::new(PlatformAdmins::SessionEpoch).big_integer().not_null().default(0).to_owned();
        manager.alter_table(Table::alter().table(PlatformAdmins::Table).add_column(admin_epoch).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter().table(PlatformAdmins::Table).drop_column(PlatformAdmins::SessionEpoch).to_owned(),
            )
            .await?;
        let valid_after = ColumnDef::new(Users::SessionsValidAfter).timestamp_with_time_zone().null().to_owned();
        manager.alter_table(Table::alter().table(Users::Table).add_column(valid_after).to_owned()).await?;
        manager.alter_table(Table::alter().table(Users::Table).drop_column(Users::SessionEpoch).to_owned()).await
    }
}
