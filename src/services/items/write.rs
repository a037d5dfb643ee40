//! Writing items: creates (one object or an array, all or nothing), partial updates and
//! deletes, each checked against the collection and run through its filter hooks; actions get
//! the committed item.

use std::sync::Arc;

use chrono::Utc;
use sea_orm::{ActiveValue::Set, ColumnTrait};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{
    read::{find, item_id},
    stored::{Stored, new_row, set_keys},
    values::{check_unique, checked_member, new_values, on_unique},
};
use crate::{
    auth::Caller,
    entities::item,
    error::{Code, Error, FieldError, Result},
    hooks::{Ctx, Unit},
    input::Checks,
    schema::{Collection, format_datetime},
    services::{Env, collections},
    tenancy::Tenant,
};

/// Most objects one `POST` may create.
pub const MAX_BATCH: usize = 1000;

/// What `If-Match` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// `*`: the item exists.
    Exists,
    /// The item is at this version.
    Version(i64),
}

/// One object or an array of them, as posted and as answered.
#[derive(Debug)]
pub enum Created {
    One(Value),
    Many(Vec<Value>),
}

/// Stores one item `id` of a system collection as given, without hooks (the audit log's
/// entries, file records).
pub(crate) async fn insert_system(ctx: &Ctx<'_>, collection: &Collection, id: Uuid, object: &Value) -> Result<()> {
    let mut checks = Checks::default();
    let data = new_values(collection, object, "", &mut checks);
    checks.finish()?;
    let Some(data) = data else { return Err(Error::internal("a system item without values")) };
    let now = format_datetime(Utc::now());
    let item = Stored {
        id,
        data,
        version: 1,
        date_created: now.clone(),
        date_updated: now,
        user_created: ctx.caller.map(|c| c.id),
    };
    ctx.txn.insert_many(vec![new_row(ctx.tenant.id, collection, &item)]).await?;
    Ok(())
}

/// Sets fields of one item of a system collection, without hooks; returns the item, or `None`
/// when there is no such item.
pub(crate) async fn update_system(
    ctx: &Ctx<'_>,
    collection: &Collection,
    id: Uuid,
    changes: &Map<String, Value>,
) -> Result<Option<Value>> {
    let current = match find(ctx.txn, collection, id, true).await {
        Ok(current) => current,
        Err(error) if error.code() == Code::ItemNotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    let mut data = match &current.data {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    let mut checks = Checks::default();
    for (key, value) in changes {
        let Some(field) = checked_member(collection, key, "", &mut checks) else { continue };
        match field.value(value) {
            Ok(Some(value)) => {
                data.insert(key.clone(), value);
            }
            Ok(None) => {
                data.remove(key);
            }
            Err((code, message)) => checks.push(FieldError::new(key.as_str(), code, message)),
        }
    }
    checks.finish()?;
    let changed: Vec<&str> = changes.keys().map(String::as_str).collect();
    let updated = ctx.txn.update(next_version(collection, &current, data, &changed)).await?;
    Ok(Some(Stored::from(updated).render(collection, None)))
}

/// The row of `current`'s next version holding `data`, with the key slots of `changed` fields.
fn next_version(
    collection: &Collection,
    current: &item::Model,
    data: Map<String, Value>,
    changed: &[&str],
) -> item::ActiveModel {
    let mut row = item::ActiveModel {
        collection_id: Set(collection.id),
        id: Set(current.id),
        version: Set(current.version + 1),
        date_updated: Set(format_datetime(Utc::now())),
        ..Default::default()
    };
    set_keys(&mut row, collection, &data, Some(changed));
    row.data = Set(Value::Object(data));
    row
}

/// Deletes one item of a system collection, without hooks; false when there was none.
pub(crate) async fn delete_system(ctx: &Ctx<'_>, collection: &Collection, id: Uuid) -> Result<bool> {
    let deleted = ctx
        .txn
        .delete_many::<item::Entity>()
        .filter(item::Column::CollectionId.eq(collection.id))
        .filter(item::Column::Id.eq(id))
        .exec(ctx.txn)
        .await?;
    Ok(deleted > 0)
}

/// Creates one item, or all of an array or none.
#[tracing::instrument(skip(env, tenant, caller, body), fields(tenant = %tenant.id))]
pub async fn create(env: &Env, tenant: &Arc<Tenant>, caller: &Caller, name: &str, body: Value) -> Result<Created> {
    let unit = Unit::begin(env.runtime(), tenant, Some(caller), 0, true).await?;
    let outcome = create_in(&unit.ctx(), name, body).await;
    unit.finish(outcome, "items.create", Some(name)).await
}

/// Creates one item inside a unit of work (for hooks).
pub(crate) async fn create_one_in(ctx: &Ctx<'_>, name: &str, item: Value) -> Result<Value> {
    if !item.is_object() {
        return Err(Error::validation(vec![FieldError::new("body", "invalid", "must be an object")]));
    }
    match create_in(ctx, name, item).await? {
        Created::One(item) => Ok(item),
        Created::Many(_) => Err(Error::internal("one object created as many")),
    }
}

/// [`create`] inside a unit of work: `items.create` filters see each object before it is
/// checked, and actions get each created item.
pub(crate) async fn create_in(ctx: &Ctx<'_>, name: &str, body: Value) -> Result<Created> {
    let collection = collections::get_in(ctx, name).await?;
    let (objects, one) = match body {
        Value::Object(object) => (vec![Value::Object(object)], true),
        Value::Array(objects) if (1..=MAX_BATCH).contains(&objects.len()) => (objects, false),
        Value::Array(_) => {
            return Err(Error::validation(vec![FieldError::new(
                "body",
                "invalid",
                format!("an array of 1 to {MAX_BATCH} items"),
            )]));
        }
        _ => {
            return Err(Error::validation(vec![FieldError::new("body", "invalid", "must be an object or an array")]));
        }
    };
    let now = format_datetime(Utc::now());
    let caller = ctx.caller.map(|c| c.id);
    let mut checks = Checks::default();
    let mut rows = Vec::with_capacity(objects.len());
    let mut created = Vec::with_capacity(objects.len());
    for (i, object) in objects.into_iter().enumerate() {
        let object = ctx.filter("items.create", Some(name), None, object).await?;
        let prefix = if one { String::new() } else { format!("[{i}].") };
        let Some(data) = new_values(&collection, &object, &prefix, &mut checks) else { continue };
        let item = Stored {
            id: Uuid::now_v7(),
            data,
            version: 1,
            date_created: now.clone(),
            date_updated: now.clone(),
            user_created: caller,
        };
        rows.push(new_row(ctx.tenant.id, &collection, &item));
        created.push(item);
    }
    checks.finish()?;

    check_unique(ctx.txn, &collection, &rows, one).await?;
    ctx.txn.insert_many(rows).await.map_err(|e| on_unique(e, &collection))?;
    let mut items = Vec::with_capacity(created.len());
    for item in created {
        let (id, delta) = (item.id, Value::Object(item.data.clone()));
        let rendered = item.render(&collection, None);
        ctx.written("items.create", Some(name), Some(id), || json!({"key": id, "item": rendered, "delta": delta}))
            .await?;
        items.push(rendered);
    }
    Ok(match items.pop() {
        Some(item) if one => Created::One(item),
        last => {
            items.extend(last);
            Created::Many(items)
        }
    })
}

/// Changes the fields present in `patch`; `null` clears a field.
#[tracing::instrument(skip(env, tenant, caller, patch), fields(tenant = %tenant.id))]
pub async fn update(
    env: &Env,
    tenant: &Arc<Tenant>,
    caller: &Caller,
    name: &str,
    id: &str,
    patch: Value,
    precondition: Option<Precondition>,
) -> Result<Value> {
    let unit = Unit::begin(env.runtime(), tenant, Some(caller), 0, true).await?;
    let outcome = match item_id(id) {
        Ok(id) => update_in(&unit.ctx(), name, id, patch, precondition).await,
        Err(error) => Err(error),
    };
    unit.finish(outcome, "items.update", Some(name)).await
}

/// [`update`] inside a unit of work: `items.update` filters see the patch (and the item's id as
/// their key); actions get the item and the changed values.
pub(crate) async fn update_in(
    ctx: &Ctx<'_>,
    name: &str,
    id: Uuid,
    patch: Value,
    precondition: Option<Precondition>,
) -> Result<Value> {
    let collection = collections::get_in(ctx, name).await?;
    if !patch.is_object() {
        return Err(Error::validation(vec![FieldError::new("body", "invalid", "must be an object")]));
    }
    let current = find(ctx.txn, &collection, id, true).await?;
    check_precondition(precondition, current.version)?;
    let Value::Object(patch) = ctx.filter("items.update", Some(name), Some(id), patch).await? else {
        return Err(Error::new(Code::HookFailed, "An items.update hook must return an object."));
    };

    let mut checks = Checks::default();
    let mut data = match &current.data {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    let mut delta = Map::new();
    for (key, value) in &patch {
        let Some(field) = checked_member(&collection, key, "", &mut checks) else { continue };
        match field.value(value) {
            Ok(None) if field.field.required => {
                checks.push(FieldError::new(key.as_str(), "required", "is required and cannot be cleared"));
            }
            // The delta holds what really changed: a value sent as it already was is not news.
            Ok(None) => {
                if data.remove(key).is_some() {
                    delta.insert(key.clone(), Value::Null);
                }
            }
            Ok(Some(value)) => {
                if data.get(key) != Some(&value) {
                    data.insert(key.clone(), value.clone());
                    delta.insert(key.clone(), value);
                }
            }
            Err((code, message)) => checks.push(FieldError::new(key.as_str(), code, message)),
        }
    }
    checks.finish()?;

    let changed: Vec<&str> = delta.keys().map(String::as_str).collect();
    let row = next_version(&collection, &current, data, &changed);
    let updated = ctx.txn.update(row).await.map_err(|e| on_unique(e, &collection))?;
    let item = Stored::from(updated).render(&collection, None);
    let rendered = item.clone();
    ctx.written("items.update", Some(name), Some(id), || json!({"key": id, "item": rendered, "delta": delta})).await?;
    Ok(item)
}

/// Deletes an item.
#[tracing::instrument(skip(env, tenant, caller), fields(tenant = %tenant.id))]
pub async fn delete(
    env: &Env,
    tenant: &Arc<Tenant>,
    caller: &Caller,
    name: &str,
    id: &str,
    precondition: Option<Precondition>,
) -> Result<()> {
    let unit = Unit::begin(env.runtime(), tenant, Some(caller), 0, true).await?;
    let outcome = match item_id(id) {
        Ok(id) => delete_in(&unit.ctx(), name, id, precondition).await,
        Err(error) => Err(error),
    };
    unit.finish(outcome, "items.delete", Some(name)).await
}

/// [`delete`] inside a unit of work: `items.delete` filters get `{"key"}` and may reject.
pub(crate) async fn delete_in(ctx: &Ctx<'_>, name: &str, id: Uuid, precondition: Option<Precondition>) -> Result<()> {
    let collection = collections::get_in(ctx, name).await?;
    let current = find(ctx.txn, &collection, id, true).await?;
    check_precondition(precondition, current.version)?;
    ctx.filter("items.delete", Some(name), Some(id), json!({"key": id})).await?;
    ctx.txn
        .delete_many::<item::Entity>()
        .filter(item::Column::CollectionId.eq(collection.id))
        .filter(item::Column::Id.eq(id))
        .exec(ctx.txn)
        .await?;
    let item = Stored::from(current).render(&collection, None);
    ctx.written("items.delete", Some(name), Some(id), || json!({"key": id, "item": item, "delta": null})).await?;
    Ok(())
}

fn check_precondition(precondition: Option<Precondition>, version: i64) -> Result<()> {
    match precondition {
        Some(Precondition::Version(expected)) if expected != version => Err(Error::new(
            Code::VersionConflict,
            format!("The item is at version {version}, not {expected}; reload it and try again."),
        )),
        _ => Ok(()),
    }
}
