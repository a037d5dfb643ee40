//! Items as stored: the row a list or a read returns, how the API renders it, and the row of a
//! new item with the slot keys of its indexed and unique fields.

use sea_orm::ActiveValue::Set;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::{
    db::item_query::{ItemRow, Slot},
    entities::item,
    error::{Error, Result},
    schema::Collection,
};

/// An item as stored, whatever query read it.
pub(super) struct Stored {
    pub(super) id: Uuid,
    pub(super) data: Map<String, Value>,
    pub(super) version: i64,
    pub(super) date_created: String,
    pub(super) date_updated: String,
    pub(super) user_created: Option<Uuid>,
}

impl From<item::Model> for Stored {
    fn from(row: item::Model) -> Self {
        let data = match row.data {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        Stored {
            id: row.id,
            data,
            version: row.version,
            date_created: row.date_created,
            date_updated: row.date_updated,
            user_created: row.user_created,
        }
    }
}

impl TryFrom<ItemRow> for Stored {
    type Error = Error;

    fn try_from(row: ItemRow) -> Result<Self> {
        let data = serde_json::from_str(&row.data)
            .map_err(|e| Error::internal(format!("item {} holds unreadable data: {e}", row.id)))?;
        Ok(Stored {
            id: row.id,
            data,
            version: row.version,
            date_created: row.date_created,
            date_updated: row.date_updated,
            user_created: row.user_created,
        })
    }
}

impl Stored {
    /// The item as the API shows it: `id`, every field (null when unset), the system fields;
    /// only the members in `only`, when given.
    pub(super) fn render(mut self, collection: &Collection, only: Option<&[String]>) -> Value {
        let mut out = Map::new();
        let wanted = |name: &str| only.is_none_or(|names| names.iter().any(|n| n == name));
        if wanted("id") {
            out.insert("id".into(), self.id.to_string().into());
        }
        for field in &collection.fields {
            if wanted(field.name()) {
                out.insert(field.name().into(), self.data.remove(field.name()).unwrap_or(Value::Null));
            }
        }
        for (name, value) in [
            ("date_created", Value::from(self.date_created)),
            ("date_updated", Value::from(self.date_updated)),
            ("user_created", self.user_created.map_or(Value::Null, |id| id.to_string().into())),
            ("version", Value::from(self.version)),
        ] {
            if wanted(name) {
                out.insert(name.into(), value);
            }
        }
        Value::Object(out)
    }
}

/// The row of a new item; every row of one INSERT sets the same columns (unused slots NULL).
pub(super) fn new_row(tenant_id: Uuid, collection: &Collection, item: &Stored) -> item::ActiveModel {
    let mut row = item::ActiveModel {
        tenant_id: Set(tenant_id),
        collection_id: Set(collection.id),
        id: Set(item.id),
        data: Set(Value::Object(item.data.clone())),
        version: Set(item.version),
        date_created: Set(item.date_created.clone()),
        date_updated: Set(item.date_updated.clone()),
        user_created: Set(item.user_created),
        ..Default::default()
    };
    for slot in ALL_SLOTS {
        sea_orm::ActiveModelTrait::set(&mut row, slot_column(slot), Option::<String>::None.into());
    }
    set_keys(&mut row, collection, &item.data, None);
    row
}

/// Writes the slot keys of the item's indexed and unique fields (only of `changed` ones, if given).
pub(super) fn set_keys(
    row: &mut item::ActiveModel,
    collection: &Collection,
    data: &Map<String, Value>,
    changed: Option<&[&str]>,
) {
    for field in &collection.fields {
        if changed.is_some_and(|names| !names.contains(&field.name())) {
            continue;
        }
        if let (Some(slot), Some(key)) = (field.slot, field.key(data.get(field.name()))) {
            sea_orm::ActiveModelTrait::set(row, slot_column(slot), key.into());
        }
    }
}

const ALL_SLOTS: [Slot; 12] = [
    Slot::Indexed(1),
    Slot::Indexed(2),
    Slot::Indexed(3),
    Slot::Indexed(4),
    Slot::Indexed(5),
    Slot::Indexed(6),
    Slot::Indexed(7),
    Slot::Indexed(8),
    Slot::Unique(1),
    Slot::Unique(2),
    Slot::Unique(3),
    Slot::Unique(4),
];

pub(super) fn slot_column(slot: Slot) -> item::Column {
    use item::Column::*;
    match slot {
        Slot::Indexed(1) => K1,
        Slot::Indexed(2) => K2,
        Slot::Indexed(3) => K3,
        Slot::Indexed(4) => K4,
        Slot::Indexed(5) => K5,
        Slot::Indexed(6) => K6,
        Slot::Indexed(7) => K7,
        Slot::Indexed(_) => K8,
        Slot::Unique(1) => U1,
        Slot::Unique(2) => U2,
        Slot::Unique(3) => U3,
        Slot::Unique(_) => U4,
    }
}
