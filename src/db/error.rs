//! The database layer's own error.

use sea_orm::DbErr;

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

impl From<super::TxnError> for crate::error::Error {
    /// A deleted tenant is answered like an unknown one (404), as resolution answers it.
    fn from(error: super::TxnError) -> Self {
        match error {
            super::TxnError::Db(error) => crate::error::Error::Database(error),
            super::TxnError::TenantGone(_) => {
                crate::error::Error::new(crate::error::Code::TenantNotFound, "No such tenant.")
            }
        }
    }
}
