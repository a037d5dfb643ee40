//! Changing collection definitions: each change is one transaction that also rewrites the
//! items it affects, and reaches every instance's schema cache when it commits.

use std::sync::Arc;

use chrono::Utc;
use sea_orm::{ActiveValue::Set, ColumnTrait, QuerySelect, SqlErr, sea_query::OnConflict};
use serde_json::Value;
use uuid::Uuid;

use super::{
    define::{define_fields, is_valid_name},
    input::{CollectionPatch, FieldInput, NewCollection},
    read::{CollectionView, not_found},
};
use crate::{
    db::{Change, PlatformDb, TenantTxn},
    entities::{collection, item},
    error::{Code, Error, FieldError, Result},
    hooks::Ctx,
    input::Checks,
    schema::{Collection, SYSTEM_PREFIX, SchemaCache, StoredField},
    services::Env,
};

/// Creates a collection; 409 `collection_exists` when the name is taken.
#[tracing::instrument(skip(env, input), fields(collection = %input.name))]
pub async fn create(env: &Env, tenant_id: Uuid, input: NewCollection) -> Result<CollectionView> {
    let mut checks = Checks::default();
    if !is_valid_name(&input.name) {
        checks.push(FieldError::new("name", "invalid", "must match ^[a-z][a-z0-9_]{0,62}$ and not start with tb_"));
    }
    if input.fields.is_empty() {
        checks.push(FieldError::new("fields", "required", "a collection needs at least one field"));
    }
    let fields = define_fields(&input.fields, &[], false, &mut checks);
    checks.finish()?;

    let now = Utc::now();
    let txn = env.db().tenant(tenant_id).begin().await?;
    let row = collection::ActiveModel {
        tenant_id: Set(tenant_id),
        id: Set(Uuid::now_v7()),
        name: Set(input.name.clone()),
        fields: Set(stored(&fields)?),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let row = txn.insert(row).await.map_err(|error| match error.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => {
            Error::new(Code::CollectionExists, format!("A collection `{}` already exists.", input.name))
        }
        _ => Error::Database(error),
    })?;
    let collection = Collection::from_row(row)?;
    finish(txn, tenant_id).await?;
    Ok(CollectionView::from(&collection))
}

/// A system collection of the tenant (`tb_…`, e.g. the activity log), created on first use in
/// a transaction of its own.
pub(crate) async fn ensure_system(
    db: &PlatformDb,
    schemas: &SchemaCache,
    tenant_id: Uuid,
    name: &str,
    fields: &[FieldInput],
) -> Result<Arc<Collection>> {
    if let Some(found) = schemas.get(tenant_id).await?.get(name) {
        return Ok(found.clone());
    }
    let txn = db.tenant(tenant_id).begin().await?;
    let collection = create_system_in(&txn, name, fields).await?;
    txn.commit().await?;
    Ok(collection)
}

/// [`ensure_system`] inside a unit of work, so that the collection is created (if need be)
/// with the change that first writes to it.
pub(crate) async fn ensure_system_in(ctx: &Ctx<'_>, name: &str, fields: &[FieldInput]) -> Result<Arc<Collection>> {
    if let Some(found) = ctx.runtime.schemas().get_in(ctx.txn).await?.get(name) {
        return Ok(found.clone());
    }
    create_system_in(ctx.txn, name, fields).await
}

/// Creates the system collection unless it exists, then reads it. Two transactions creating it
/// at once are fine: the second waits for the first and then finds its row.
async fn create_system_in(txn: &TenantTxn, name: &str, fields: &[FieldInput]) -> Result<Arc<Collection>> {
    let mut checks = Checks::default();
    let fields = define_fields(fields, &[], false, &mut checks);
    checks.finish()?;
    let now = Utc::now();
    let row = collection::ActiveModel {
        tenant_id: Set(txn.tenant_id()),
        id: Set(Uuid::now_v7()),
        name: Set(name.to_string()),
        fields: Set(stored(&fields)?),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let unique_name =
        OnConflict::columns([collection::Column::TenantId, collection::Column::Name]).do_nothing().to_owned();
    txn.insert_if_absent(row, unique_name).await?;
    txn.announce(Change::Collections(txn.tenant_id())).await?;
    let row = txn.find::<collection::Entity>().filter(collection::Column::Name.eq(name)).one(txn).await?;
    let row = row.ok_or_else(|| Error::internal(format!("system collection {name} missing after creation")))?;
    Ok(Arc::new(Collection::from_row(row)?))
}

/// Adds fields to a collection; existing fields and items keep their values, and a new field's
/// default is written into every existing item.
#[tracing::instrument(skip(env, patch))]
pub async fn add_fields(env: &Env, tenant_id: Uuid, name: &str, patch: CollectionPatch) -> Result<CollectionView> {
    let txn = env.db().tenant(tenant_id).begin().await?;
    let mut collection = locked(&txn, name).await?;
    let mut checks = Checks::default();
    if patch.fields.is_empty() {
        checks.push(FieldError::new("fields", "required", "list at least one field to add"));
    }
    let added = define_fields(&patch.fields, &collection.fields, true, &mut checks);
    checks.finish()?;
    for field in &added {
        let value = field.field.default.clone();
        let text = value.as_ref().map(Value::to_string);
        let slot = field.slot.zip(field.key(value.as_ref()));
        txn.backfill_field(collection.id, field.name(), text.as_deref(), slot).await?;
    }
    collection.fields.extend(added);
    let collection = save(&txn, collection).await?;
    finish(txn, tenant_id).await?;
    Ok(CollectionView::from(&collection))
}

/// Drops a field and its values from every item.
#[tracing::instrument(skip(env))]
pub async fn drop_field(env: &Env, tenant_id: Uuid, name: &str, field: &str) -> Result<CollectionView> {
    let txn = env.db().tenant(tenant_id).begin().await?;
    let mut collection = locked(&txn, name).await?;
    let Some(position) = collection.fields.iter().position(|f| f.name() == field) else {
        return Err(Error::new(Code::FieldNotFound, format!("Collection `{name}` has no field `{field}`.")));
    };
    if collection.fields.len() == 1 {
        return Err(Error::validation(vec![FieldError::new(
            field,
            "last_field",
            "a collection keeps at least one field; delete the collection instead",
        )]));
    }
    let removed = collection.fields.remove(position);
    txn.drop_field(collection.id, removed.name(), removed.slot).await?;
    let collection = save(&txn, collection).await?;
    finish(txn, tenant_id).await?;
    Ok(CollectionView::from(&collection))
}

/// Deletes a collection and all its items.
#[tracing::instrument(skip(env))]
pub async fn delete(env: &Env, tenant_id: Uuid, name: &str) -> Result<()> {
    let txn = env.db().tenant(tenant_id).begin().await?;
    let collection = locked(&txn, name).await?;
    let items =
        txn.delete_many::<item::Entity>().filter(item::Column::CollectionId.eq(collection.id)).exec(&txn).await?;
    txn.delete_many::<collection::Entity>().filter(collection::Column::Id.eq(collection.id)).exec(&txn).await?;
    finish(txn, tenant_id).await?;
    tracing::info!(items, "collection deleted");
    Ok(())
}

/// The collection row, locked against concurrent definition changes.
async fn locked(txn: &TenantTxn, name: &str) -> Result<Collection> {
    if name.starts_with(SYSTEM_PREFIX) {
        return Err(not_found(name));
    }
    let row = txn
        .find::<collection::Entity>()
        .filter(collection::Column::Name.eq(name))
        .map(|q| q.lock_exclusive())
        .one(txn)
        .await?
        .ok_or_else(|| not_found(name))?;
    Collection::from_row(row)
}

async fn save(txn: &TenantTxn, collection: Collection) -> Result<Collection> {
    let row = collection::ActiveModel {
        tenant_id: Set(txn.tenant_id()),
        id: Set(collection.id),
        name: Set(collection.name.clone()),
        fields: Set(stored(&collection.fields)?),
        created_at: Set(collection.created_at),
        updated_at: Set(Utc::now()),
    };
    Collection::from_row(txn.update(row).await?)
}

/// Commits a definition change and makes every instance forget the tenant's schema.
async fn finish(txn: TenantTxn, tenant_id: Uuid) -> Result<()> {
    txn.announce(Change::Collections(tenant_id)).await?;
    txn.commit().await?;
    Ok(())
}

fn stored(fields: &[StoredField]) -> Result<Value> {
    serde_json::to_value(fields).map_err(|e| Error::internal(format!("serializing fields: {e}")))
}

/// Deletes all of a tenant's items and collections (tenant purge, inside its scope).
pub(crate) async fn purge(txn: &TenantTxn) -> Result<u64> {
    let items = txn.delete_many::<item::Entity>().exec(txn).await?;
    txn.delete_many::<collection::Entity>().exec(txn).await?;
    Ok(items)
}
