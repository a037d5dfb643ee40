//! Item queries: the shape a validated list request takes ([`ItemQuery`]) and its compilation to
//! SQL for PostgreSQL (JSONB) or SQLite (JSON1), always inside the current tenant and collection.
//! `query.rs` holds the query's shape, `sql.rs` writes statements, and `statements.rs` runs them in
//! a tenant transaction.
//!
//! Field names reach SQL only through [`Target`]s, which services build from a collection's
//! validated field definitions (names match `^[a-z][a-z0-9_]{0,62}$`); every value is a bound
//! parameter. Text compares by code point on both databases (`COLLATE "C"` on PostgreSQL).

mod query;
mod sql;
mod statements;

pub use query::{Comparison, Condition, ItemQuery, ItemRow, Operand, Slot, SortKey, SystemColumn, Target, ValueKind};
