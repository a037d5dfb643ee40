//! Item queries: the shape a validated list request takes ([`ItemQuery`]) and its compilation to
//! SQL for PostgreSQL (JSONB) or SQLite (JSON1), always inside the current tenant and collection.
//!
//! Field names reach SQL only through [`Target`]s, which services build from a collection's
//! validated field definitions (names match `^[a-z][a-z0-9_]{0,62}$`); every value is a bound
//! parameter. Text compares by code point on both databases (`COLLATE "C"` on PostgreSQL).

use sea_orm::{ConnectionTrait, DbBackend, DbErr, FromQueryResult, Statement, Value};
use uuid::Uuid;

use super::TenantTxn;

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
    fn column(self) -> &'static str {
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
    fn sql(self) -> &'static str {
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

impl TenantTxn {
    /// The items `query` selects, in its order.
    pub async fn list_items(&self, query: &ItemQuery) -> Result<Vec<ItemRow>, DbErr> {
        ItemRow::find_by_statement(self.list_statement(query, "")).all(self.raw()).await
    }

    /// PostgreSQL's plan for listing `query` (`EXPLAIN`, one line per row), to check which
    /// indexes a query uses.
    pub async fn explain_items(&self, query: &ItemQuery) -> Result<String, DbErr> {
        let rows = self.raw().query_all_raw(self.list_statement(query, "EXPLAIN ")).await?;
        let lines = rows.iter().map(|row| row.try_get_by_index::<String>(0)).collect::<Result<Vec<_>, _>>()?;
        Ok(lines.join("\n"))
    }

    fn list_statement(&self, query: &ItemQuery, prefix: &str) -> Statement {
        let mut sql = Sql::new(self.raw().get_database_backend());
        let data = if sql.postgres() { "data::text AS data" } else { "data" };
        sql.push(&format!(
            "{prefix}SELECT id, {data}, version, date_created, date_updated, user_created FROM items WHERE "
        ));
        sql.scope(self.tenant_id(), query.collection_id);
        sql.push(" AND ");
        sql.condition(&query.condition);
        // A partial slot index serves a sort only when the query says its rows are in it.
        for key in &query.sort {
            if let Target::Slot(slot @ Slot::Indexed(_)) = key.target {
                sql.push(&format!(" AND {} IS NOT NULL", slot.column()));
            }
        }
        sql.push(" ORDER BY ");
        for (i, key) in query.sort.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.sort_key(key);
        }
        sql.push(" LIMIT ");
        sql.bind(Value::from(query.limit as i64));
        sql.push(" OFFSET ");
        sql.bind(Value::from(query.offset as i64));
        sql.finish()
    }

    /// How many items `query`'s condition selects (limit and offset ignored).
    pub async fn count_items(&self, query: &ItemQuery) -> Result<u64, DbErr> {
        let mut sql = Sql::new(self.raw().get_database_backend());
        sql.push("SELECT count(*) AS n FROM items WHERE ");
        sql.scope(self.tenant_id(), query.collection_id);
        sql.push(" AND ");
        sql.condition(&query.condition);
        let row = self.raw().query_one_raw(sql.finish()).await?;
        let count: i64 = match row {
            Some(row) => row.try_get("", "n")?,
            None => 0,
        };
        Ok(count.max(0) as u64)
    }

    /// Writes `value` (JSON text) as field `name` into every item of the collection, and `key`
    /// into its slot, if it has one: the default of a newly added field.
    pub async fn backfill_field(
        &self,
        collection_id: Uuid,
        name: &str,
        value: Option<&str>,
        slot: Option<(Slot, Option<String>)>,
    ) -> Result<(), DbErr> {
        let mut sql = Sql::new(self.raw().get_database_backend());
        sql.push("UPDATE items SET version = version");
        if let Some(value) = value {
            sql.push(if sql.postgres() { ", data = jsonb_set(data, ARRAY[" } else { ", data = json_set(data, " });
            sql.bind(Value::from(json_path(sql.postgres(), name)));
            sql.push(if sql.postgres() { "::text], " } else { ", json(" });
            sql.bind(Value::from(value.to_string()));
            sql.push(if sql.postgres() { "::jsonb)" } else { "))" });
        }
        if let Some((slot, key)) = slot {
            sql.push(&format!(", {} = ", slot.column()));
            sql.bind(Value::from(key));
        }
        sql.push(" WHERE ");
        sql.scope(self.tenant_id(), collection_id);
        self.raw().execute_raw(sql.finish()).await?;
        Ok(())
    }

    /// Removes field `name` from every item of the collection and clears its slot.
    pub async fn drop_field(&self, collection_id: Uuid, name: &str, slot: Option<Slot>) -> Result<(), DbErr> {
        let mut sql = Sql::new(self.raw().get_database_backend());
        sql.push(if sql.postgres() {
            "UPDATE items SET data = data - "
        } else {
            "UPDATE items SET data = json_remove(data, "
        });
        sql.bind(Value::from(json_path(sql.postgres(), name)));
        if !sql.postgres() {
            sql.push(")");
        }
        if let Some(slot) = slot {
            sql.push(&format!(", {} = NULL", slot.column()));
        }
        sql.push(" WHERE ");
        sql.scope(self.tenant_id(), collection_id);
        self.raw().execute_raw(sql.finish()).await?;
        Ok(())
    }
}

/// The key of `name` in `data`: the bare name for PostgreSQL's operators, a JSON path for SQLite.
fn json_path(postgres: bool, name: &str) -> String {
    if postgres { name.to_string() } else { format!("$.{name}") }
}

/// A statement being written, with its parameters in order.
struct Sql {
    backend: DbBackend,
    text: String,
    values: Vec<Value>,
}

impl Sql {
    fn new(backend: DbBackend) -> Self {
        Sql { backend, text: String::with_capacity(256), values: Vec::new() }
    }

    fn postgres(&self) -> bool {
        self.backend == DbBackend::Postgres
    }

    fn push(&mut self, text: &str) {
        self.text.push_str(text);
    }

    fn bind(&mut self, value: Value) {
        self.values.push(value);
        if self.postgres() {
            self.text.push_str(&format!("${}", self.values.len()));
        } else {
            self.text.push('?');
        }
    }

    /// A comparison operand. SQLite reads numbers out of JSON text with its own parser, which is
    /// not exact at extreme exponents; a float operand is passed as the same text and read by the
    /// same parser, so that a stored value equals itself.
    fn operand(&mut self, value: &Operand) {
        match value {
            Operand::Number(n) if !self.postgres() => {
                self.push("CAST(");
                self.bind(Value::from(serde_json::Value::from(*n).to_string()));
                self.push(" AS REAL)");
            }
            other => self.bind(other.clone().into()),
        }
    }

    /// Both walls of the scope: the tenant (also enforced by row-level security) and the collection.
    fn scope(&mut self, tenant_id: Uuid, collection_id: Uuid) {
        self.push("tenant_id = ");
        self.bind(tenant_id.into());
        self.push(" AND collection_id = ");
        self.bind(collection_id.into());
    }

    /// The SQL expression of a target's value, typed for comparison.
    fn target(&mut self, target: &Target) {
        let expression = match target {
            Target::System(column) => column.column().to_string(),
            Target::Slot(slot) => slot.column(),
            Target::Data { name, kind } if self.postgres() => match kind {
                ValueKind::Text => format!("(data->>'{name}') COLLATE \"C\""),
                ValueKind::Integer => format!("(data->>'{name}')::bigint"),
                ValueKind::Number => format!("(data->>'{name}')::float8"),
                ValueKind::Boolean => format!("(data->>'{name}')::boolean"),
                ValueKind::Json => format!("(data->'{name}')"),
            },
            Target::Data { name, .. } => format!("json_extract(data, '$.{name}')"),
        };
        self.push(&expression);
    }

    /// SQL that is true when the target is unset.
    fn unset(&mut self, target: &Target) {
        self.target(target);
        self.push(match target {
            Target::Slot(Slot::Indexed(_)) => " = ''",
            _ => " IS NULL",
        });
    }

    /// For an indexed slot, where an unset value is `''`: `AND slot <> ''`, so that unset values
    /// match no comparison (those that `''` could satisfy: `<>`, `<`, `<=`).
    fn unless_unset(&mut self, target: &Target) {
        if let Target::Slot(slot @ Slot::Indexed(_)) = target {
            self.push(&format!(" AND {} <> ''", slot.column()));
        }
    }

    fn condition(&mut self, condition: &Condition) {
        match condition {
            Condition::All(all) if all.is_empty() => self.push("1 = 1"),
            Condition::Any(any) if any.is_empty() => self.push("1 = 0"),
            Condition::All(parts) | Condition::Any(parts) => {
                let joiner = if matches!(condition, Condition::All(_)) { " AND " } else { " OR " };
                self.push("(");
                for (i, part) in parts.iter().enumerate() {
                    if i > 0 {
                        self.push(joiner);
                    }
                    self.condition(part);
                }
                self.push(")");
            }
            Condition::Compare { target, op, value } => {
                self.push("(");
                self.target(target);
                self.push(&format!(" {} ", op.sql()));
                self.operand(value);
                if matches!(op, Comparison::Neq | Comparison::Lt | Comparison::Lte) {
                    self.unless_unset(target);
                }
                self.push(")");
            }
            Condition::In { target, values, negated } => {
                if values.is_empty() {
                    if *negated {
                        self.push("NOT (");
                        self.unset(target);
                        self.push(")");
                    } else {
                        self.push("1 = 0");
                    }
                    return;
                }
                self.push("(");
                self.target(target);
                self.push(if *negated { " NOT IN (" } else { " IN (" });
                for (i, value) in values.iter().enumerate() {
                    if i > 0 {
                        self.push(", ");
                    }
                    self.operand(value);
                }
                self.push(")");
                if *negated {
                    self.unless_unset(target);
                }
                self.push(")");
            }
            Condition::Null { target, is_null } => {
                self.push(if *is_null { "(" } else { "NOT (" });
                self.unset(target);
                self.push(")");
            }
            Condition::Contains { target, needle } => {
                self.push(if self.postgres() { "strpos(" } else { "instr(" });
                self.target(target);
                self.push(", ");
                self.bind(needle.clone().into());
                self.push(") > 0");
            }
            Condition::StartsWith { target, prefix } => {
                self.push("substr(");
                self.target(target);
                self.push(", 1, CAST(");
                self.bind(Value::from(prefix.chars().count() as i64));
                self.push(" AS INTEGER)) = ");
                self.bind(prefix.clone().into());
            }
            Condition::Search { targets, needle } => {
                if targets.is_empty() {
                    self.push("1 = 0");
                    return;
                }
                self.push("(");
                for (i, target) in targets.iter().enumerate() {
                    if i > 0 {
                        self.push(" OR ");
                    }
                    self.push(if self.postgres() { "strpos(lower(" } else { "instr(lower(" });
                    self.target(target);
                    self.push("), ");
                    self.bind(needle.clone().into());
                    self.push(") > 0");
                }
                self.push(")");
            }
        }
    }

    /// Ascending puts unset values first, descending last, on both databases.
    fn sort_key(&mut self, key: &SortKey) {
        self.target(&key.target);
        // Indexed slots hold `''` for unset, which already sorts first; columns that are never
        // NULL need no NULLS clause either. Leaving it out lets an index give the order.
        let never_null = match &key.target {
            Target::Slot(Slot::Indexed(_)) => true,
            Target::System(column) => *column != SystemColumn::UserCreated,
            _ => false,
        };
        self.push(match (never_null, key.descending) {
            (true, false) => " ASC",
            (true, true) => " DESC",
            (false, false) => " ASC NULLS FIRST",
            (false, true) => " DESC NULLS LAST",
        });
    }

    fn finish(self) -> Statement {
        Statement::from_sql_and_values(self.backend, self.text, self.values)
    }
}
