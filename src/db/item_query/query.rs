//! The shape of a validated item list request: targets, operands, conditions and sort keys.

use sea_orm::{FromQueryResult, Value};
use uuid::Uuid;

/// Where a field's value lives in an item row.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A column of every item: `id`, `version`, `date_created`, `date_updated`, `user_created`.
    System(SystemColumn),
    /// A value inside `data`, read as `kind`.
    Data { name: String, kind: ValueKind },
    /// The indexed key slot of a field (`k1`..`k8`: `''` when unset; `u1`..`u4`: NULL when unset).
    Slot(Slot),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemColumn {
    Id,
    Version,
    DateCreated,
    DateUpdated,
    UserCreated,
}

impl SystemColumn {
    pub(crate) fn column(self) -> &'static str {
        match self {
            SystemColumn::Id => "id",
            SystemColumn::Version => "version",
            SystemColumn::DateCreated => "date_created",
            SystemColumn::DateUpdated => "date_updated",
            SystemColumn::UserCreated => "user_created",
        }
    }
}

/// How a `data` value is read for comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    Text,
    Integer,
    Number,
    Boolean,
    Json,
}

/// A key slot column of `items`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Slot {
    /// `k1`..`k8`, plain index.
    Indexed(u8),
    /// `u1`..`u4`, unique per tenant and collection.
    Unique(u8),
}

impl Slot {
    pub fn column(self) -> String {
        match self {
            Slot::Indexed(n) => format!("k{n}"),
            Slot::Unique(n) => format!("u{n}"),
        }
    }
}

impl From<Slot> for String {
    fn from(slot: Slot) -> String {
        slot.column()
    }
}

impl TryFrom<String> for Slot {
    type Error = String;

    fn try_from(name: String) -> Result<Slot, String> {
        let parse = |rest: &str, max: usize| rest.parse::<u8>().ok().filter(|n| (1..=max as u8).contains(n));
        let slot = match name.split_at_checked(1) {
            Some(("k", n)) => parse(n, migrations::m20261123_000004_collections::INDEXED_SLOTS).map(Slot::Indexed),
            Some(("u", n)) => parse(n, migrations::m20261123_000004_collections::UNIQUE_SLOTS).map(Slot::Unique),
            _ => None,
        };
        slot.ok_or_else(|| format!("`{name}` is not a key slot"))
    }
}

/// A bound value.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Text(String),
    Integer(i64),
    Number(f64),
    Boolean(bool),
    Uuid(Uuid),
}

impl From<Operand> for Value {
    fn from(operand: Operand) -> Value {
        match operand {
            Operand::Text(text) => text.into(),
            Operand::Integer(n) => n.into(),
            Operand::Number(n) => n.into(),
            Operand::Boolean(b) => b.into(),
            Operand::Uuid(id) => id.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Eq,
    Neq,
    Lt,
    Lte,
    Gt,
    Gte,
}

impl Comparison {
    pub(crate) fn sql(self) -> &'static str {
        match self {
            Comparison::Eq => "=",
            Comparison::Neq => "<>",
            Comparison::Lt => "<",
            Comparison::Lte => "<=",
            Comparison::Gt => ">",
            Comparison::Gte => ">=",
        }
    }
}

/// A filter over items. An unset value satisfies only `Null { is_null: true }`.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// Every condition holds (none: always true).
    All(Vec<Condition>),
    /// At least one holds (none: always false).
    Any(Vec<Condition>),
    Compare {
        target: Target,
        op: Comparison,
        value: Operand,
    },
    /// One of `values` (`negated`: none of them, and set).
    In {
        target: Target,
        values: Vec<Operand>,
        negated: bool,
    },
    Null {
        target: Target,
        is_null: bool,
    },
    Contains {
        target: Target,
        needle: String,
    },
    StartsWith {
        target: Target,
        prefix: String,
    },
    /// Any of `targets` contains `needle`, ASCII letters compared case-insensitively
    /// (`needle` is already lower-cased).
    Search {
        targets: Vec<Target>,
        needle: String,
    },
}

/// One key of an `ORDER BY`.
#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub target: Target,
    pub descending: bool,
}

/// A validated list request over one collection.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemQuery {
    pub collection_id: Uuid,
    pub condition: Condition,
    /// Ends with `id` so the order is total (in the direction of the key before it, so that a
    /// `(key, id)` index gives the whole order).
    pub sort: Vec<SortKey>,
    pub limit: u64,
    pub offset: u64,
}

/// An item row as lists return it: the system columns and the JSON of its values.
#[derive(Debug, Clone, FromQueryResult)]
pub struct ItemRow {
    pub id: Uuid,
    pub data: String,
    pub version: i64,
    pub date_created: String,
    pub date_updated: String,
    pub user_created: Option<Uuid>,
}
