//! A collection as stored: its name and typed fields.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{SYSTEM_PREFIX, StoredField};
use crate::{
    entities::collection,
    error::{Error, Result},
};

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
