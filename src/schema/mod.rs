//! What a tenant's data looks like: its collections, their typed fields, the rules a value must
//! meet and the order-preserving keys of indexed fields (docs/data-api.md), and the per-tenant
//! cache of these definitions. The collections service validates and changes definitions; the
//! items service checks values against them; a unit of work carries the cache, as Directus
//! hands its services and hooks the schema.

mod cache;
mod collection;
pub mod field;

pub use cache::{Schema, SchemaCache};
pub use collection::Collection;
pub use field::{Field, FieldType, StoredField, format_datetime, normalize_datetime};

/// Names of system collections (the activity log) start with this; tenants cannot use it.
pub const SYSTEM_PREFIX: &str = "tb_";
/// Columns every item has; no field may take these names.
pub const SYSTEM_FIELDS: [&str; 6] = ["id", "tenant_id", "date_created", "date_updated", "user_created", "version"];
