//! What a tenant's data looks like: its collections, their typed fields, the rules a value must
//! meet and the order-preserving keys of indexed fields (docs/data-api.md), and the per-tenant
//! cache of these definitions. The collections service validates and changes definitions; the
//! items service checks values against them; a unit of work carries the cache, as Directus
//! hands its services and hooks the schema.

mod cache;
pub mod field;

use chrono::{DateTime, Utc};
use uuid::Uuid;

pub use cache::{Schema, SchemaCache};
pub use field::{Field, FieldType, StoredField, format_datetime, normalize_datetime};

use crate::{
    entities::collection,
    error::{Error, Result},
};

/// Names of system collections (the activity log) start with this; tenants cannot use it.
pub const SYSTEM_PREFIX: &str = "tb_";
/// Columns every item has; no field may take these names.
pub const SYSTEM_FIELDS: [&str; 6] = ["id", "tenant_id", "date_created", "date_updated", "user_created", "version"];

/// A collection and its fields, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Collection {
    pub id: Uuid,
    pub name: String,
    pub fields: Vec<StoredField>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Collection {
    pub fn field(&self, name: &str) -> Option<&StoredField> {
        self.fields.iter().find(|f| f.name() == name)
    }

    /// Whether this is a system collection, which the collections and items APIs cannot reach.
    pub fn is_system(&self) -> bool {
        self.name.starts_with(SYSTEM_PREFIX)
    }

    /// Reads a stored collection row.
    pub fn from_row(row: collection::Model) -> Result<Collection> {
        let fields = serde_json::from_value(row.fields)
            .map_err(|e| Error::internal(format!("collection {} has unreadable fields: {e}", row.id)))?;
        Ok(Collection { id: row.id, name: row.name, fields, created_at: row.created_at, updated_at: row.updated_at })
    }
}
