use sea_orm::entity::prelude::*;

/// One item of a collection. `data` holds the set fields (never JSON `null`); `k1`..`k8` and
/// `u1`..`u4` hold the order-preserving keys of indexed and unique fields (see the migration).
/// Timestamps are normalised RFC 3339 text, so they compare and sort the same on both databases.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "items")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub collection_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub data: Json,
    pub version: i64,
    pub date_created: String,
    pub date_updated: String,
    pub user_created: Option<Uuid>,
    pub k1: Option<String>,
    pub k2: Option<String>,
    pub k3: Option<String>,
    pub k4: Option<String>,
    pub k5: Option<String>,
    pub k6: Option<String>,
    pub k7: Option<String>,
    pub k8: Option<String>,
    pub u1: Option<String>,
    pub u2: Option<String>,
    pub u3: Option<String>,
    pub u4: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl crate::db::TenantOwned for Entity {
    const TENANT_ID: Column = Column::TenantId;
}
