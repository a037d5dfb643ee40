//! The platform handle: platform tables (tenants, domains, platform admins, schedule claims) and
//! the named operations that must work across tenants. Its name makes such code stand out in
//! review, and its raw connection is for this crate only: extension code gets a tenant's scope
//! (`PlatformDb::tenant`), never the connection.

use sea_orm::{DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, TransactionTrait};

use super::{
    DbError, TenantDb,
    notify::{ChangeFeed, Notice},
};

/// The handle for platform tables and for opening tenant scopes.
#[derive(Clone)]
pub struct PlatformDb {
    conn: DatabaseConnection,
    /// Where write transactions run (`connect::writer`).
    writer: DatabaseConnection,
    changes: ChangeFeed,
}

impl PlatformDb {
    /// `changes` hears every change announced by a transaction of this handle, once it commits.
    pub(crate) fn new(conn: DatabaseConnection, writer: DatabaseConnection, changes: ChangeFeed) -> Self {
        PlatformDb { conn, writer, changes }
    }

    /// Connects with the runtime URL (`TB_DATABASE_URL`), for one-off commands and tests.
    pub async fn connect(config: &crate::Config) -> Result<Self, DbError> {
        let conn = super::connect(&config.database_url).await?;
        let writer = super::connect::writer(&config.database_url, &conn).await?;
        Ok(PlatformDb::new(conn, writer, ChangeFeed::default()))
    }

    /// The connection for platform tables. Tenant-owned rows are reached through
    /// [`PlatformDb::tenant`]; row-level security shows none of them here.
    pub(crate) fn platform_conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// The scoped handle for one tenant's rows.
    pub fn tenant(&self, tenant_id: uuid::Uuid) -> TenantDb {
        TenantDb::new(self.conn.clone(), self.writer.clone(), tenant_id, self.changes.clone())
    }

    /// A transaction over platform tables, to wrap several tenant scopes all or nothing
    /// (`tenants apply`). On SQLite it takes the write lock up front, like [`TenantDb::begin`].
    pub(crate) async fn begin(&self) -> Result<PlatformTxn, DbErr> {
        let options = sea_orm::TransactionOptions {
            sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
            ..Default::default()
        };
        let txn = self.writer.begin_with_options(options).await?;
        Ok(PlatformTxn { txn, changes: self.changes.clone() })
    }

    pub fn backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }

    /// Answers whether the database responds, for `/health/ready`.
    pub async fn ping(&self) -> bool {
        self.conn.ping().await.is_ok()
    }
}

/// A transaction spanning several tenants' scopes ([`super::TenantTxn::nested`]).
pub struct PlatformTxn {
    txn: DatabaseTransaction,
    changes: ChangeFeed,
}

impl PlatformTxn {
    pub(crate) fn conn(&self) -> &DatabaseTransaction {
        &self.txn
    }

    /// Commits; this instance then forgets everything it cached, since any tenant may have
    /// changed (other instances hear each change through `NOTIFY`).
    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await?;
        self.changes.publish(Notice::Reset);
        Ok(())
    }
}
