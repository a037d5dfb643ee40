use sea_orm::entity::prelude::*;

/// A tenant organization (platform table, not tenant-owned).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub plan: String,
    /// `active`, `suspended` or `deleted` (deleted tenants await their background purge).
    pub status: String,
    pub settings: Json,
    /// A platform admin's override of the plan's request rates: `{"tenant_per_minute",
    /// "caller_per_minute"}`, either or both; `{}` for the plan's own.
    pub rate_limits: Json,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
