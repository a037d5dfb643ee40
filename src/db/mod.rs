//! Database access. Only this module holds the raw connection: platform code reaches platform
//! tables through [`PlatformDb`], and tenant-owned rows are reached only through [`TenantDb`].

pub(crate) mod connect;
mod error;
pub mod fence;
pub mod instances;
pub mod item_query;
mod listener;
pub mod notify;
mod platform_db;
pub mod roles;
mod tenant_db;
mod txn_conn;

pub use connect::{connect, migrate};
pub use error::DbError;
pub use fence::ChangeFence;
pub use listener::spawn_listener;
pub use notify::{Change, ChangeFeed, Notice};
pub use platform_db::{PlatformDb, PlatformTxn};
pub use roles::RoleCheck;
pub use tenant_db::{Scoped, TenantDb, TenantOwned, TenantTxn, TxnError};
