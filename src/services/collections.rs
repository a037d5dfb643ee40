//! Collections: the schemas tenant admins define (docs/data-api.md). Definitions are validated
//! here, stored as JSON on the collection row, and cached per tenant; every change drops the
//! tenant's entry on every instance.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, QuerySelect, SqlErr};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::{
    fields::{Field, FieldType, StoredField},
    input::Checks,
};
use crate::{
    cache::InvalidatingCache,
    db::{
        PlatformDb, TenantTxn,
        item_query::Slot,
        notify::{Caches, Change},
    },
    entities::{collection, item},
    error::{Code, Error, FieldError, Result},
    hooks::{Ctx, Env},
    state::AppState,
};
use migrations::m20261123_000004_collections::{INDEXED_SLOTS, UNIQUE_SLOTS};

/// Most fields a collection may have.
pub const MAX_FIELDS: usize = 100;
/// Longest `max_length`; an indexed or unique string must stay within [`MAX_INDEXED_LENGTH`].
const MAX_LENGTH: i64 = 65_535;
const MAX_INDEXED_LENGTH: u32 = 512;
const DEFAULT_STRING_LENGTH: u32 = 255;
const MAX_ENUM_VALUES: usize = 100;
/// Columns every item has; no field may take these names.
pub const SYSTEM_FIELDS: [&str; 6] = ["id", "tenant_id", "date_created", "date_updated", "user_created", "version"];

/// A collection and its fields, as loaded from the database.
#[derive(Debug, Clone, PartialEq)]
pub struct Collection {
    pub id: Uuid,
    pub name: String,
    pub fields: Vec<StoredField>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Collection {
    pub fn field(&self, name: &str) -> Option<&StoredField> {
        self.fields.iter().find(|f| f.name() == name)
    }

    pub fn view(&self) -> CollectionView {
        CollectionView {
            name: self.name.clone(),
            fields: self.fields.iter().map(|f| f.field.clone()).collect(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    /// Reads a stored collection row.
    pub fn from_row(row: collection::Model) -> Result<Collection> {
        let fields = serde_json::from_value(row.fields)
            .map_err(|e| Error::internal(format!("collection {} has unreadable fields: {e}", row.id)))?;
        Ok(Collection { id: row.id, name: row.name, fields, created_at: row.created_at, updated_at: row.updated_at })
    }
}

/// A collection as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CollectionView {
    pub name: String,
    pub fields: Vec<Field>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `POST /api/collections`.
#[derive(Debug, utoipa::ToSchema)]
pub struct NewCollection {
    pub name: String,
    pub fields: Vec<FieldInput>,
}

/// `PATCH /api/collections/{name}`: fields to add.
#[derive(Debug, utoipa::ToSchema)]
pub struct CollectionPatch {
    pub fields: Vec<FieldInput>,
}

/// A field definition as clients send it.
#[derive(Debug, Default, utoipa::ToSchema)]
pub struct FieldInput {
    pub name: String,
    /// `string text integer number boolean datetime uuid json file`.
    #[schema(rename = "type")]
    pub field_type: String,
    pub required: Option<bool>,
    pub unique: Option<bool>,
    pub indexed: Option<bool>,
    #[schema(value_type = Option<Object>)]
    pub default: Option<Value>,
    pub max_length: Option<i64>,
    #[schema(rename = "enum", value_type = Option<Vec<Object>>)]
    pub allowed: Option<Vec<Value>>,
}

/// A JSON object's members, each checked by type with errors named by their path (serde's
/// own messages do not say which member of which array element was wrong).
struct Members<'a> {
    at: String,
    object: &'a serde_json::Map<String, Value>,
}

impl<'a> Members<'a> {
    /// `value` as an object whose members are all in `known`; errors go to `checks`.
    fn new(at: &str, value: &'a Value, known: &[&str], checks: &mut Checks) -> Option<Members<'a>> {
        let path = |member: &str| if at.is_empty() { member.to_string() } else { format!("{at}.{member}") };
        let Value::Object(object) = value else {
            checks.push(FieldError::new(if at.is_empty() { "body" } else { at }, "invalid", "must be an object"));
            return None;
        };
        for key in object.keys().filter(|k| !known.contains(&k.as_str())) {
            let shown: String = key.chars().take(64).collect();
            checks.push(FieldError::new(path(&shown), "unknown", "is not a property of this request"));
        }
        Some(Members { at: at.to_string(), object })
    }

    fn path(&self, member: &str) -> String {
        if self.at.is_empty() { member.to_string() } else { format!("{}.{member}", self.at) }
    }

    /// A member of the type `pick` extracts (`null` counts as absent).
    fn get<T>(
        &self,
        member: &str,
        kind: &str,
        pick: impl Fn(&'a Value) -> Option<T>,
        checks: &mut Checks,
    ) -> Option<T> {
        let value = self.object.get(member).filter(|v| !v.is_null())?;
        let picked = pick(value);
        if picked.is_none() {
            checks.push(FieldError::new(self.path(member), "invalid", format!("must be {kind}")));
        }
        picked
    }

    fn required<T>(
        &self,
        member: &str,
        kind: &str,
        pick: impl Fn(&'a Value) -> Option<T>,
        checks: &mut Checks,
    ) -> Option<T> {
        if self.object.get(member).is_none_or(Value::is_null) {
            checks.push(FieldError::new(self.path(member), "required", "is required"));
            return None;
        }
        self.get(member, kind, pick, checks)
    }
}

impl FieldInput {
    fn parse(at: &str, value: &Value, checks: &mut Checks) -> Option<FieldInput> {
        const KNOWN: [&str; 8] = ["name", "type", "required", "unique", "indexed", "default", "max_length", "enum"];
        let before = checks.len();
        let members = Members::new(at, value, &KNOWN, checks)?;
        let string = |v: &Value| v.as_str().map(str::to_string);
        let input = FieldInput {
            name: members.required("name", "a string", string, checks).unwrap_or_default(),
            field_type: members.required("type", "a string", string, checks).unwrap_or_default(),
            required: members.get("required", "true or false", Value::as_bool, checks),
            unique: members.get("unique", "true or false", Value::as_bool, checks),
            indexed: members.get("indexed", "true or false", Value::as_bool, checks),
            default: members.object.get("default").filter(|v| !v.is_null()).cloned(),
            max_length: members.get("max_length", "an integer", Value::as_i64, checks),
            allowed: members.get("enum", "an array", |v| v.as_array().cloned(), checks),
        };
        (checks.len() == before).then_some(input)
    }

    /// `fields` of a request body: an array of definitions.
    fn parse_all(members: &Members, checks: &mut Checks) -> Vec<FieldInput> {
        let Some(fields) = members.required("fields", "an array", Value::as_array, checks) else { return Vec::new() };
        if fields.len() > MAX_FIELDS {
            checks.push(FieldError::new("fields", "too_many", format!("a collection has at most {MAX_FIELDS} fields")));
            return Vec::new();
        }
        fields.iter().enumerate().filter_map(|(i, f)| FieldInput::parse(&format!("fields[{i}]"), f, checks)).collect()
    }
}

impl NewCollection {
    /// Reads a create body, reporting every malformed member by its path.
    pub fn parse(body: &Value) -> Result<NewCollection> {
        let mut checks = Checks::default();
        let parsed = Members::new("", body, &["name", "fields"], &mut checks).map(|members| NewCollection {
            name: members
                .required("name", "a string", |v| v.as_str().map(str::to_string), &mut checks)
                .unwrap_or_default(),
            fields: FieldInput::parse_all(&members, &mut checks),
        });
        checks.finish()?;
        parsed.ok_or_else(|| Error::internal("collection body parsed without errors yet absent"))
    }
}

impl CollectionPatch {
    /// Reads a PATCH body, reporting every malformed member by its path.
    pub fn parse(body: &Value) -> Result<CollectionPatch> {
        let mut checks = Checks::default();
        let parsed = Members::new("", body, &["fields"], &mut checks)
            .map(|members| CollectionPatch { fields: FieldInput::parse_all(&members, &mut checks) });
        checks.finish()?;
        parsed.ok_or_else(|| Error::internal("collection patch parsed without errors yet absent"))
    }
}

/// One tenant's collections by name.
pub type Schema = BTreeMap<String, Arc<Collection>>;

/// Collections by tenant id.
pub type CollectionCache = InvalidatingCache<Uuid, Schema>;

pub fn collection_cache(capacity: u64) -> CollectionCache {
    InvalidatingCache::new(capacity, Duration::from_secs(600))
}

impl CollectionCache {
    pub fn invalidate(&self, tenant_id: Uuid) {
        self.invalidate_if(move |tenant, _| *tenant == tenant_id);
    }
}

/// `^[a-z][a-z0-9_]{0,62}$`, not starting with `tb_` (collections and fields alike).
pub fn is_valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (1..=63).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
        && !name.starts_with(SYSTEM_PREFIX)
}

fn not_found(name: &str) -> Error {
    Error::new(Code::CollectionNotFound, format!("No collection `{name}` in this tenant."))
}

/// The tenant's collections, from the cache when warm.
pub async fn schema(db: &PlatformDb, caches: &Caches, tenant_id: Uuid) -> Result<Arc<Schema>> {
    let loaded = caches.collections.get_or_load(tenant_id, || load_schema(db, tenant_id)).await?;
    loaded.ok_or_else(|| Error::internal("collection schema loader returned nothing"))
}

async fn load_schema(db: &PlatformDb, tenant_id: Uuid) -> Result<Option<Schema>> {
    let txn = db.tenant(tenant_id).read().await?;
    let rows = txn.find::<collection::Entity>().all(&txn).await?;
    txn.commit().await?;
    let mut schema = Schema::new();
    for row in rows {
        let collection = Collection::from_row(row)?;
        schema.insert(collection.name.clone(), Arc::new(collection));
    }
    Ok(Some(schema))
}

/// One collection of the tenant, or 404 `collection_not_found`. System collections (`tb_…`)
/// are not reachable by name through the API.
pub async fn get(state: &AppState, tenant_id: Uuid, name: &str) -> Result<Arc<Collection>> {
    public(schema(&state.db, &state.caches, tenant_id).await?.get(name).cloned(), name)
}

/// [`get`] for a unit of work.
pub async fn get_in(ctx: &Ctx<'_>, name: &str) -> Result<Arc<Collection>> {
    public(schema(&ctx.env.db, &ctx.env.caches, ctx.tenant.id).await?.get(name).cloned(), name)
}

fn public(found: Option<Arc<Collection>>, name: &str) -> Result<Arc<Collection>> {
    found.filter(|c| !c.name.starts_with(SYSTEM_PREFIX)).ok_or_else(|| not_found(name))
}

/// Names of system collections (the activity log) start with this; tenants cannot use it.
pub const SYSTEM_PREFIX: &str = "tb_";

/// The tenant's collections by name.
pub async fn list(state: &AppState, tenant_id: Uuid) -> Result<Vec<CollectionView>> {
    let schema = schema(&state.db, &state.caches, tenant_id).await?;
    Ok(schema.values().filter(|c| !c.name.starts_with(SYSTEM_PREFIX)).map(|c| c.view()).collect())
}

/// Creates a collection; 409 `collection_exists` when the name is taken.
#[tracing::instrument(skip(state, input), fields(collection = %input.name))]
pub async fn create(state: &AppState, tenant_id: Uuid, input: NewCollection) -> Result<CollectionView> {
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
    let txn = state.db.tenant(tenant_id).begin().await?;
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
    finish(state, txn, tenant_id).await?;
    Ok(collection.view())
}

/// A system collection of the tenant (`tb_…`, e.g. the activity log), created on first use in
/// a transaction of its own. Two instances creating it at once is fine: the loser reloads.
pub async fn ensure_system(env: &Env, tenant_id: Uuid, name: &str, fields: &[FieldInput]) -> Result<Arc<Collection>> {
    if let Some(found) = schema(&env.db, &env.caches, tenant_id).await?.get(name) {
        return Ok(found.clone());
    }
    let mut checks = Checks::default();
    let fields = define_fields(fields, &[], false, &mut checks);
    checks.finish()?;
    let now = Utc::now();
    let txn = env.db.tenant(tenant_id).begin().await?;
    let row = collection::ActiveModel {
        tenant_id: Set(tenant_id),
        id: Set(Uuid::now_v7()),
        name: Set(name.to_string()),
        fields: Set(stored(&fields)?),
        created_at: Set(now),
        updated_at: Set(now),
    };
    match txn.insert(row).await {
        Ok(_) => {
            txn.announce(Change::Collections(tenant_id)).await?;
            txn.commit().await?;
        }
        Err(error) if matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => drop(txn),
        Err(error) => return Err(error.into()),
    }
    env.caches.apply(Change::Collections(tenant_id));
    schema(&env.db, &env.caches, tenant_id)
        .await?
        .get(name)
        .cloned()
        .ok_or_else(|| Error::internal(format!("system collection {name} missing after creation")))
}

/// Adds fields to a collection; existing fields and items keep their values, and a new field's
/// default is written into every existing item.
#[tracing::instrument(skip(state, patch))]
pub async fn add_fields(
    state: &AppState,
    tenant_id: Uuid,
    name: &str,
    patch: CollectionPatch,
) -> Result<CollectionView> {
    let txn = state.db.tenant(tenant_id).begin().await?;
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
    finish(state, txn, tenant_id).await?;
    Ok(collection.view())
}

/// Drops a field and its values from every item.
#[tracing::instrument(skip(state))]
pub async fn drop_field(state: &AppState, tenant_id: Uuid, name: &str, field: &str) -> Result<CollectionView> {
    let txn = state.db.tenant(tenant_id).begin().await?;
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
    finish(state, txn, tenant_id).await?;
    Ok(collection.view())
}

/// Deletes a collection and all its items.
#[tracing::instrument(skip(state))]
pub async fn delete(state: &AppState, tenant_id: Uuid, name: &str) -> Result<()> {
    let txn = state.db.tenant(tenant_id).begin().await?;
    let collection = locked(&txn, name).await?;
    let items =
        txn.delete_many::<item::Entity>().filter(item::Column::CollectionId.eq(collection.id)).exec(&txn).await?;
    txn.delete_many::<collection::Entity>().filter(collection::Column::Id.eq(collection.id)).exec(&txn).await?;
    finish(state, txn, tenant_id).await?;
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
async fn finish(state: &AppState, txn: TenantTxn, tenant_id: Uuid) -> Result<()> {
    txn.announce(Change::Collections(tenant_id)).await?;
    txn.commit().await?;
    state.caches.apply(Change::Collections(tenant_id));
    Ok(())
}

fn stored(fields: &[StoredField]) -> Result<Value> {
    serde_json::to_value(fields).map_err(|e| Error::internal(format!("serializing fields: {e}")))
}

/// Validates new field definitions next to `existing` ones and gives each indexed or unique
/// field a free key slot. `adding` (PATCH): a new required field must have a default.
fn define_fields(
    inputs: &[FieldInput],
    existing: &[StoredField],
    adding: bool,
    checks: &mut Checks,
) -> Vec<StoredField> {
    if existing.len() + inputs.len() > MAX_FIELDS {
        checks.push(FieldError::new("fields", "too_many", format!("a collection has at most {MAX_FIELDS} fields")));
        return Vec::new();
    }
    let mut taken: Vec<Slot> = existing.iter().filter_map(|f| f.slot).collect();
    let mut names: Vec<&str> = existing.iter().map(StoredField::name).collect();
    let mut defined = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        let at = |member: &str| format!("fields[{i}].{member}");
        let before = checks.len();
        if !is_valid_name(&input.name) {
            checks.push(FieldError::new(
                at("name"),
                "invalid",
                "must match ^[a-z][a-z0-9_]{0,62}$ and not start with tb_",
            ));
        } else if SYSTEM_FIELDS.contains(&input.name.as_str()) {
            checks.push(FieldError::new(at("name"), "reserved", "is a system field of every item"));
        } else if names.contains(&input.name.as_str()) {
            checks.push(FieldError::new(at("name"), "exists", "is already a field of this collection"));
        }
        names.push(&input.name);
        let Some(field_type) = FieldType::parse(&input.field_type) else {
            checks.push(FieldError::new(
                at("type"),
                "invalid",
                "must be one of string, text, integer, number, boolean, datetime, uuid, json, file",
            ));
            continue;
        };
        let max_length = match (input.max_length, field_type) {
            (None, FieldType::String) => Some(DEFAULT_STRING_LENGTH),
            (None, _) => None,
            (Some(n), t) if t.is_textual() && (1..=MAX_LENGTH).contains(&n) => u32::try_from(n).ok(),
            (Some(_), t) if t.is_textual() => {
                checks.push(FieldError::new(at("max_length"), "invalid", format!("must be 1 to {MAX_LENGTH}")));
                None
            }
            (Some(_), _) => {
                checks.push(FieldError::new(at("max_length"), "invalid", "applies only to string and text fields"));
                None
            }
        };
        let unique = input.unique.unwrap_or(false);
        let indexed = input.indexed.unwrap_or(false) || unique;
        if indexed && !field_type.is_indexable() {
            checks.push(FieldError::new(at("indexed"), "invalid", "text and json fields cannot be indexed or unique"));
        }
        if indexed && field_type == FieldType::String && max_length.is_some_and(|n| n > MAX_INDEXED_LENGTH) {
            checks.push(FieldError::new(
                at("max_length"),
                "invalid",
                format!("an indexed or unique string has a max_length of at most {MAX_INDEXED_LENGTH}"),
            ));
        }
        let required = input.required.unwrap_or(false);
        let mut field = StoredField {
            field: Field {
                name: input.name.clone(),
                field_type,
                required,
                unique,
                indexed,
                default: None,
                max_length,
                allowed: None,
            },
            slot: None,
        };
        field.field.allowed = check_enum(input, &field, &at("enum"), checks);
        if let Some(default) = input.default.as_ref().filter(|d| !d.is_null()) {
            match field.value(default) {
                Ok(value) => field.field.default = value,
                Err((_, message)) => checks.push(FieldError::new(at("default"), "invalid", message)),
            }
        } else if adding && required {
            checks.push(FieldError::new(at("default"), "required", "a required field added later needs a default"));
        }
        if indexed && checks.len() == before {
            field.slot = free_slot(unique, &taken);
            match field.slot {
                Some(slot) => taken.push(slot),
                None => checks.push(FieldError::new(
                    at(if unique { "unique" } else { "indexed" }),
                    "too_many",
                    format!("a collection has at most {INDEXED_SLOTS} indexed and {UNIQUE_SLOTS} unique fields"),
                )),
            }
        }
        defined.push(field);
    }
    defined
}

/// The `enum` of a field: 1-100 distinct values of its type, on string, integer or number fields.
fn check_enum(input: &FieldInput, field: &StoredField, at: &str, checks: &mut Checks) -> Option<Vec<Value>> {
    let values = input.allowed.as_ref()?;
    if !matches!(field.field_type(), FieldType::String | FieldType::Integer | FieldType::Number) {
        checks.push(FieldError::new(at, "invalid", "applies only to string, integer and number fields"));
        return None;
    }
    if values.is_empty() || values.len() > MAX_ENUM_VALUES {
        checks.push(FieldError::new(at, "invalid", format!("must list 1 to {MAX_ENUM_VALUES} values")));
        return None;
    }
    let mut allowed: Vec<Value> = Vec::with_capacity(values.len());
    for value in values {
        match field.value(value) {
            Ok(Some(value)) if !allowed.contains(&value) => allowed.push(value),
            Ok(_) => {
                checks.push(FieldError::new(at, "invalid", "must list distinct, non-null values"));
                return None;
            }
            Err((_, message)) => {
                checks.push(FieldError::new(at, "invalid", format!("{value}: {message}")));
                return None;
            }
        }
    }
    Some(allowed)
}

/// The first slot of the kind a field needs that no other field of the collection uses.
fn free_slot(unique: bool, taken: &[Slot]) -> Option<Slot> {
    let candidates: Vec<Slot> = if unique {
        (1..=UNIQUE_SLOTS as u8).map(Slot::Unique).collect()
    } else {
        (1..=INDEXED_SLOTS as u8).map(Slot::Indexed).collect()
    };
    candidates.into_iter().find(|slot| !taken.contains(slot))
}

/// How many collections and items a tenant holds (usage).
/// System collections (the activity log) and their entries are not counted.
pub async fn usage(txn: &TenantTxn) -> Result<(u64, u64)> {
    let rows = txn.find::<collection::Entity>().all(txn).await?;
    let system: Vec<Uuid> = rows.iter().filter(|c| c.name.starts_with(SYSTEM_PREFIX)).map(|c| c.id).collect();
    let items =
        txn.find::<item::Entity>().filter(item::Column::CollectionId.is_not_in(system.clone())).count(txn).await?;
    Ok(((rows.len() - system.len()) as u64, items))
}

/// Deletes all of a tenant's items and collections (tenant purge, inside its scope).
pub async fn purge(txn: &TenantTxn) -> Result<u64> {
    let items = txn.delete_many::<item::Entity>().exec(txn).await?;
    txn.delete_many::<collection::Entity>().exec(txn).await?;
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_pattern() {
        for good in ["a", "articles", "a_1", &"a".repeat(63)] {
            assert!(is_valid_name(good), "{good}");
        }
        for bad in ["", "A", "1a", "_a", "tb_x", "a-b", "a b", &"a".repeat(64), "ä"] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }
}
