//! Units of work: one tenant's transaction, the caller, and the action hooks it queues. The
//! [`Runtime`] is what they share: the hook registry, the database, the tenants' schemas and the
//! item operations hooks may run. Services open a [`Unit`], work in its [`Ctx`], and end it with
//! [`Unit::finish`]: commit, then actions; or roll back, then error hooks.

use std::{
    panic::AssertUnwindSafe,
    sync::{Arc, Mutex},
    time::Instant,
};

use futures_util::FutureExt;
use serde_json::Value;
use uuid::Uuid;

use super::{ActionContext, HookContext, HookError, Hooks, ItemOperations, events::ErrorEvent};
use crate::{
    auth::Caller,
    db::{PlatformDb, TenantTxn},
    error::{Code, Error, Result},
    schema::SchemaCache,
    storage::FileStore,
    tenancy::Tenant,
};

/// What every unit of work shares; cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct Runtime(Arc<Shared>);

struct Shared {
    hooks: Hooks,
    db: PlatformDb,
    schemas: SchemaCache,
    files: FileStore,
    items: Box<dyn ItemOperations>,
}

impl Runtime {
    /// Built once by the composition root, which hands in the item operations of the service
    /// layer (this layer knows no service).
    pub(crate) fn new(
        hooks: Hooks,
        db: PlatformDb,
        schemas: SchemaCache,
        files: FileStore,
        items: impl ItemOperations,
    ) -> Runtime {
        Runtime(Arc::new(Shared { hooks, db, schemas, files, items: Box::new(items) }))
    }

    pub fn hooks(&self) -> &Hooks {
        &self.0.hooks
    }

    pub(crate) fn db(&self) -> &PlatformDb {
        &self.0.db
    }

    pub(crate) fn schemas(&self) -> &SchemaCache {
        &self.0.schemas
    }

    /// The object store and the file rules.
    pub(crate) fn files(&self) -> &FileStore {
        &self.0.files
    }

    pub(crate) fn items(&self) -> &dyn ItemOperations {
        &*self.0.items
    }
}

/// An action waiting for its transaction to commit.
#[derive(Debug)]
pub(crate) struct PendingAction {
    event: &'static str,
    collection: Option<String>,
    payload: Value,
}

/// Inside one unit of work: the tenant, the caller, the transaction, how deep hooks have nested.
/// Services work in it; filter hooks see it through [`HookContext`].
pub struct Ctx<'a> {
    pub(crate) runtime: &'a Runtime,
    pub(crate) tenant: &'a Arc<Tenant>,
    pub(crate) caller: Option<&'a Caller>,
    pub(crate) txn: &'a TenantTxn,
    /// 0 for a request; one more for each hook-run operation inside it.
    pub(crate) depth: u8,
    actions: &'a Mutex<Vec<PendingAction>>,
}

impl<'a> Ctx<'a> {
    pub fn tenant(&self) -> &Tenant {
        self.tenant
    }

    pub fn caller(&self) -> Option<&Caller> {
        self.caller
    }

    /// The tenant-scoped transaction of the unit.
    pub fn txn(&self) -> &TenantTxn {
        self.txn
    }

    /// Whether any filter hook listens to `event` for this tenant (to skip building payloads).
    pub(crate) fn has_filters(&self, event: &str, collection: Option<&str>) -> bool {
        self.runtime.hooks().filters_for(event, collection, self.tenant).next().is_some()
    }

    /// Runs the filter hooks of `event` over `payload`, in order, together within the deadline;
    /// a rejection, panic or overrun fails the whole unit of work.
    pub(crate) async fn filter(
        &self,
        event: &str,
        collection: Option<&str>,
        key: Option<Uuid>,
        payload: Value,
    ) -> Result<Value> {
        let mut filters = self.runtime.hooks().filters_for(event, collection, self.tenant).peekable();
        if filters.peek().is_none() {
            return Ok(payload);
        }
        let hook_ctx = HookContext::new(self, event, collection, key);
        let chain = async {
            let mut payload = payload;
            for filter in filters {
                payload = filter(&hook_ctx, payload).await?;
            }
            Ok::<_, HookError>(payload)
        };
        self.guarded(event, chain).await
    }

    /// Records that the operation of `event` wrote: its after hooks run now, inside the
    /// transaction (an error fails the unit of work), and its action hooks are queued to run
    /// with the same payload once the transaction commits. `payload` is built only if a hook
    /// listens.
    pub(crate) async fn written(
        &self,
        event: &'static str,
        collection: Option<&str>,
        key: Option<Uuid>,
        payload: impl FnOnce() -> Value,
    ) -> Result<()> {
        let hooks = self.runtime.hooks();
        let mut afters = hooks.afters_for(event, collection, self.tenant).peekable();
        let acted = hooks.actions_for(event, collection, Some(self.tenant)).next().is_some();
        if afters.peek().is_none() && !acted {
            return Ok(());
        }
        let payload = payload();
        if afters.peek().is_some() {
            let hook_ctx = HookContext::new(self, event, collection, key);
            let chain = async {
                for after in afters {
                    after(&hook_ctx, &payload).await?;
                }
                Ok::<_, HookError>(())
            };
            self.guarded(event, chain).await?;
        }
        if acted && let Ok(mut actions) = self.actions.lock() {
            actions.push(PendingAction { event, collection: collection.map(str::to_string), payload });
        }
        Ok(())
    }

    /// Runs a chain of hooks of `event` with one deadline and one unwind guard for all of them
    /// (a timer per hook would cost more than the hooks themselves when they do nothing).
    async fn guarded<T>(&self, event: &str, chain: impl Future<Output = Result<T, HookError>>) -> Result<T> {
        let timeout = self.runtime.hooks().filter_timeout;
        let started = Instant::now();
        match tokio::time::timeout(timeout, AssertUnwindSafe(chain).catch_unwind()).await {
            Ok(Ok(Ok(value))) => Ok(value),
            Ok(Ok(Err(rejection))) => Err(rejection.into_error()),
            Ok(Err(_panic)) => {
                tracing::error!(tenant = %self.tenant.id, event, "a hook panicked; the operation is rolled back");
                Err(Error::new(Code::HookFailed, format!("A hook on {event} failed; nothing was changed.")))
            }
            Err(_elapsed) => {
                let ms = started.elapsed().as_millis() as u64;
                tracing::error!(tenant = %self.tenant.id, event, ms, "hooks ran past their deadline");
                Err(Error::new(
                    Code::HookTimeout,
                    format!("The hooks on {event} ran past {} ms; nothing was changed.", timeout.as_millis()),
                ))
            }
        }
    }

    /// The context for an operation a hook runs itself, one level deeper.
    pub(crate) fn nested(&self) -> Result<Ctx<'a>> {
        let depth = next_depth(self.runtime.hooks(), self.depth)?;
        Ok(Ctx { depth, ..*self })
    }
}

/// One level deeper than `depth`, or 508 `hook_depth_exceeded` past the registry's limit.
pub(crate) fn next_depth(hooks: &Hooks, depth: u8) -> Result<u8> {
    if depth >= hooks.max_depth {
        return Err(Error::new(
            Code::HookDepthExceeded,
            format!("Hooks triggered each other more than {} levels deep; stopped to prevent a loop.", hooks.max_depth),
        ));
    }
    Ok(depth + 1)
}

/// One unit of work for one tenant: a transaction and the actions it queues.
pub struct Unit<'e> {
    runtime: &'e Runtime,
    tenant: &'e Arc<Tenant>,
    caller: Option<&'e Caller>,
    depth: u8,
    txn: TenantTxn,
    actions: Mutex<Vec<PendingAction>>,
}

impl<'e> Unit<'e> {
    /// Opens a transaction of `tenant` (`write`: one that will write; on SQLite it takes the
    /// write lock up front).
    pub(crate) async fn begin(
        runtime: &'e Runtime,
        tenant: &'e Arc<Tenant>,
        caller: Option<&'e Caller>,
        depth: u8,
        write: bool,
    ) -> Result<Unit<'e>> {
        let db = runtime.db().tenant(tenant.id);
        let txn = if write { db.begin().await? } else { db.read().await? };
        Ok(Unit { runtime, tenant, caller, depth, txn, actions: Mutex::new(Vec::new()) })
    }

    /// [`Unit::begin`] for a change of the tenant itself, which locks its row for update first.
    pub(crate) async fn begin_changing_tenant(
        runtime: &'e Runtime,
        tenant: &'e Arc<Tenant>,
        caller: Option<&'e Caller>,
    ) -> Result<Unit<'e>> {
        let txn = runtime.db().tenant(tenant.id).begin_changing_tenant().await?;
        Ok(Unit { runtime, tenant, caller, depth: 0, txn, actions: Mutex::new(Vec::new()) })
    }

    pub(crate) fn ctx(&self) -> Ctx<'_> {
        Ctx {
            runtime: self.runtime,
            tenant: self.tenant,
            caller: self.caller,
            txn: &self.txn,
            depth: self.depth,
            actions: &self.actions,
        }
    }

    /// Commits when `outcome` is a success and then starts the queued action hooks; otherwise
    /// rolls back and passes the error through the error hooks of `event`.
    pub(crate) async fn finish<T>(self, outcome: Result<T>, event: &str, collection: Option<&str>) -> Result<T> {
        let (runtime, tenant, caller, depth) = (self.runtime, self.tenant, self.caller, self.depth);
        let committed = match outcome {
            Ok(value) => match self.txn.commit().await {
                Ok(()) => Ok(value),
                Err(error) => Err(error.into()),
            },
            Err(error) => Err(error),
        };
        match committed {
            Ok(value) => {
                let actions = self.actions.into_inner().unwrap_or_default();
                dispatch(runtime, Some(tenant), caller, depth, actions);
                Ok(value)
            }
            Err(error) => {
                Err(runtime.hooks().map_error(&ErrorEvent { event, tenant: Some(tenant), collection }, error))
            }
        }
    }
}

/// Starts the action hooks of committed events, each on its own task; a failure or panic is
/// logged with tenant and event and never reaches the caller.
fn dispatch(
    runtime: &Runtime,
    tenant: Option<&Arc<Tenant>>,
    caller: Option<&Caller>,
    depth: u8,
    actions: Vec<PendingAction>,
) {
    for action in actions {
        let hooks = runtime.hooks().actions_for(action.event, action.collection.as_deref(), tenant.map(|t| &**t));
        for hook in hooks.cloned() {
            let ctx = ActionContext::action(
                runtime.clone(),
                tenant.cloned(),
                caller.cloned(),
                action.event,
                action.collection.clone(),
                depth.saturating_add(1),
            );
            let payload = action.payload.clone();
            let (tenant_id, event) = (ctx.tenant_id(), action.event);
            tokio::spawn(async move {
                match AssertUnwindSafe(hook(ctx, payload)).catch_unwind().await {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => tracing::error!(tenant = ?tenant_id, event, %error, "an action hook failed"),
                    Err(_) => tracing::error!(tenant = ?tenant_id, event, "an action hook panicked"),
                }
            });
        }
    }
}

/// Fires the action hooks of one event that happened outside a [`Ctx`] (logins, tenants).
pub(crate) fn announce(
    runtime: &Runtime,
    tenant: Option<&Arc<Tenant>>,
    caller: Option<&Caller>,
    event: &'static str,
    payload: impl FnOnce() -> Value,
) {
    if runtime.hooks().actions_for(event, None, tenant.map(|t| &**t)).next().is_none() {
        return;
    }
    dispatch(runtime, tenant, caller, 0, vec![PendingAction { event, collection: None, payload: payload() }]);
}
