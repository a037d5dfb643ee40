//! Field types and their values: what a field accepts, how a value is normalised before it is
//! stored, and the order-preserving key an indexed or unique field keeps in its slot.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::db::item_query::{Operand, Slot, Target, ValueKind};
use crate::input::{MAX_JSON_NUMBER, json_problem};

/// The type of a collection field (API.md "Collections and items").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    String,
    Text,
    Integer,
    Number,
    Boolean,
    Datetime,
    Uuid,
    Json,
    /// The id of a file (a UUID).
    File,
}

impl FieldType {
    pub const ALL: [FieldType; 9] = [
        FieldType::String,
        FieldType::Text,
        FieldType::Integer,
        FieldType::Number,
        FieldType::Boolean,
        FieldType::Datetime,
        FieldType::Uuid,
        FieldType::Json,
        FieldType::File,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Text => "text",
            FieldType::Integer => "integer",
            FieldType::Number => "number",
            FieldType::Boolean => "boolean",
            FieldType::Datetime => "datetime",
            FieldType::Uuid => "uuid",
            FieldType::Json => "json",
            FieldType::File => "file",
        }
    }

    pub fn parse(name: &str) -> Option<FieldType> {
        FieldType::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// How the database reads a stored value of this type.
    pub fn kind(self) -> ValueKind {
        match self {
            FieldType::Integer => ValueKind::Integer,
            FieldType::Number => ValueKind::Number,
            FieldType::Boolean => ValueKind::Boolean,
            FieldType::Json => ValueKind::Json,
            _ => ValueKind::Text,
        }
    }

    /// Whether `_lt`, `_gt`, `_between` and sorting mean something for this type.
    pub fn is_ordered(self) -> bool {
        !matches!(self, FieldType::Boolean | FieldType::Json)
    }

    /// Whether values can be compared at all (`_eq`, `_in`, sorting); `json` only by presence.
    pub fn is_comparable(self) -> bool {
        self != FieldType::Json
    }

    pub fn is_textual(self) -> bool {
        matches!(self, FieldType::String | FieldType::Text)
    }

    /// Whether an index (or uniqueness) may be declared: not on unbounded text or JSON.
    pub fn is_indexable(self) -> bool {
        !matches!(self, FieldType::Text | FieldType::Json)
    }

    /// Checks that `value` is of this type and returns its stored form: datetimes in UTC with
    /// microseconds, UUIDs lower-case hyphenated. `null` is not a value (the caller handles it).
    pub fn coerce(self, value: &Value) -> Result<Value, String> {
        let wrong = || format!("must be {}", self.described());
        match self {
            FieldType::String | FieldType::Text => match value.as_str() {
                Some(s) if s.contains('\0') => Err("must not contain NUL characters".into()),
                Some(_) => Ok(value.clone()),
                None => Err(wrong()),
            },
            FieldType::Integer => value.as_i64().map(Value::from).ok_or_else(wrong),
            FieldType::Number => match value.as_f64() {
                Some(n) if value.is_number() && n.abs() <= MAX_JSON_NUMBER => Ok(value.clone()),
                Some(_) if value.is_number() => Err("must be at most ±1e300".into()),
                _ => Err(wrong()),
            },
            FieldType::Boolean => value.as_bool().map(Value::from).ok_or_else(wrong),
            FieldType::Datetime => value.as_str().and_then(normalize_datetime).map(Value::from).ok_or_else(wrong),
            FieldType::Uuid | FieldType::File => value
                .as_str()
                .and_then(|s| Uuid::parse_str(s).ok())
                .map(|id| Value::from(id.to_string()))
                .ok_or_else(wrong),
            FieldType::Json => match json_problem(value) {
                Some(problem) => Err(problem.into()),
                None => Ok(value.clone()),
            },
        }
    }

    fn described(self) -> &'static str {
        match self {
            FieldType::String | FieldType::Text => "a string",
            FieldType::Integer => "an integer (64-bit)",
            FieldType::Number => "a number",
            FieldType::Boolean => "true or false",
            FieldType::Datetime => "an RFC 3339 date-time (years 0001-9999)",
            FieldType::Uuid | FieldType::File => "a UUID",
            FieldType::Json => "JSON",
        }
    }

    /// The order-preserving text of a stored value: byte order of keys is value order.
    fn key_text(self, value: &Value) -> String {
        match (self, value) {
            (FieldType::Integer, Value::Number(n)) => {
                format!("{:016x}", (n.as_i64().unwrap_or_default() as u64) ^ (1 << 63))
            }
            (FieldType::Number, Value::Number(n)) => format!("{:016x}", sortable_bits(n.as_f64().unwrap_or_default())),
            (FieldType::Boolean, Value::Bool(b)) => if *b { "1" } else { "0" }.to_string(),
            (_, Value::String(s)) => s.clone(),
            (_, other) => other.to_string(),
        }
    }

    /// The typed operand of a stored value for comparing it in SQL.
    fn operand(self, value: &Value) -> Operand {
        match (self.kind(), value) {
            (ValueKind::Integer, v) => Operand::Integer(v.as_i64().unwrap_or_default()),
            (ValueKind::Number, v) => Operand::Number(v.as_f64().unwrap_or_default()),
            (ValueKind::Boolean, v) => Operand::Boolean(v.as_bool().unwrap_or_default()),
            (_, Value::String(s)) => Operand::Text(s.clone()),
            (_, other) => Operand::Text(other.to_string()),
        }
    }
}

/// `f64` bits mapped so that unsigned order is numeric order (-0.0 counts as 0.0).
fn sortable_bits(n: f64) -> u64 {
    let bits = if n == 0.0 { 0.0f64.to_bits() } else { n.to_bits() };
    if bits >> 63 == 1 { !bits } else { bits | (1 << 63) }
}

/// Any RFC 3339 date-time as UTC with six fractional digits, so text order is time order.
pub fn normalize_datetime(raw: &str) -> Option<String> {
    let parsed = DateTime::parse_from_rfc3339(raw).ok()?.with_timezone(&Utc);
    let year = chrono::Datelike::year(&parsed);
    (1..=9999).contains(&year).then(|| format_datetime(parsed))
}

/// The stored form of an instant.
pub fn format_datetime(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A field as the API shows and accepts it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Field {
    pub name: String,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    pub required: bool,
    pub unique: bool,
    pub indexed: bool,
    #[schema(value_type = Option<Object>)]
    pub default: Option<Value>,
    pub max_length: Option<u32>,
    #[serde(rename = "enum")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub allowed: Option<Vec<Value>>,
}

/// A field as stored: the definition and the key slot an indexed or unique field occupies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredField {
    #[serde(flatten)]
    pub field: Field,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<Slot>,
}

impl StoredField {
    pub fn name(&self) -> &str {
        &self.field.name
    }

    pub fn field_type(&self) -> FieldType {
        self.field.field_type
    }

    /// Checks an item's value against the type and the field's rules; `Ok(None)` for unset.
    /// Errors are `(code, message)` for a per-field 422.
    pub fn value(&self, value: &Value) -> Result<Option<Value>, (&'static str, String)> {
        if value.is_null() {
            return Ok(None);
        }
        let value = self.field_type().coerce(value).map_err(|m| ("invalid_type", m))?;
        if let (Some(max), Some(text)) = (self.field.max_length, value.as_str())
            && text.chars().count() > max as usize
        {
            return Err(("too_long", format!("must be at most {max} characters")));
        }
        if let Some(allowed) = &self.field.allowed
            && !allowed.iter().any(|a| same_value(a, &value))
        {
            return Err(("not_in_enum", format!("must be one of {}", Value::from(allowed.clone()))));
        }
        Ok(Some(value))
    }

    /// What the slot holds for a stored value (`None` when the field has no slot).
    pub fn key(&self, value: Option<&Value>) -> Option<Option<String>> {
        let slot = self.slot?;
        Some(match (slot, value) {
            (Slot::Indexed(_), None) => Some(String::new()),
            (Slot::Unique(_), None) => None,
            (_, Some(value)) => Some(format!("v{}", self.field_type().key_text(value))),
        })
    }

    /// Where queries compare this field: its slot when it has one.
    pub fn target(&self) -> Target {
        match self.slot {
            Some(slot) => Target::Slot(slot),
            None => self.data_target(),
        }
    }

    /// The value inside `data` (for substring matching, which slots cannot do).
    pub fn data_target(&self) -> Target {
        Target::Data { name: self.field.name.clone(), kind: self.field_type().kind() }
    }

    /// A filter operand: type-checked and normalised like a stored value (but not held to
    /// `enum` or `max_length`), in the form its target compares.
    pub fn operand(&self, value: &Value) -> Result<Operand, String> {
        if value.is_null() {
            return Err("must not be null (use _null)".into());
        }
        let value = self.field_type().coerce(value)?;
        Ok(match self.key(Some(&value)) {
            Some(Some(key)) => Operand::Text(key),
            _ => self.field_type().operand(&value),
        })
    }
}

/// Equality of two stored values of one field (numbers numerically: `1` equals `1.0`).
fn same_value(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) if a.is_number() && b.is_number() => x == y,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn keys_sort_like_their_values() {
        let ints = [i64::MIN, -1000, -1, 0, 1, 9, 10, 1000, i64::MAX];
        let keys: Vec<String> = ints.iter().map(|n| FieldType::Integer.key_text(&json!(n))).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{keys:?}");
        let floats = [-1e300, -2.5, -1.0, -1e-300, 0.0, 1e-300, 0.5, 1.0, 9.0, 10.0, 1e300];
        let keys: Vec<String> = floats.iter().map(|n| FieldType::Number.key_text(&json!(n))).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{keys:?}");
        assert_eq!(FieldType::Number.key_text(&json!(-0.0)), FieldType::Number.key_text(&json!(0.0)));
    }

    #[test]
    fn values_are_normalised() {
        assert_eq!(
            FieldType::Datetime.coerce(&json!("2026-01-02T03:04:05+02:00")).unwrap(),
            json!("2026-01-02T01:04:05.000000Z")
        );
        assert_eq!(
            FieldType::Uuid.coerce(&json!("6F9619FF-8B86-D011-B42D-00C04FC964FF")).unwrap(),
            json!("6f9619ff-8b86-d011-b42d-00c04fc964ff")
        );
        for (t, bad) in [
            (FieldType::Integer, json!(1.5)),
            (FieldType::Integer, json!("1")),
            (FieldType::Integer, json!(u64::MAX)),
            (FieldType::Number, json!("1")),
            (FieldType::Number, json!(1e301)),
            (FieldType::Boolean, json!(1)),
            (FieldType::Datetime, json!("2026-13-01T00:00:00Z")),
            (FieldType::Datetime, json!("yesterday")),
            (FieldType::String, json!("a\0b")),
            (FieldType::String, json!(1)),
        ] {
            assert!(t.coerce(&bad).is_err(), "{t:?} accepted {bad}");
        }
    }

    #[test]
    fn unset_values_key_first_in_indexed_slots_and_null_in_unique_ones() {
        let field = |slot| StoredField {
            field: Field {
                name: "x".into(),
                field_type: FieldType::String,
                required: false,
                unique: false,
                indexed: true,
                default: None,
                max_length: Some(10),
                allowed: None,
            },
            slot: Some(slot),
        };
        assert_eq!(field(Slot::Indexed(1)).key(None), Some(Some(String::new())));
        assert_eq!(field(Slot::Unique(1)).key(None), Some(None));
        assert_eq!(field(Slot::Indexed(1)).key(Some(&json!(""))), Some(Some("v".into())));
    }
}
