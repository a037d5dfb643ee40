//! Writing item statements: SQL text with bound parameters, for PostgreSQL or SQLite.

use sea_orm::{DbBackend, Statement, Value};
use uuid::Uuid;

use super::{Comparison, Condition, Operand, Slot, SortKey, SystemColumn, Target, ValueKind};

/// A statement being written, with its parameters in order.
pub(super) struct Sql {
    backend: DbBackend,
    text: String,
    values: Vec<Value>,
}

impl Sql {
    pub(super) fn new(backend: DbBackend) -> Self {
        Sql { backend, text: String::with_capacity(256), values: Vec::new() }
    }

    pub(super) fn postgres(&self) -> bool {
        self.backend == DbBackend::Postgres
    }

    pub(super) fn push(&mut self, text: &str) {
        self.text.push_str(text);
    }

    pub(super) fn bind(&mut self, value: Value) {
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
    pub(super) fn scope(&mut self, tenant_id: Uuid, collection_id: Uuid) {
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

    pub(super) fn condition(&mut self, condition: &Condition) {
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
    pub(super) fn sort_key(&mut self, key: &SortKey) {
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

    pub(super) fn finish(self) -> Statement {
        Statement::from_sql_and_values(self.backend, self.text, self.values)
    }
}
