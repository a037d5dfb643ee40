use sea_orm::entity::prelude::*;

/// A tenant's traffic in one hour, summed over every instance's flushes.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "tenant_usage_hourly")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    /// The start of the hour (UTC).
    #[sea_orm(primary_key, auto_increment = false)]
    pub hour: DateTimeUtc,
    pub requests: i64,
    pub rate_limited: i64,
    /// Bytes of the uploads presigned (the size each upload declared).
    pub upload_bytes: i64,
    /// Bytes of the downloads presigned (the size of each file a download URL was made for).
    pub download_bytes: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl crate::db::TenantOwned for Entity {
    const TENANT_ID: Column = Column::TenantId;
}
