//! Reading collection definitions as clients send them: every malformed member is reported by
//! its path (`fields[2].default`), which serde's own messages cannot do.

use serde_json::Value;

use crate::{
    error::{Error, FieldError, Result},
    input::Checks,
};

/// Most fields a collection may have.
pub const MAX_FIELDS: usize = 100;

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
