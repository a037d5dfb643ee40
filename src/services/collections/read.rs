//! Reading collection definitions through the tenant's cached schema; system collections
//! (`tb_…`) are not reachable by name.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::ColumnTrait;
use serde::Serialize;
use uuid::Uuid;

use crate::{
    db::TenantTxn,
    entities::{collection, item},
    error::{Code, Error, Result},
    hooks::Ctx,
    input::Page,
    schema::{Collection, Field, SYSTEM_PREFIX},
    services::Env,
};

/// A collection as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CollectionView {
    pub name: String,
    pub fields: Vec<Field>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&Collection> for CollectionView {
    fn from(collection: &Collection) -> Self {
        CollectionView {
            name: collection.name.clone(),
            fields: collection.fields.iter().map(|f| f.field.clone()).collect(),
            created_at: collection.created_at,
            updated_at: collection.updated_at,
        }
    }
}

pub(super) fn not_found(name: &str) -> Error {
    Error::new(Code::CollectionNotFound, format!("No collection `{name}` in this tenant."))
}

/// One collection of the tenant, or 404 `collection_not_found`. System collections (`tb_…`)
/// are not reachable by name through the API.
pub async fn get(env: &Env, tenant_id: Uuid, name: &str) -> Result<CollectionView> {
    let found = env.runtime().schemas().get(tenant_id).await?.get(name).cloned();
    Ok(CollectionView::from(&*public(found, name)?))
}

/// [`get`] for a unit of work.
pub(crate) async fn get_in(ctx: &Ctx<'_>, name: &str) -> Result<Arc<Collection>> {
    public(ctx.runtime.schemas().get_in(ctx.txn).await?.get(name).cloned(), name)
}

fn public(found: Option<Arc<Collection>>, name: &str) -> Result<Arc<Collection>> {
    found.filter(|c| !c.is_system()).ok_or_else(|| not_found(name))
}

/// A page of the tenant's collections, by name, and their count when asked.
pub async fn list(env: &Env, tenant_id: Uuid, page: Page) -> Result<(Vec<CollectionView>, Option<u64>)> {
    let schema = env.runtime().schemas().get(tenant_id).await?;
    let public = || schema.values().filter(|c| !c.is_system());
    let total = page.with_total.then(|| public().count() as u64);
    let skip = usize::try_from(page.offset).unwrap_or(usize::MAX);
    let take = usize::try_from(page.limit).unwrap_or(usize::MAX);
    Ok((public().skip(skip).take(take).map(|c| CollectionView::from(&**c)).collect(), total))
}

/// How many collections and items a tenant holds (usage).
/// System collections (the activity log) and their entries are not counted.
pub(crate) async fn usage(txn: &TenantTxn) -> Result<(u64, u64)> {
    let rows = txn.find::<collection::Entity>().all(txn).await?;
    let system: Vec<Uuid> = rows.iter().filter(|c| c.name.starts_with(SYSTEM_PREFIX)).map(|c| c.id).collect();
    let items =
        txn.find::<item::Entity>().filter(item::Column::CollectionId.is_not_in(system.clone())).count(txn).await?;
    Ok(((rows.len() - system.len()) as u64, items))
}
