//! What services and hooks work with: [`Ctx`] (one tenant's transaction, the caller, the hooks),
//! the [`HookContext`] a filter hook sees, and the owned [`ActionContext`] of action and
//! scheduled hooks. None of them can reach another tenant: the transaction is scoped to the
//! event's tenant and item operations run through it (or through a new one for the same tenant).

use std::{
    panic::AssertUnwindSafe,
    sync::{Arc, Mutex},
    time::Instant,
};

use futures_util::FutureExt;
use serde_json::Value;
use uuid::Uuid;

use super::{ErrorEvent, Hooks};
use crate::{
    auth::Caller,
    db::{PlatformDb, TenantTxn, notify::Caches},
    error::{Code, Error, Result},
    services::{item_query::ListParams, items},
    state::AppState,
    tenancy::Tenant,
};

/// The shared services a unit of work needs; cheap to clone (handles and `Arc`s).
#[derive(Clone)]
pub struct Env {
    pub(crate) db: PlatformDb,
    pub(crate) caches: Caches,
    pub(crate) hooks: Arc<Hooks>,
}

impl Env {
    pub fn new(state: &AppState) -> Env {
        Env { db: state.db.clone(), caches: state.caches.clone(), hooks: state.hooks.clone() }
    }

    pub fn hooks(&self) -> &Hooks {
        &self.hooks
    }
}

/// An action waiting for its transaction to commit.
#[derive(Debug)]
pub struct PendingAction {
    event: &'static str,
    collection: Option<String>,
    payload: Value,
}

/// One unit of work for one tenant: its transaction, the caller, and the hooks. Services take
/// it; it is also what filter hooks reach through [`HookContext`].
pub struct Ctx<'a> {
    pub env: &'a Env,
    pub tenant: &'a Arc<Tenant>,
    pub caller: Option<&'a Caller>,
    pub txn: &'a TenantTxn,
    /// 0 for a request; one more for each hook-run operation inside it.
    pub depth: u8,
    actions: &'a Mutex<Vec<PendingAction>>,
}

impl<'a> Ctx<'a> {
    /// Whether any filter hook listens to `event` for this tenant (to skip building payloads).
    pub fn has_filters(&self, event: &str, collection: Option<&str>) -> bool {
        self.env.hooks.filters_for(event, collection, self.tenant).next().is_some()
    }

    /// Runs the filter hooks of `event` over `payload`, in order, together within the deadline;
    /// a rejection, panic or overrun fails the whole unit of work.
    pub async fn filter(
        &self,
        event: &str,
        collection: Option<&str>,
        key: Option<Uuid>,
        payload: Value,
    ) -> Result<Value> {
        let mut hooks = self.env.hooks.filters_for(event, collection, self.tenant).peekable();
        if hooks.peek().is_none() {
            return Ok(payload);
        }
        let hook_ctx = HookContext { ctx: self, event, collection, key };
        let timeout = self.env.hooks.filter_timeout;
        let started = Instant::now();
        // One deadline and one unwind guard for the whole chain: a timer per hook would cost
        // more than the hooks themselves when they do nothing.
        let chain = async {
            let mut payload = payload;
            for hook in hooks {
                payload = hook(&hook_ctx, payload).await?;
            }
            Ok::<_, super::HookError>(payload)
        };
        match tokio::time::timeout(timeout, AssertUnwindSafe(chain).catch_unwind()).await {
            Ok(Ok(Ok(payload))) => Ok(payload),
            Ok(Ok(Err(rejection))) => Err(rejection.into_error()),
            Ok(Err(_panic)) => {
                tracing::error!(tenant = %self.tenant.id, event, "a filter hook panicked; the operation is rolled back");
                Err(Error::new(Code::HookFailed, format!("A hook on {event} failed; nothing was changed.")))
            }
            Err(_elapsed) => {
                let ms = started.elapsed().as_millis() as u64;
                tracing::error!(tenant = %self.tenant.id, event, ms, "filter hooks ran past their deadline");
                Err(Error::new(
                    Code::HookTimeout,
                    format!("The hooks on {event} ran past {} ms; nothing was changed.", timeout.as_millis()),
                ))
            }
        }
    }

    /// Queues the action hooks of `event` to run with `payload` once the transaction commits.
    pub fn after_commit(&self, event: &'static str, collection: Option<&str>, payload: impl FnOnce() -> Value) {
        if self.env.hooks.actions_for(event, collection, Some(self.tenant)).next().is_none() {
            return;
        }
        let collection = collection.map(str::to_string);
        if let Ok(mut actions) = self.actions.lock() {
            actions.push(PendingAction { event, collection, payload: payload() });
        }
    }

    /// The context for an operation a hook runs itself, one level deeper.
    fn nested(&self) -> Result<Ctx<'a>> {
        let depth = next_depth(&self.env.hooks, self.depth)?;
        Ok(Ctx { depth, ..*self })
    }
}

fn next_depth(hooks: &Hooks, depth: u8) -> Result<u8> {
    if depth >= hooks.max_depth {
        return Err(Error::new(
            Code::HookDepthExceeded,
            format!("Hooks triggered each other more than {} levels deep; stopped to prevent a loop.", hooks.max_depth),
        ));
    }
    Ok(depth + 1)
}

/// One unit of work for one tenant: a transaction and the actions it queues. Services open one,
/// run their `…_in` function with [`Unit::ctx`], and end it with [`Unit::finish`].
pub struct Unit<'e> {
    env: &'e Env,
    tenant: &'e Arc<Tenant>,
    caller: Option<&'e Caller>,
    depth: u8,
    txn: TenantTxn,
    actions: Mutex<Vec<PendingAction>>,
}

impl<'e> Unit<'e> {
    /// Opens a transaction of `tenant` (`write`: one that will write; on SQLite it takes the
    /// write lock up front).
    pub async fn begin(
        env: &'e Env,
        tenant: &'e Arc<Tenant>,
        caller: Option<&'e Caller>,
        depth: u8,
        write: bool,
    ) -> Result<Unit<'e>> {
        let db = env.db.tenant(tenant.id);
        let txn = if write { db.begin().await? } else { db.read().await? };
        Ok(Unit { env, tenant, caller, depth, txn, actions: Mutex::new(Vec::new()) })
    }

    pub fn ctx(&self) -> Ctx<'_> {
        Ctx {
            env: self.env,
            tenant: self.tenant,
            caller: self.caller,
            txn: &self.txn,
            depth: self.depth,
            actions: &self.actions,
        }
    }

    /// Commits when `outcome` is a success and then starts the queued action hooks; otherwise
    /// rolls back and passes the error through the error hooks of `event`.
    pub async fn finish<T>(self, outcome: Result<T>, event: &str, collection: Option<&str>) -> Result<T> {
        let (env, tenant, caller, depth) = (self.env, self.tenant, self.caller, self.depth);
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
                dispatch(env, Some(tenant), caller, depth, actions);
                Ok(value)
            }
            Err(error) => Err(env.hooks.map_error(&ErrorEvent { event, tenant: Some(tenant), collection }, error)),
        }
    }
}

/// Starts the action hooks of committed events, each on its own task; a failure or panic is
/// logged with tenant and event and never reaches the caller.
pub fn dispatch(
    env: &Env,
    tenant: Option<&Arc<Tenant>>,
    caller: Option<&Caller>,
    depth: u8,
    actions: Vec<PendingAction>,
) {
    for action in actions {
        for hook in env.hooks.actions_for(action.event, action.collection.as_deref(), tenant.map(|t| &**t)).cloned() {
            let ctx = ActionContext {
                env: env.clone(),
                tenant: tenant.cloned(),
                caller: caller.cloned(),
                event: action.event.to_string(),
                collection: action.collection.clone(),
                depth: depth.saturating_add(1),
            };
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

/// Fires the action hooks of one event that happened outside a [`Ctx`] (users, logins, tenants).
pub fn announce(
    env: &Env,
    tenant: Option<&Arc<Tenant>>,
    caller: Option<&Caller>,
    event: &'static str,
    payload: impl FnOnce() -> Value,
) {
    if env.hooks.actions_for(event, None, tenant.map(|t| &**t)).next().is_none() {
        return;
    }
    dispatch(env, tenant, caller, 0, vec![PendingAction { event, collection: None, payload: payload() }]);
}

/// What a filter hook sees: the event, its tenant and caller, and the tenant's transaction.
pub struct HookContext<'a> {
    ctx: &'a Ctx<'a>,
    event: &'a str,
    collection: Option<&'a str>,
    key: Option<Uuid>,
}

impl<'a> HookContext<'a> {
    pub fn event(&self) -> &str {
        self.event
    }

    pub fn tenant(&self) -> &Tenant {
        self.ctx.tenant
    }

    pub fn tenant_id(&self) -> Uuid {
        self.ctx.tenant.id
    }

    pub fn caller(&self) -> Option<&Caller> {
        self.ctx.caller
    }

    /// The collection of an item event.
    pub fn collection(&self) -> Option<&str> {
        self.collection
    }

    /// The item an update or delete is about.
    pub fn key(&self) -> Option<Uuid> {
        self.key
    }

    /// The tenant-scoped transaction of the operation (for the hook's own tenant-owned tables).
    pub fn txn(&self) -> &TenantTxn {
        self.ctx.txn
    }

    /// Item operations inside this transaction; they fire their own hooks, one level deeper.
    pub fn items(&self, collection: &'a str) -> Items<'a> {
        Items { scope: ItemsScope::Within(self.ctx), collection }
    }
}

/// What action and scheduled hooks get: the tenant (none for platform schedules), the caller,
/// and item operations that run in a new transaction of that same tenant.
#[derive(Clone)]
pub struct ActionContext {
    env: Env,
    tenant: Option<Arc<Tenant>>,
    caller: Option<Caller>,
    pub event: String,
    pub collection: Option<String>,
    depth: u8,
}

impl ActionContext {
    /// A scheduled job's context: one tenant's, or the platform's (`tenant` None).
    pub(crate) fn scheduled(env: Env, tenant: Option<Arc<Tenant>>, name: &str) -> ActionContext {
        ActionContext { env, tenant, caller: None, event: format!("schedule.{name}"), collection: None, depth: 0 }
    }

    pub fn tenant(&self) -> Option<&Tenant> {
        self.tenant.as_deref()
    }

    pub(crate) fn tenant_arc(&self) -> Option<Arc<Tenant>> {
        self.tenant.clone()
    }

    pub(crate) fn env(&self) -> &Env {
        &self.env
    }

    pub fn tenant_id(&self) -> Option<Uuid> {
        self.tenant.as_ref().map(|t| t.id)
    }

    pub fn caller(&self) -> Option<&Caller> {
        self.caller.as_ref()
    }

    /// The platform handle, only in a platform-scoped schedule: cross-tenant work is explicit.
    pub fn platform(&self) -> Option<&PlatformDb> {
        self.tenant.is_none().then_some(&self.env.db)
    }

    /// Item operations for this context's tenant, each in its own transaction (none on the
    /// platform context: `items` then fails with 400 `tenant_required`).
    pub fn items<'a>(&'a self, collection: &'a str) -> Items<'a> {
        Items { scope: ItemsScope::Detached(self), collection }
    }
}

enum ItemsScope<'a> {
    Within(&'a Ctx<'a>),
    Detached(&'a ActionContext),
}

/// Item operations a hook runs; they go through the same rules and hooks as requests.
pub struct Items<'a> {
    scope: ItemsScope<'a>,
    collection: &'a str,
}

impl Items<'_> {
    /// For a detached context: a new unit of work one level deeper.
    async fn unit<'s>(&'s self, action: &'s ActionContext, write: bool) -> Result<Unit<'s>> {
        let Some(tenant) = &action.tenant else {
            return Err(Error::new(Code::TenantRequired, "A platform hook has no tenant to run item operations in."));
        };
        let depth = next_depth(&action.env.hooks, action.depth)?;
        Unit::begin(&action.env, tenant, action.caller.as_ref(), depth, write).await
    }

    pub async fn create(&self, item: Value) -> Result<Value> {
        match &self.scope {
            ItemsScope::Within(ctx) => items::create_one_in(&ctx.nested()?, self.collection, item).await,
            ItemsScope::Detached(action) => {
                let unit = self.unit(action, true).await?;
                let outcome = items::create_one_in(&unit.ctx(), self.collection, item).await;
                unit.finish(outcome, "items.create", Some(self.collection)).await
            }
        }
    }

    pub async fn list(&self, params: ListParams) -> Result<Vec<Value>> {
        let listed = match &self.scope {
            ItemsScope::Within(ctx) => items::list_in(&ctx.nested()?, self.collection, &params).await,
            ItemsScope::Detached(action) => {
                let unit = self.unit(action, false).await?;
                let outcome = items::list_in(&unit.ctx(), self.collection, &params).await;
                unit.finish(outcome, "items.query", Some(self.collection)).await
            }
        };
        Ok(listed?.0)
    }

    pub async fn get(&self, id: Uuid) -> Result<Value> {
        match &self.scope {
            ItemsScope::Within(ctx) => items::get_in(&ctx.nested()?, self.collection, id).await,
            ItemsScope::Detached(action) => {
                let unit = self.unit(action, false).await?;
                let outcome = items::get_in(&unit.ctx(), self.collection, id).await;
                unit.finish(outcome, "items.read", Some(self.collection)).await
            }
        }
    }

    pub async fn update(&self, id: Uuid, patch: Value) -> Result<Value> {
        match &self.scope {
            ItemsScope::Within(ctx) => items::update_in(&ctx.nested()?, self.collection, id, patch, None).await,
            ItemsScope::Detached(action) => {
                let unit = self.unit(action, true).await?;
                let outcome = items::update_in(&unit.ctx(), self.collection, id, patch, None).await;
                unit.finish(outcome, "items.update", Some(self.collection)).await
            }
        }
    }

    pub async fn delete(&self, id: Uuid) -> Result<()> {
        match &self.scope {
            ItemsScope::Within(ctx) => items::delete_in(&ctx.nested()?, self.collection, id, None).await,
            ItemsScope::Detached(action) => {
                let unit = self.unit(action, true).await?;
                let outcome = items::delete_in(&unit.ctx(), self.collection, id, None).await;
                unit.finish(outcome, "items.delete", Some(self.collection)).await
            }
        }
    }
}
