//! Items: the records of a collection (docs/data-api.md "Items"). Values are checked against the
//! collection's fields and normalised; unique fields are enforced per tenant and collection by
//! the database (and checked first, to name the offending object of an array); every write bumps
//! `version`, which `If-Match` compares. `read.rs` and `write.rs` hold the operations,
//! `stored.rs` the stored form, `values.rs` the checks of values against the collection, and
//! `service.rs` the operations as hooks run them.

mod answers;
mod read;
mod service;
mod stored;
mod values;
mod write;

pub(crate) use answers::cached;
pub use answers::{get_answer, list_answer};
pub(crate) use read::{find_system, query_in};
pub use read::{get, list};
pub use service::ItemService;
pub use write::{Created, MAX_BATCH, Precondition, create, delete, update};
pub(crate) use write::{delete_system, insert_system, update_in, update_system};
