//! The tenant-scoped handle: the one way in to tenant-owned rows (DESIGN.md principles 1 and 2).
//!
//! Every unit of work is a transaction that first sets `app.tenant_id` transaction-locally
//! (`SET LOCAL`, or `set_config(.., true)` inside `tb_enter_tenant`), so nothing leaks to the
//! next user of a pooled connection; PostgreSQL's row-level security then hides every other
//! tenant's rows even if a query forgot its filter.
//! On top of that, [`TenantTxn`] adds `tenant_id = $current` to what it selects, updates and
//! deletes, and stamps `tenant_id` on what it inserts. Its scoped queries ([`Scoped`]) run only
//! against the tenant transaction, which hands out no connection for tenant rows.
//!
//! # Adding your own tenant-owned entity
//!
//! 1. A migration creates the table with `tenant_id` leading its primary key and turns on the
//!    policy: `migrations::rls::enable_tenant_rls(manager, "notes")`. `serve` refuses to start
//!    while any table with a `tenant_id` column lacks forced row-level security.
//! 2. The sea-orm entity declares which column holds the tenant:
//!
//! ```ignore
//! impl tenantbase::db::TenantOwned for note::Entity {
//!     const TENANT_ID: note::Column = note::Column::TenantId;
//! }
//! ```
//!
//! 3. Services reach its rows through a tenant transaction, never a raw connection:
//!
//! ```ignore
//! let txn = db.tenant(tenant_id).begin().await?;
//! txn.insert(note::ActiveModel { id: Set(id), body: Set(text), ..Default::default() }).await?;
//! let mine = txn.find::<note::Entity>().filter(note::Column::Body.contains("x")).all(&txn).await?;
//! txn.commit().await?;
//! ```
//!
//! `tests/api/tenant_db.rs` defines exactly such an entity and shows the scoping at work.

use std::sync::Mutex;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, DeleteMany, EntityTrait,
    IntoActiveModel, QueryFilter, Select, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
    UpdateMany, sea_query::OnConflict,
};
use uuid::Uuid;

use super::{
    PlatformTxn,
    notify::{self, Change, ChangeFeed, Notice},
    txn_conn::TxnConn,
};

/// An entity whose rows belong to one tenant, identified by its `tenant_id` column.
pub trait TenantOwned: EntityTrait {
    const TENANT_ID: Self::Column;
}

/// Opens transactions scoped to one tenant.
#[derive(Clone)]
pub struct TenantDb {
    conn: DatabaseConnection,
    /// Where write transactions run (`connect::writer`).
    writer: DatabaseConnection,
    tenant_id: Uuid,
    changes: ChangeFeed,
}

impl TenantDb {
    pub(crate) fn new(
        conn: DatabaseConnection,
        writer: DatabaseConnection,
        tenant_id: Uuid,
        changes: ChangeFeed,
    ) -> Self {
        TenantDb { conn, writer, tenant_id, changes }
    }

    pub fn tenant_id(&self) -> Uuid {
        self.tenant_id
    }

    /// Starts a transaction that will write, in which the database knows the current tenant,
    /// once it has made sure the tenant still exists and is not deleted: it shares the tenant's
    /// lifecycle lock, so a deletion waits for writes under way and every write after it is
    /// refused ([`TxnError::TenantGone`]). The platform's own scope (the nil id, where
    /// platform admins' sessions live) has no tenant row and no such check.
    ///
    /// On SQLite it takes the write lock up front (`BEGIN IMMEDIATE`): a deferred transaction
    /// that reads and then writes fails at once with "database is locked" when another writer
    /// committed in between, whereas an immediate one waits its turn (busy timeout). That lock
    /// also orders a deletion against writes.
    pub async fn begin(&self) -> Result<TenantTxn, TxnError> {
        if self.tenant_id.is_nil() {
            return Ok(self.start(Access::Write, TenantLock::None).await?.0);
        }
        self.start_live(TenantLock::Shared).await
    }

    /// [`TenantDb::begin`] for a change of the tenant itself (its name, settings or status):
    /// it holds the lifecycle lock alone, so writes under way finish first and later ones wait.
    pub(crate) async fn begin_changing_tenant(&self) -> Result<TenantTxn, TxnError> {
        self.start_live(TenantLock::Exclusive).await
    }

    /// A transaction that will write, holding the lifecycle lock alone but without the
    /// live-tenant check: for the platform's own work on a tenant's lifecycle, creating it (no
    /// row yet) and purging it (deleted).
    pub(crate) async fn begin_lifecycle(&self) -> Result<TenantTxn, DbErr> {
        Ok(self.start(Access::Write, TenantLock::Exclusive).await?.0)
    }

    /// Starts a transaction for reading only; on SQLite it does not wait for writers.
    pub async fn read(&self) -> Result<TenantTxn, DbErr> {
        Ok(self.start(Access::Read, TenantLock::None).await?.0)
    }

    /// A write transaction under the lifecycle lock, refused when the tenant is deleted or gone.
    async fn start_live(&self, lock: TenantLock) -> Result<TenantTxn, TxnError> {
        let (txn, status) = self.start(Access::Write, lock).await?;
        match status.as_deref() {
            Some("deleted") | None => Err(TxnError::TenantGone(self.tenant_id)),
            Some(_) => Ok(txn),
        }
    }

    /// Begins, enters the tenant (and its lifecycle lock); with a lock, the tenant's status read
    /// under it.
    ///
    /// A read on PostgreSQL sends `BEGIN` and the setting in one message (`SET LOCAL`, a utility
    /// statement PostgreSQL neither plans nor executes like a query): the id is a UUID this crate
    /// holds, whose text is hex digits and hyphens, so it can stand in the SQL text.
    async fn start(&self, access: Access, lock: TenantLock) -> Result<(TenantTxn, Option<String>), DbErr> {
        let pool = match access {
            Access::Read => &self.conn,
            Access::Write => &self.writer,
        };
        let (txn, status) = match (pool.get_database_backend(), lock) {
            (DbBackend::Postgres, TenantLock::None) => {
                let setup = format!("SET LOCAL app.tenant_id = '{}'", self.tenant_id);
                (TxnConn::begin_postgres(pool.get_postgres_connection_pool(), &setup).await?, None)
            }
            _ => {
                let txn = match access {
                    Access::Read => pool.begin().await?,
                    Access::Write => pool.begin_with_options(write_options()).await?,
                };
                let status = enter_tenant(&txn, self.tenant_id, lock).await?;
                (TxnConn::Orm(txn), status)
            }
        };
        let txn = TenantTxn {
            txn,
            tenant_id: self.tenant_id,
            changes: Some(self.changes.clone()),
            announced: Mutex::default(),
        };
        Ok((txn, status))
    }
}

/// Whether a transaction will write: writes take the writer pool and, on SQLite, the write lock
/// up front.
#[derive(Clone, Copy)]
enum Access {
    Read,
    Write,
}

fn write_options() -> TransactionOptions {
    TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    }
}

/// Why a tenant transaction did not start.
#[derive(Debug, thiserror::Error)]
pub enum TxnError {
    #[error(transparent)]
    Db(#[from] DbErr),
    /// The tenant was deleted (or never existed): nothing of it may be written any more.
    #[error("tenant {0} is gone")]
    TenantGone(Uuid),
}

/// How a transaction holds its tenant's lifecycle lock (PostgreSQL): writers share it, a change
/// of the tenant itself (or its deletion) holds it alone, so a deletion waits for the writes under
/// way and every write after it sees the tenant deleted. It is an advisory lock, held in memory
/// until the transaction ends, so writers cost the tenant's row nothing.
#[derive(Clone, Copy)]
enum TenantLock {
    None,
    Shared,
    Exclusive,
}

/// Sets the transaction-local `app.tenant_id` that row-level security policies compare with,
/// and with a lock, takes the tenant's lifecycle lock and reads its status after it was granted
/// (`tb_enter_tenant` does all three in one round trip on PostgreSQL).
async fn enter_tenant(conn: &impl ConnectionTrait, tenant_id: Uuid, lock: TenantLock) -> Result<Option<String>, DbErr> {
    let backend = conn.get_database_backend();
    let (sql, values): (&str, Vec<sea_orm::Value>) = match (backend, lock) {
        (DbBackend::Postgres, TenantLock::None) => {
            conn.execute_raw(Statement::from_sql_and_values(
                backend,
                "SELECT set_config('app.tenant_id', $1, true)",
                [tenant_id.to_string().into()],
            ))
            .await?;
            return Ok(None);
        }
        (DbBackend::Postgres, lock) => {
            // The low half of a UUID v7 is random: as good a lock key as the whole id.
            let key = tenant_id.as_u64_pair().1 as i64;
            let exclusive = matches!(lock, TenantLock::Exclusive);
            ("SELECT tb_enter_tenant($1, $2, $3)", vec![tenant_id.to_string().into(), key.into(), exclusive.into()])
        }
        // One writer at a time already orders a deletion against writes.
        (_, TenantLock::None) => return Ok(None),
        (_, _) => ("SELECT status FROM tenants WHERE id = ?", vec![tenant_id.into()]),
    };
    let row = conn.query_one_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
    Ok(row.map(|row| row.try_get_by_index::<Option<String>>(0)).transpose()?.flatten())
}

/// A transaction scoped to one tenant. Dropped without [`TenantTxn::commit`], it rolls back.
///
/// It hands out no connection and cannot be re-scoped: code holding a `&TenantTxn` (a filter
/// hook, say) reaches this tenant's rows and nothing else.
pub struct TenantTxn {
    txn: TxnConn,
    tenant_id: Uuid,
    /// Where this instance hears of the changes once they commit; `None` inside a
    /// [`PlatformTxn`], which tells it when the whole transaction commits.
    changes: Option<ChangeFeed>,
    announced: Mutex<Vec<Change>>,
}

impl TenantTxn {
    /// Scopes a savepoint of a platform transaction to `tenant_id`, for work that spans tenants
    /// all or nothing (`tenants apply`). The setting stays until another scope replaces it.
    pub(crate) async fn nested(parent: &PlatformTxn, tenant_id: Uuid) -> Result<TenantTxn, DbErr> {
        let txn = parent.conn().begin().await?;
        enter_tenant(&txn, tenant_id, TenantLock::None).await?;
        Ok(TenantTxn { txn: TxnConn::Orm(txn), tenant_id, changes: None, announced: Mutex::default() })
    }

    pub fn tenant_id(&self) -> Uuid {
        self.tenant_id
    }

    /// The transaction's connection, for platform tables (tenants, domains, platform admins)
    /// that platform code changes in the same unit of work. Tenant-owned rows never go through
    /// it: they are reached with [`TenantTxn::find`] and its siblings, which scope every query.
    pub(crate) fn platform_conn(&self) -> &TxnConn {
        &self.txn
    }

    /// `SELECT ... WHERE tenant_id = $current`; narrow it with [`Scoped::filter`] or
    /// [`Scoped::map`], run it with [`Scoped::all`], [`Scoped::one`] or [`Scoped::count`].
    pub fn find<E: TenantOwned>(&self) -> Scoped<Select<E>> {
        Scoped(E::find().filter(E::TENANT_ID.eq(self.tenant_id)))
    }

    /// `UPDATE ... WHERE tenant_id = $current` (set columns with `col_expr` inside [`Scoped::map`]).
    pub fn update_many<E: TenantOwned>(&self) -> Scoped<UpdateMany<E>> {
        Scoped(E::update_many().filter(E::TENANT_ID.eq(self.tenant_id)))
    }

    /// `DELETE ... WHERE tenant_id = $current`.
    pub fn delete_many<E: TenantOwned>(&self) -> Scoped<DeleteMany<E>> {
        Scoped(E::delete_many().filter(E::TENANT_ID.eq(self.tenant_id)))
    }

    /// Inserts a row of this tenant; a `tenant_id` set by the caller is overwritten.
    pub async fn insert<A>(&self, model: A) -> Result<<A::Entity as EntityTrait>::Model, DbErr>
    where
        A: ActiveModelTrait + sea_orm::ActiveModelBehavior + Send,
        A::Entity: TenantOwned,
        <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
    {
        self.stamp(model).insert(&self.txn).await
    }

    /// Inserts rows of this tenant in one statement; `tenant_id` is stamped on every row. All
    /// rows must set the same columns.
    pub async fn insert_many<A>(&self, models: Vec<A>) -> Result<(), DbErr>
    where
        A: ActiveModelTrait + Send,
        A::Entity: TenantOwned,
    {
        if models.is_empty() {
            return Ok(());
        }
        let models = models.into_iter().map(|model| self.stamp(model));
        <A::Entity as EntityTrait>::insert_many(models).exec_without_returning(&self.txn).await?;
        Ok(())
    }

    /// Inserts a row of this tenant unless one clashes with it on `conflict`'s unique key; a
    /// concurrent insert of the same key is waited for, as the database does.
    pub async fn insert_if_absent<A>(&self, model: A, conflict: OnConflict) -> Result<(), DbErr>
    where
        A: ActiveModelTrait + Send,
        A::Entity: TenantOwned,
    {
        self.upsert(model, conflict).await
    }

    /// Inserts a row of this tenant, or does what `conflict` says to the row it clashes with
    /// (which, under both walls, can only be this tenant's).
    pub async fn upsert<A>(&self, model: A, conflict: OnConflict) -> Result<(), DbErr>
    where
        A: ActiveModelTrait + Send,
        A::Entity: TenantOwned,
    {
        <A::Entity as EntityTrait>::insert(self.stamp(model))
            .on_conflict(conflict)
            .exec_without_returning(&self.txn)
            .await?;
        Ok(())
    }

    /// Updates one row of this tenant by primary key. The key's `tenant_id` is the current
    /// tenant whatever the model says, so a row of another tenant is never matched.
    pub async fn update<A>(&self, model: A) -> Result<<A::Entity as EntityTrait>::Model, DbErr>
    where
        A: ActiveModelTrait + sea_orm::ActiveModelBehavior + Send,
        A::Entity: TenantOwned,
        <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
    {
        self.stamp(model).update(&self.txn).await
    }

    /// The model with this transaction's tenant as its `tenant_id`, whatever it held.
    fn stamp<A>(&self, mut model: A) -> A
    where
        A: ActiveModelTrait,
        A::Entity: TenantOwned,
    {
        model.set(<A::Entity as TenantOwned>::TENANT_ID, self.tenant_id.into());
        model
    }

    /// Runs a statement built by this module's query compilers, which scope it themselves.
    pub(super) fn raw(&self) -> &TxnConn {
        &self.txn
    }

    /// Announces a change to every instance, this one included, when this transaction commits.
    /// A change already announced by this transaction is not sent again.
    pub(crate) async fn announce(&self, change: Change) -> Result<(), DbErr> {
        if self.announced.lock().is_ok_and(|announced| announced.contains(&change)) {
            return Ok(());
        }
        notify::announce(&self.txn, &change).await?;
        if let Ok(mut announced) = self.announced.lock() {
            announced.push(change);
        }
        Ok(())
    }

    /// Announces that items of `collection` were written, so that every instance's cached
    /// answers about that collection are dropped the moment this transaction commits (the
    /// built-in cache extension calls it after every item write).
    pub async fn items_changed(&self, collection: &str) -> Result<(), DbErr> {
        self.announce(Change::Items { tenant: self.tenant_id, collection: collection.into() }).await
    }

    /// Commits, then tells this instance what changed.
    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await?;
        if let (Some(changes), Ok(announced)) = (self.changes, self.announced.into_inner()) {
            for change in announced {
                changes.publish(Notice::Changed(change));
            }
        }
        Ok(())
    }
}

/// A query already narrowed to the current tenant. It can only be run against a [`TenantTxn`],
/// whose transaction has `app.tenant_id` set, so both walls apply to it.
#[must_use = "a scoped query does nothing until it is run"]
pub struct Scoped<Q>(Q);

impl<Q: QueryFilter> Scoped<Q> {
    /// Adds a condition (conditions only ever narrow the tenant filter).
    pub fn filter(self, condition: impl sea_orm::sea_query::IntoCondition) -> Self {
        Scoped(self.0.filter(condition))
    }
}

impl<Q> Scoped<Q> {
    /// Refines the query (order, limit, locks, columns to set); the tenant filter stays.
    pub fn map(self, refine: impl FnOnce(Q) -> Q) -> Self {
        Scoped(refine(self.0))
    }
}

#[allow(clippy::disallowed_methods, reason = "the scoped executors: the one place tenant queries run")]
impl<E: EntityTrait> Scoped<Select<E>> {
    pub async fn all(self, txn: &TenantTxn) -> Result<Vec<E::Model>, DbErr> {
        self.0.all(&txn.txn).await
    }

    pub async fn one(self, txn: &TenantTxn) -> Result<Option<E::Model>, DbErr> {
        self.0.one(&txn.txn).await
    }

    pub async fn count(self, txn: &TenantTxn) -> Result<u64, DbErr>
    where
        E::Model: Sync,
    {
        sea_orm::PaginatorTrait::count(self.0, &txn.txn).await
    }
}

#[allow(clippy::disallowed_methods, reason = "the scoped executors: the one place tenant queries run")]
impl<E: EntityTrait> Scoped<UpdateMany<E>> {
    /// Runs the update; returns the number of rows changed.
    pub async fn exec(self, txn: &TenantTxn) -> Result<u64, DbErr> {
        Ok(self.0.exec(&txn.txn).await?.rows_affected)
    }
}

#[allow(clippy::disallowed_methods, reason = "the scoped executors: the one place tenant queries run")]
impl<E: EntityTrait> Scoped<DeleteMany<E>> {
    /// Runs the delete; returns the number of rows deleted.
    pub async fn exec(self, txn: &TenantTxn) -> Result<u64, DbErr> {
        Ok(self.0.exec(&txn.txn).await?.rows_affected)
    }
}
