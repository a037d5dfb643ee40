//! Validating new field definitions and giving indexed and unique fields their key slots.

use serde_json::Value;

use super::input::{FieldInput, MAX_FIELDS};
use crate::{
    db::item_query::Slot,
    error::FieldError,
    input::Checks,
    schema::{Field, FieldType, SYSTEM_FIELDS, SYSTEM_PREFIX, StoredField},
};
use migrations::m20261123_000004_collections::{INDEXED_SLOTS, UNIQUE_SLOTS};

/// `^[a-z][a-z0-9_]{0,62}$`, not starting with `tb_` (collections and fields alike).
pub fn is_valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (1..=63).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
        && !name.starts_with(SYSTEM_PREFIX)
}

/// Longest `max_length`; an indexed or unique string must stay within [`MAX_INDEXED_LENGTH`].
const MAX_LENGTH: i64 = 65_535;
const MAX_INDEXED_LENGTH: u32 = 512;
const DEFAULT_STRING_LENGTH: u32 = 255;
const MAX_ENUM_VALUES: usize = 100;

/// Validates new field definitions next to `existing` ones and gives each indexed or unique
/// field a free key slot. `adding` (PATCH): a new required field must have a default.
pub(super) fn define_fields(
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
