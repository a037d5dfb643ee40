use sea_orm::entity::prelude::*;

/// A member of one tenant. The same email in two tenants is two users.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub email: String,
    pub password_hash: String,
    pub name: Option<String>,
    /// `admin`, `editor` or `viewer`.
    pub role: String,
    /// `active` or `disabled`.
    pub status: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Carried by every access token; bumped when the user's sessions end (disabled, or a new
    /// password or role), which refuses every token issued before.
    pub session_epoch: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl crate::db::TenantOwned for Entity {
    const TENANT_ID: Column = Column::TenantId;
}
