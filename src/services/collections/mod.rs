//! Collections: the schemas tenant admins define (docs/data-api.md). Definitions are validated
//! here (`input.rs` reads them, `define.rs` checks them), stored as JSON on the collection row,
//! and cached per tenant (`schema::SchemaCache`); every change drops the tenant's entry on every
//! instance.

mod define;
mod input;
mod read;
mod write;

pub use define::is_valid_name;
pub use input::{CollectionPatch, FieldInput, MAX_FIELDS, NewCollection};
pub(crate) use read::get_in;
pub(crate) use read::usage;
pub use read::{CollectionView, get, list};
pub(crate) use write::purge;
pub use write::{add_fields, create, delete, drop_field};
pub(crate) use write::{ensure_system, ensure_system_in};
