//! Checking an item's values against its collection: members that name no field, defaults,
//! required fields, and unique fields (checked first so an array names the offending object;
//! the database's unique index still decides races).

use sea_orm::{ColumnTrait, DbErr, SqlErr};
use serde_json::{Map, Value};

use super::stored::slot_column;
use crate::{
    db::TenantTxn,
    entities::item,
    error::{Error, FieldError, Result},
    input::Checks,
    schema::{Collection, SYSTEM_FIELDS, StoredField},
};

/// The field a body member names, or why it names none (system or unknown field).
pub(super) fn checked_member<'c>(
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
pub(super) fn new_values(
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

/// Refuses values of unique fields that repeat inside the batch or already exist, naming the
/// object and field (the database's unique index still decides races).
pub(super) async fn check_unique(
    txn: &TenantTxn,
    collection: &Collection,
    rows: &[item::ActiveModel],
    one: bool,
) -> Result<()> {
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
pub(super) fn on_unique(error: DbErr, collection: &Collection) -> Error {
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
