//! The list query language of items (docs/data-api.md "Listing"): `filter`, `sort`, `fields`,
//! `search`, `limit`, `offset`, `meta`, parsed and checked against one collection into an
//! [`ItemQuery`]. Any unknown name or malformed value is 400 `invalid_query`; nothing unchecked
//! reaches SQL.

use serde_json::{Map, Value};

pub use crate::hooks::ListParams;
use crate::{
    db::item_query::{Comparison, Condition, ItemQuery, Operand, SortKey, SystemColumn, Target},
    error::{Code, Error, Result},
    input::Page,
    schema::{Collection, FieldType, StoredField},
};

/// Longest `filter` accepted, in bytes.
pub const MAX_FILTER_BYTES: usize = 8 * 1024;
/// Deepest nesting of a filter (each object or `_and`/`_or` list is a level).
pub const MAX_FILTER_DEPTH: usize = 10;
/// Most values of one `_in` / `_nin`.
pub const MAX_IN_VALUES: usize = 500;
/// Most sort keys.
pub const MAX_SORT_KEYS: usize = 8;
const MAX_SEARCH_CHARS: usize = 200;

/// A list request, ready to run.
#[derive(Debug)]
pub struct ListRequest {
    pub query: ItemQuery,
    /// The members to return; `None` for all.
    pub fields: Option<Vec<String>>,
    pub with_total: bool,
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(Code::InvalidQuery, message)
}

/// A field or system column of a collection, as queries see it.
#[derive(Debug, Clone, Copy)]
enum Column<'c> {
    System(SystemColumn),
    Field(&'c StoredField),
}

impl Column<'_> {
    fn field_type(self) -> FieldType {
        match self {
            Column::System(SystemColumn::Id | SystemColumn::UserCreated) => FieldType::Uuid,
            Column::System(SystemColumn::Version) => FieldType::Integer,
            Column::System(SystemColumn::DateCreated | SystemColumn::DateUpdated) => FieldType::Datetime,
            Column::Field(field) => field.field_type(),
        }
    }

    fn target(self) -> Target {
        match self {
            Column::System(column) => Target::System(column),
            Column::Field(field) => field.target(),
        }
    }

    fn operand(self, name: &str, op: &str, value: &Value) -> Result<Operand> {
        let operand = match self {
            Column::Field(field) => field.operand(value),
            Column::System(_) if value.is_null() => Err("must not be null (use _null)".to_string()),
            Column::System(column) => self.field_type().coerce(value).map(|v| match (column, v) {
                (SystemColumn::Version, v) => Operand::Integer(v.as_i64().unwrap_or_default()),
                (SystemColumn::Id | SystemColumn::UserCreated, Value::String(s)) => {
                    Operand::Uuid(s.parse().unwrap_or_default())
                }
                (_, Value::String(s)) => Operand::Text(s),
                (_, other) => Operand::Text(other.to_string()),
            }),
        };
        operand.map_err(|message| invalid(format!("filter: `{name}` {op}: the value {message}")))
    }
}

fn column<'c>(collection: &'c Collection, name: &str) -> Option<Column<'c>> {
    let system = match name {
        "id" => Some(SystemColumn::Id),
        "version" => Some(SystemColumn::Version),
        "date_created" => Some(SystemColumn::DateCreated),
        "date_updated" => Some(SystemColumn::DateUpdated),
        "user_created" => Some(SystemColumn::UserCreated),
        _ => None,
    };
    system.map(Column::System).or_else(|| collection.field(name).map(Column::Field))
}

fn known<'c>(collection: &'c Collection, name: &str, what: &str, columns: Columns) -> Result<Column<'c>> {
    let found = column(collection, name).filter(|c| columns == Columns::WithSystem || matches!(c, Column::Field(_)));
    found.ok_or_else(|| {
        let shown: String = name.chars().take(64).collect();
        invalid(format!("{what}: `{shown}` is not a field of collection `{}`", collection.name))
    })
}

/// Which names `filter` and `sort` accept besides the collection's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Columns {
    /// Also `id`, `version`, `date_created`, `date_updated`, `user_created` (items).
    WithSystem,
    /// Only the fields (system collections such as the activity log, whose entries have no
    /// system members of their own).
    FieldsOnly,
}

/// Parses and checks every list parameter against `collection`.
pub fn parse(collection: &Collection, params: &ListParams) -> Result<ListRequest> {
    parse_with(collection, params, Columns::WithSystem)
}

/// [`parse`], choosing which names `filter` and `sort` may use.
pub fn parse_with(collection: &Collection, params: &ListParams, columns: Columns) -> Result<ListRequest> {
    let page = Page::new(params.limit, params.offset, params.meta.as_deref())?;
    let mut conditions = Vec::new();
    if let Some(raw) = params.filter.as_deref().filter(|f| !f.trim().is_empty()) {
        conditions.push(parse_filter(collection, raw, columns)?);
    }
    if let Some(needle) = params.search.as_deref().filter(|s| !s.is_empty()) {
        conditions.push(search(collection, needle)?);
    }
    let condition = if conditions.len() == 1 { conditions.remove(0) } else { Condition::All(conditions) };
    Ok(ListRequest {
        query: ItemQuery {
            collection_id: collection.id,
            condition,
            sort: parse_sort(collection, params.sort.as_deref(), columns)?,
            limit: page.limit,
            offset: page.offset,
        },
        fields: parse_fields(collection, params.fields.as_deref())?,
        with_total: page.with_total,
    })
}

fn search(collection: &Collection, needle: &str) -> Result<Condition> {
    if needle.contains('\0') || needle.chars().count() > MAX_SEARCH_CHARS {
        return Err(invalid(format!("search must be at most {MAX_SEARCH_CHARS} characters, without NUL")));
    }
    let targets = collection.fields.iter().filter(|f| f.field_type().is_textual()).map(|f| f.data_target()).collect();
    Ok(Condition::Search { targets, needle: needle.to_ascii_lowercase() })
}

/// `filter` JSON → condition, within the size and depth limits.
pub fn parse_filter(collection: &Collection, raw: &str, columns: Columns) -> Result<Condition> {
    if raw.len() > MAX_FILTER_BYTES {
        return Err(invalid(format!("filter must be at most {MAX_FILTER_BYTES} bytes")));
    }
    let value: Value = serde_json::from_str(raw).map_err(|e| invalid(format!("filter is not valid JSON: {e}")))?;
    match &value {
        Value::Object(object) => filter_object(collection, object, 1, columns),
        _ => Err(invalid("filter must be a JSON object")),
    }
}

fn filter_object(
    collection: &Collection,
    object: &Map<String, Value>,
    depth: usize,
    columns: Columns,
) -> Result<Condition> {
    if depth > MAX_FILTER_DEPTH {
        return Err(invalid(format!("filter nests deeper than {MAX_FILTER_DEPTH} levels")));
    }
    let mut all = Vec::with_capacity(object.len());
    for (key, value) in object {
        all.push(match key.as_str() {
            "_and" | "_or" => {
                let Value::Array(parts) = value else {
                    return Err(invalid(format!("filter: {key} takes an array of filters")));
                };
                let mut parsed = Vec::with_capacity(parts.len());
                for part in parts {
                    let Value::Object(part) = part else {
                        return Err(invalid(format!("filter: every element of {key} must be an object")));
                    };
                    parsed.push(filter_object(collection, part, depth + 1, columns)?);
                }
                if key == "_and" { Condition::All(parsed) } else { Condition::Any(parsed) }
            }
            name if name.starts_with('_') => return Err(invalid(format!("filter: unknown logical operator `{name}`"))),
            name => field_filter(collection, name, value, columns)?,
        });
    }
    Ok(if all.len() == 1 { all.remove(0) } else { Condition::All(all) })
}

fn field_filter(collection: &Collection, name: &str, value: &Value, columns: Columns) -> Result<Condition> {
    let column = known(collection, name, "filter", columns)?;
    let Value::Object(operators) = value else {
        return Err(invalid(format!("filter: `{name}` takes an object of operators, like {{\"_eq\": …}}")));
    };
    if operators.is_empty() {
        return Err(invalid(format!("filter: `{name}` names no operator")));
    }
    let field_type = column.field_type();
    let mut all = Vec::with_capacity(operators.len());
    for (op, operand) in operators {
        let unsupported = || invalid(format!("filter: {op} does not apply to `{name}` ({})", field_type.as_str()));
        let target = column.target();
        all.push(match op.as_str() {
            "_eq" | "_neq" | "_lt" | "_lte" | "_gt" | "_gte" => {
                let comparison = match op.as_str() {
                    "_eq" => Comparison::Eq,
                    "_neq" => Comparison::Neq,
                    "_lt" => Comparison::Lt,
                    "_lte" => Comparison::Lte,
                    "_gt" => Comparison::Gt,
                    _ => Comparison::Gte,
                };
                let ordering = !matches!(comparison, Comparison::Eq | Comparison::Neq);
                if !field_type.is_comparable() || (ordering && !field_type.is_ordered()) {
                    return Err(unsupported());
                }
                Condition::Compare { target, op: comparison, value: column.operand(name, op, operand)? }
            }
            "_in" | "_nin" => {
                if !field_type.is_comparable() {
                    return Err(unsupported());
                }
                let Value::Array(values) = operand else {
                    return Err(invalid(format!("filter: `{name}` {op} takes an array")));
                };
                if values.len() > MAX_IN_VALUES {
                    return Err(invalid(format!("filter: {op} takes at most {MAX_IN_VALUES} values")));
                }
                let values = values.iter().map(|v| column.operand(name, op, v)).collect::<Result<Vec<_>>>()?;
                Condition::In { target, values, negated: op == "_nin" }
            }
            "_between" => {
                if !field_type.is_ordered() {
                    return Err(unsupported());
                }
                let Some([low, high]) = operand.as_array().map(Vec::as_slice) else {
                    return Err(invalid(format!("filter: `{name}` _between takes [low, high]")));
                };
                Condition::All(vec![
                    Condition::Compare {
                        target: target.clone(),
                        op: Comparison::Gte,
                        value: column.operand(name, op, low)?,
                    },
                    Condition::Compare { target, op: Comparison::Lte, value: column.operand(name, op, high)? },
                ])
            }
            "_null" | "_nnull" => {
                let Some(flag) = operand.as_bool() else {
                    return Err(invalid(format!("filter: `{name}` {op} takes true or false")));
                };
                Condition::Null { target, is_null: flag == (op == "_null") }
            }
            "_contains" | "_starts_with" => {
                let (Column::Field(field), true) = (column, field_type.is_textual()) else {
                    return Err(unsupported());
                };
                let Some(text) = operand.as_str().filter(|t| !t.contains('\0')) else {
                    return Err(invalid(format!("filter: `{name}` {op} takes a string")));
                };
                let target = field.data_target();
                if op == "_contains" {
                    Condition::Contains { target, needle: text.to_string() }
                } else {
                    Condition::StartsWith { target, prefix: text.to_string() }
                }
            }
            other => {
                let shown: String = other.chars().take(32).collect();
                return Err(invalid(format!("filter: unknown operator `{shown}`")));
            }
        });
    }
    Ok(if all.len() == 1 { all.remove(0) } else { Condition::All(all) })
}

/// `sort` → keys, ending with `id` (in the direction of the last key) unless `id` is sorted on.
fn parse_sort(collection: &Collection, raw: Option<&str>, columns: Columns) -> Result<Vec<SortKey>> {
    let mut keys = Vec::new();
    let mut has_id = false;
    if let Some(raw) = raw.filter(|s| !s.is_empty()) {
        for part in raw.split(',') {
            let (descending, name) = match part.strip_prefix('-') {
                Some(name) => (true, name),
                None => (false, part),
            };
            let column = known(collection, name, "sort", columns)?;
            if !column.field_type().is_comparable() {
                return Err(invalid(format!("sort: `{name}` is a json field and cannot be sorted")));
            }
            has_id |= matches!(column, Column::System(SystemColumn::Id));
            keys.push(SortKey { target: column.target(), descending });
        }
        if keys.len() > MAX_SORT_KEYS {
            return Err(invalid(format!("sort takes at most {MAX_SORT_KEYS} fields")));
        }
    }
    if !has_id {
        let descending = keys.last().is_some_and(|key| key.descending);
        keys.push(SortKey { target: Target::System(SystemColumn::Id), descending });
    }
    Ok(keys)
}

/// `fields` → the member names to return (`None`: all).
fn parse_fields(collection: &Collection, raw: Option<&str>) -> Result<Option<Vec<String>>> {
    let Some(raw) = raw.filter(|s| !s.is_empty() && *s != "*") else { return Ok(None) };
    let mut names = Vec::new();
    for name in raw.split(',') {
        known(collection, name, "fields", Columns::WithSystem)?;
        if !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    }
    Ok(Some(names))
}
