//! Items: the records of a collection (docs/data-api.md "Items"). Values are checked against the
//! collection's fields and normalised; unique fields are enforced per tenant and collection by
//! the database (and checked first, to name the offending object of an array); every write bumps
//! `version`, which `If-Match` compares.

use std::sync::Arc;

use chrono::Utc;
use sea_orm::{ActiveValue::Set, ColumnTrait, DbErr, QuerySelect, SqlErr};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{
    collections::{self, Collection, SYSTEM_FIELDS},
    fields::{StoredField, format_datetime},
    input::Checks,
    item_query::{self, Columns, ListParams},
};
use crate::{
    auth::Caller,
    db::{
        TenantTxn,
        item_query::{ItemRow, Slot},
    },
    entities::item,
    error::{Code, Error, FieldError, Result},
    hooks::{Ctx, Env, Unit},
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

/// An item as stored, whatever query read it.
struct Stored {
    id: Uuid,
    data: Map<String, Value>,
    version: i64,
    date_created: String,
    date_updated: String,
    user_created: Option<Uuid>,
}

impl From<item::Model> for Stored {
    fn from(row: item::Model) -> Self {
        let data = match row.data {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        Stored {
            id: row.id,
            data,
            version: row.version,
            date_created: row.date_created,
            date_updated: row.date_updated,
            user_created: row.user_created,
        }
    }
}

impl TryFrom<ItemRow> for Stored {
    type Error = Error;

    fn try_from(row: ItemRow) -> Result<Self> {
        let data = serde_json::from_str(&row.data)
            .map_err(|e| Error::internal(format!("item {} holds unreadable data: {e}", row.id)))?;
        Ok(Stored {
            id: row.id,
            data,
            version: row.version,
            date_created: row.date_created,
            date_updated: row.date_updated,
            user_created: row.user_created,
        })
    }
}

impl Stored {
    /// The item as the API shows it: `id`, every field (null when unset), the system fields;
    /// only the members in `only`, when given.
    fn render(mut self, collection: &Collection, only: Option<&[String]>) -> Value {
        let mut out = Map::new();
        let wanted = |name: &str| only.is_none_or(|names| names.iter().any(|n| n == name));
        if wanted("id") {
            out.insert("id".into(), self.id.to_string().into());
        }
        for field in &collection.fields {
            if wanted(field.name()) {
                out.insert(field.name().into(), self.data.remove(field.name()).unwrap_or(Value::Null));
            }
        }
        for (name, value) in [
            ("date_created", Value::from(self.date_created)),
            ("date_updated", Value::from(self.date_updated)),
            ("user_created", self.user_created.map_or(Value::Null, |id| id.to_string().into())),
            ("version", Value::from(self.version)),
        ] {
            if wanted(name) {
                out.insert(name.into(), value);
            }
        }
        Value::Object(out)
    }
}

fn not_found() -> Error {
    Error::new(Code::ItemNotFound, "No such item in this collection.")
}

/// An item id from the path; anything that is not a UUID names no item.
fn item_id(raw: &str) -> Result<Uuid> {
    Uuid::parse_str(raw).map_err(|_| not_found())
}

/// Lists a collection's items (docs/data-api.md "Listing").
#[tracing::instrument(skip(env, tenant, caller, params), fields(tenant = %tenant.id))]
pub async fn list(
    env: &Env,
    tenant: &Arc<Tenant>,
    caller: &Caller,
    name: &str,
    params: &ListParams,
) -> Result<(Vec<Value>, Option<u64>)> {
    let unit = Unit::begin(env, tenant, Some(caller), 0, false).await?;
    let outcome = list_in(&unit.ctx(), name, params).await;
    unit.finish(outcome, "items.query", Some(name)).await
}

/// [`list`] inside a unit of work. `items.query` filters may rewrite the query (as
/// `{"filter", "sort", "limit", "offset", "fields", "search", "meta"}`), `items.read` filters the
/// items found.
pub async fn list_in(ctx: &Ctx<'_>, name: &str, params: &ListParams) -> Result<(Vec<Value>, Option<u64>)> {
    let collection = collections::get_in(ctx, name).await?;
    let rewritten;
    let params = if ctx.has_filters("items.query", Some(name)) {
        let payload = ctx.filter("items.query", Some(name), None, params.to_payload()).await?;
        rewritten = ListParams::from_payload(&payload)?;
        &rewritten
    } else {
        params
    };
    let (items, total) = query_in(ctx, &collection, params, Columns::WithSystem).await?;
    let items = match ctx.filter("items.read", Some(name), None, Value::Array(items)).await? {
        Value::Array(items) => items,
        _ => return Err(Error::new(Code::HookFailed, "An items.read hook must return the array of items.")),
    };
    Ok((items, total))
}

/// The items of `collection` that `params` select, without hooks (system collections use it).
pub async fn query_in(
    ctx: &Ctx<'_>,
    collection: &Collection,
    params: &ListParams,
    columns: Columns,
) -> Result<(Vec<Value>, Option<u64>)> {
    let request = item_query::parse_with(collection, params, columns)?;
    let rows = ctx.txn.list_items(&request.query).await?;
    let total = if request.with_total { Some(ctx.txn.count_items(&request.query).await?) } else { None };
    let items = rows
        .into_iter()
        .map(|row| Ok(Stored::try_from(row)?.render(collection, request.fields.as_deref())))
        .collect::<Result<Vec<_>>>()?;
    Ok((items, total))
}

/// Stores one item of a system collection as given, without hooks (the audit log's entries).
pub async fn insert_system(ctx: &Ctx<'_>, collection: &Collection, object: &Value) -> Result<()> {
    let mut checks = Checks::default();
    let data = new_values(collection, object, "", &mut checks);
    checks.finish()?;
    let Some(data) = data else { return Err(Error::internal("a system item without values")) };
    let now = format_datetime(Utc::now());
    let item = Stored {
        id: Uuid::now_v7(),
        data,
        version: 1,
        date_created: now.clone(),
        date_updated: now,
        user_created: ctx.caller.map(|c| c.id),
    };
    ctx.txn.insert_many(vec![new_row(ctx.tenant.id, collection, &item)]).await?;
    Ok(())
}

/// One item.
#[tracing::instrument(skip(env, tenant, caller), fields(tenant = %tenant.id))]
pub async fn get(env: &Env, tenant: &Arc<Tenant>, caller: &Caller, name: &str, id: &str) -> Result<Value> {
    let unit = Unit::begin(env, tenant, Some(caller), 0, false).await?;
    let outcome = match item_id(id) {
        Ok(id) => get_in(&unit.ctx(), name, id).await,
        Err(error) => Err(error),
    };
    unit.finish(outcome, "items.read", Some(name)).await
}

/// [`get`] inside a unit of work; `items.read` filters see (and may change) the item.
pub async fn get_in(ctx: &Ctx<'_>, name: &str, id: Uuid) -> Result<Value> {
    let collection = collections::get_in(ctx, name).await?;
    let row = find(ctx.txn, &collection, id, false).await?;
    let item = Stored::from(row).render(&collection, None);
    ctx.filter("items.read", Some(name), Some(id), item).await
}

/// Creates one item, or all of an array or none.
#[tracing::instrument(skip(env, tenant, caller, body), fields(tenant = %tenant.id))]
pub async fn create(env: &Env, tenant: &Arc<Tenant>, caller: &Caller, name: &str, body: Value) -> Result<Created> {
    let unit = Unit::begin(env, tenant, Some(caller), 0, true).await?;
    let outcome = create_in(&unit.ctx(), name, body).await;
    unit.finish(outcome, "items.create", Some(name)).await
}

/// Creates one item inside a unit of work (for hooks).
pub async fn create_one_in(ctx: &Ctx<'_>, name: &str, item: Value) -> Result<Value> {
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
pub async fn create_in(ctx: &Ctx<'_>, name: &str, body: Value) -> Result<Created> {
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
        ctx.after_commit("items.create", Some(name), || json!({"key": id, "item": rendered, "delta": delta}));
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

/// The row of a new item; every row of one INSERT sets the same columns (unused slots NULL).
fn new_row(tenant_id: Uuid, collection: &Collection, item: &Stored) -> item::ActiveModel {
    let mut row = item::ActiveModel {
        tenant_id: Set(tenant_id),
        collection_id: Set(collection.id),
        id: Set(item.id),
        data: Set(Value::Object(item.data.clone())),
        version: Set(item.version),
        date_created: Set(item.date_created.clone()),
        date_updated: Set(item.date_updated.clone()),
        user_created: Set(item.user_created),
        ..Default::default()
    };
    for slot in ALL_SLOTS {
        sea_orm::ActiveModelTrait::set(&mut row, slot_column(slot), Option::<String>::None.into());
    }
    set_keys(&mut row, collection, &item.data, None);
    row
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
    let unit = Unit::begin(env, tenant, Some(caller), 0, true).await?;
    let outcome = match item_id(id) {
        Ok(id) => update_in(&unit.ctx(), name, id, patch, precondition).await,
        Err(error) => Err(error),
    };
    unit.finish(outcome, "items.update", Some(name)).await
}

/// [`update`] inside a unit of work: `items.update` filters see the patch (and the item's id as
/// their key); actions get the item and the changed values.
pub async fn update_in(
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
    let mut row = item::ActiveModel {
        collection_id: Set(collection.id),
        id: Set(id),
        version: Set(current.version + 1),
        date_updated: Set(format_datetime(Utc::now())),
        ..Default::default()
    };
    set_keys(&mut row, &collection, &data, Some(&changed));
    row.data = Set(Value::Object(data));
    let updated = ctx.txn.update(row).await.map_err(|e| on_unique(e, &collection))?;
    let item = Stored::from(updated).render(&collection, None);
    let rendered = item.clone();
    ctx.after_commit("items.update", Some(name), || json!({"key": id, "item": rendered, "delta": delta}));
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
    let unit = Unit::begin(env, tenant, Some(caller), 0, true).await?;
    let outcome = match item_id(id) {
        Ok(id) => delete_in(&unit.ctx(), name, id, precondition).await,
        Err(error) => Err(error),
    };
    unit.finish(outcome, "items.delete", Some(name)).await
}

/// [`delete`] inside a unit of work: `items.delete` filters get `{"key"}` and may reject.
pub async fn delete_in(ctx: &Ctx<'_>, name: &str, id: Uuid, precondition: Option<Precondition>) -> Result<()> {
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
    ctx.after_commit("items.delete", Some(name), || json!({"key": id, "item": item, "delta": null}));
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

/// The item `id` of the collection (locked for update when `lock`), or 404.
async fn find(txn: &TenantTxn, collection: &Collection, id: Uuid, lock: bool) -> Result<item::Model> {
    txn.find::<item::Entity>()
        .filter(item::Column::CollectionId.eq(collection.id))
        .filter(item::Column::Id.eq(id))
        .map(|q| if lock { q.lock_exclusive() } else { q })
        .one(txn)
        .await?
        .ok_or_else(not_found)
}

/// The field a body member names, or why it names none (system or unknown field).
fn checked_member<'c>(
    collection: &'c Collection,
    key: &str,
    prefix: &str,
    checks: &mut Checks,
) -> Option<&'c StoredField> {
    if SYSTEM_FIELDS.contains(&key) {
        checks.push(FieldError::new(format!("{prefix}{key}"), "read_only", "is set by the server"));
        return None;
    }
    let field = collection.field(key);
    if field.is_none() {
        let shown: String = key.chars().take(64).collect();
        checks.push(FieldError::new(
            format!("{prefix}{shown}"),
            "unknown_field",
            format!("is not a field of collection `{}`", collection.name),
        ));
    }
    field
}

/// The stored values of a new item: every member checked, defaults applied, required enforced.
fn new_values(
    collection: &Collection,
    object: &Value,
    prefix: &str,
    checks: &mut Checks,
) -> Option<Map<String, Value>> {
    let Value::Object(object) = object else {
        checks.push(FieldError::new(format!("{prefix}body"), "invalid", "must be an object"));
        return None;
    };
    let before = checks.len();
    for key in object.keys() {
        checked_member(collection, key, prefix, checks);
    }
    let mut data = Map::new();
    for field in &collection.fields {
        let given = object.get(field.name()).filter(|v| !v.is_null());
        let value = match given {
            Some(value) => match field.value(value) {
                Ok(value) => value,
                Err((code, message)) => {
                    checks.push(FieldError::new(format!("{prefix}{}", field.name()), code, message));
                    continue;
                }
            },
            None => field.field.default.clone(),
        };
        match value {
            Some(value) => {
                data.insert(field.name().to_string(), value);
            }
            None if field.field.required => {
                checks.push(FieldError::new(format!("{prefix}{}", field.name()), "required", "is required"));
            }
            None => {}
        }
    }
    (checks.len() == before).then_some(data)
}

/// Writes the slot keys of the item's indexed and unique fields (only of `changed` ones, if given).
fn set_keys(row: &mut item::ActiveModel, collection: &Collection, data: &Map<String, Value>, changed: Option<&[&str]>) {
    for field in &collection.fields {
        if changed.is_some_and(|names| !names.contains(&field.name())) {
            continue;
        }
        if let (Some(slot), Some(key)) = (field.slot, field.key(data.get(field.name()))) {
            sea_orm::ActiveModelTrait::set(row, slot_column(slot), key.into());
        }
    }
}

const ALL_SLOTS: [Slot; 12] = [
    Slot::Indexed(1),
    Slot::Indexed(2),
    Slot::Indexed(3),
    Slot::Indexed(4),
    Slot::Indexed(5),
    Slot::Indexed(6),
    Slot::Indexed(7),
    Slot::Indexed(8),
    Slot::Unique(1),
    Slot::Unique(2),
    Slot::Unique(3),
    Slot::Unique(4),
];

fn slot_column(slot: Slot) -> item::Column {
    use item::Column::*;
    match slot {
        Slot::Indexed(1) => K1,
        Slot::Indexed(2) => K2,
        Slot::Indexed(3) => K3,
        Slot::Indexed(4) => K4,
        Slot::Indexed(5) => K5,
        Slot::Indexed(6) => K6,
        Slot::Indexed(7) => K7,
        Slot::Indexed(_) => K8,
        Slot::Unique(1) => U1,
        Slot::Unique(2) => U2,
        Slot::Unique(3) => U3,
        Slot::Unique(_) => U4,
    }
}

/// Refuses values of unique fields that repeat inside the batch or already exist, naming the
/// object and field (the database's unique index still decides races).
async fn check_unique(txn: &TenantTxn, collection: &Collection, rows: &[item::ActiveModel], one: bool) -> Result<()> {
    let mut checks = Checks::default();
    for field in collection.fields.iter().filter(|f| f.field.unique) {
        let Some(slot) = field.slot else { continue };
        let column = slot_column(slot);
        let keys: Vec<Option<String>> = rows
            .iter()
            .map(|row| match sea_orm::ActiveModelTrait::get(row, column) {
                sea_orm::ActiveValue::Set(sea_orm::Value::String(Some(key))) => Some(key.to_string()),
                _ => None,
            })
            .collect();
        let wanted: Vec<&String> = keys.iter().flatten().collect();
        if wanted.is_empty() {
            continue;
        }
        let existing: Vec<String> = txn
            .find::<item::Entity>()
            .filter(item::Column::CollectionId.eq(collection.id))
            .filter(column.is_in(wanted.iter().map(|k| k.as_str())))
            .all(txn)
            .await?
            .into_iter()
            .filter_map(|row| match sea_orm::ModelTrait::get(&row, column) {
                sea_orm::Value::String(Some(key)) => Some(key.to_string()),
                _ => None,
            })
            .collect();
        for (i, key) in keys.iter().enumerate() {
            let Some(key) = key else { continue };
            let repeated = keys[..i].iter().any(|k| k.as_ref() == Some(key));
            if repeated || existing.contains(key) {
                let at = if one { field.name().to_string() } else { format!("[{i}].{}", field.name()) };
                checks.push(FieldError::new(at, "unique", "another item already has this value"));
            }
        }
    }
    checks.finish()
}

/// A unique index violation as the 422 of its field.
fn on_unique(error: DbErr, collection: &Collection) -> Error {
    let Some(SqlErr::UniqueConstraintViolation(message)) = error.sql_err() else {
        return Error::Database(error);
    };
    let field = collection.fields.iter().find(|f| {
        f.slot.is_some_and(|slot| {
            let column = slot.column();
            message.contains(&format!("items_{column}_key")) || message.contains(&format!("items.{column}"))
        })
    });
    match field {
        Some(field) => {
            Error::validation(vec![FieldError::new(field.name(), "unique", "another item already has this value")])
        }
        None => Error::Database(error),
    }
}
