//! Database access. Only this module holds the raw connection: platform code reaches platform
//! tables through [`PlatformDb`], and tenant-owned rows are reached only through [`TenantDb`].

pub(crate) mod connect;
pub mod item_query;
pub mod notify;
pub mod roles;
mod tenant_db;

use sea_orm::{DatabaseConnection, DbBackend, DbErr};

pub use connect::{connect, migrate};
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

/// The handle for platform tables (tenants, domains, platform admins) and for the few named
/// operations that must work across tenants. Its name makes such code stand out in review.
#[derive(Clone)]
pub struct PlatformDb {
    conn: DatabaseConnection,
}

impl PlatformDb {
    pub(crate) fn new(conn: DatabaseConnection) -> Self {
        PlatformDb { conn }
    }

    /// Connects with the runtime URL (`TB_DATABASE_URL`), for one-off commands.
    pub async fn connect(config: &crate::Config) -> Result<Self, DbError> {
        Ok(PlatformDb::new(connect(&config.database_url).await?))
    }

    /// The connection for platform tables (tenants, domains, platform admins). Tenant-owned rows
    /// are reached through [`PlatformDb::tenant`]; row-level security shows nothing here.
    pub fn platform_conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// The scoped handle for one tenant's rows.
    pub fn tenant(&self, tenant_id: uuid::Uuid) -> TenantDb {
        TenantDb::new(self.conn.clone(), tenant_id)
    }

    /// A transaction over platform tables, e.g. to wrap several [`TenantTxn::nested`] scopes.
    /// On SQLite it takes the write lock up front, like [`TenantDb::begin`].
    pub async fn begin(&self) -> Result<sea_orm::DatabaseTransaction, DbErr> {
        let options = sea_orm::TransactionOptions {
            sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
            ..Default::default()
        };
        sea_orm::TransactionTrait::begin_with_options(&self.conn, options).await
    }

    pub fn backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }

    /// Answers whether the database responds, for `/health/ready`.
    pub async fn ping(&self) -> bool {
        self.conn.ping().await.is_ok()
    }
}
