//! Database access. Only this module holds the raw connection: platform code reaches platform
//! tables through [`PlatformDb`], and tenant-owned rows are reached only through [`TenantDb`].

pub(crate) mod connect;
pub mod item_query;
pub mod notify;
mod platform_db;
pub mod roles;
mod tenant_db;

use sea_orm::DbErr;

pub use connect::{connect, migrate};
pub use notify::{Change, ChangeFeed, Notice};
pub use platform_db::{PlatformDb, PlatformTxn};
pub use roles::RoleCheck;
pub use tenant_db::{Scoped, TenantDb, TenantOwned, TenantTxn};

/// Errors of connecting, migrating and checking the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot connect to {url}: {source}")]
    Connect { url: String, source: DbErr },
    #[error("cannot prepare the data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error("migration failed: {0}")]
    Migrate(DbErr),
    #[error("{0}")]
    Unmigrated(String),
    #[error("database error: {0}")]
    Query(#[from] DbErr),
}
