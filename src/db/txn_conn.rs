//! The connection a tenant transaction runs on.
//!
//! On PostgreSQL the transaction is begun through sqlx directly, so that `BEGIN` and the tenant
//! setting travel in one simple-protocol message: one round trip, one wake-up of the backend,
//! where sea-orm's `begin` and a separate setting take two. Everything after that runs as
//! sea-orm's own transactions run it (the same sqlx query, the same error mapping). sea-orm's
//! transaction serves SQLite and savepoints inside a platform transaction.

use sea_orm::{
    ConnAcquireErr, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, ExecResult, QueryResult, RuntimeErr,
    Statement, sea_query::Values,
};
use sea_query_sqlx::SqlxValues;
use sqlx::{AssertSqlSafe, Executor, PgPool, Postgres, Transaction};
use tokio::sync::Mutex;

/// A transaction: sea-orm's, or on PostgreSQL one begun together with its first statements.
pub(crate) enum TxnConn {
    Orm(DatabaseTransaction),
    Postgres(Mutex<Transaction<'static, Postgres>>),
}

impl TxnConn {
    /// Begins a PostgreSQL transaction whose first statements, `setup`, are sent in the same
    /// message as `BEGIN`. The simple protocol has no parameters: `setup` must be built from
    /// values this crate made and validated (a tenant id), never from request text.
    pub(crate) async fn begin_postgres(pool: &PgPool, setup: &str) -> Result<Self, DbErr> {
        let txn = pool.begin_with(AssertSqlSafe(format!("BEGIN; {setup}"))).await.map_err(begin_error)?;
        Ok(TxnConn::Postgres(Mutex::new(txn)))
    }

    pub(crate) async fn commit(self) -> Result<(), DbErr> {
        match self {
            TxnConn::Orm(txn) => txn.commit().await,
            TxnConn::Postgres(txn) => txn.into_inner().commit().await.map_err(query_error),
        }
    }
}

/// The statement as sea-orm's PostgreSQL driver binds it.
fn bound(stmt: &Statement) -> sqlx::query::Query<'_, Postgres, SqlxValues> {
    let values = stmt.values.clone().unwrap_or(Values(Vec::new()));
    sqlx::query_with(AssertSqlSafe(stmt.sql.as_str()), SqlxValues(values))
}

fn begin_error(error: sqlx::Error) -> DbErr {
    match error {
        sqlx::Error::PoolTimedOut => DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
        sqlx::Error::PoolClosed => DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
        other => query_error(other),
    }
}

fn query_error(error: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(error.into()))
}

fn exec_error(error: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(error.into()))
}

#[async_trait::async_trait]
impl ConnectionTrait for TxnConn {
    fn get_database_backend(&self) -> DbBackend {
        match self {
            TxnConn::Orm(txn) => txn.get_database_backend(),
            TxnConn::Postgres(_) => DbBackend::Postgres,
        }
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match self {
            TxnConn::Orm(txn) => txn.execute_raw(stmt).await,
            TxnConn::Postgres(txn) => {
                let mut txn = txn.lock().await;
                bound(&stmt).execute(&mut **txn).await.map(Into::into).map_err(exec_error)
            }
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match self {
            TxnConn::Orm(txn) => txn.execute_unprepared(sql).await,
            TxnConn::Postgres(txn) => {
                let mut txn = txn.lock().await;
                txn.execute(AssertSqlSafe(sql.to_owned())).await.map(Into::into).map_err(exec_error)
            }
        }
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match self {
            TxnConn::Orm(txn) => txn.query_one_raw(stmt).await,
            TxnConn::Postgres(txn) => {
                let mut txn = txn.lock().await;
                bound(&stmt).fetch_optional(&mut **txn).await.map(|row| row.map(Into::into)).map_err(query_error)
            }
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match self {
            TxnConn::Orm(txn) => txn.query_all_raw(stmt).await,
            TxnConn::Postgres(txn) => {
                let mut txn = txn.lock().await;
                let rows = bound(&stmt).fetch_all(&mut **txn).await.map_err(query_error)?;
                Ok(rows.into_iter().map(Into::into).collect())
            }
        }
    }
}
