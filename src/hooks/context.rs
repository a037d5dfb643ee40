//! What hooks are handed: the [`HookContext`] of a filter hook (inside the operation's unit of
//! work) and the owned [`ActionContext`] of action hooks, scheduled jobs and custom routes.
//! Neither reaches another tenant: the transaction is scoped to the event's tenant and cannot be
//! re-scoped, item operations run inside it or in a new transaction of that same tenant, and the
//! platform handle is held only by the context of a platform schedule job.

use std::sync::Arc;

use uuid::Uuid;

use super::{Ctx, Items, Runtime};
use crate::{
    auth::Caller,
    db::{PlatformDb, TenantTxn},
    tenancy::Tenant,
};

/// What a filter hook sees: the event, its tenant and caller, and the tenant's transaction.
pub struct HookContext<'a> {
    ctx: &'a Ctx<'a>,
    event: &'a str,
    collection: Option<&'a str>,
    key: Option<Uuid>,
}

impl<'a> HookContext<'a> {
    pub(crate) fn new(ctx: &'a Ctx<'a>, event: &'a str, collection: Option<&'a str>, key: Option<Uuid>) -> Self {
        HookContext { ctx, event, collection, key }
    }

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

    /// The tenant-scoped transaction of the operation, for the hook's own tenant-owned tables
    /// (`find`, `insert`, `update`, ...): scoped to this tenant, with no way out of it.
    pub fn txn(&self) -> &TenantTxn {
        self.ctx.txn
    }

    /// The unit of work the hook runs in, for the crate's own services.
    pub(crate) fn unit(&self) -> &Ctx<'a> {
        self.ctx
    }

    /// Item operations inside this transaction; they fire their own hooks, one level deeper.
    pub fn items(&self, collection: &'a str) -> Items<'a> {
        Items::within(self.ctx, collection)
    }
}

/// What action hooks, scheduled jobs and custom routes get: the tenant (none for platform
/// schedules and for events without one), the caller, and item operations that run in a new
/// transaction of that same tenant.
#[derive(Clone)]
pub struct ActionContext {
    runtime: Runtime,
    tenant: Option<Arc<Tenant>>,
    caller: Option<Caller>,
    pub event: String,
    pub collection: Option<String>,
    depth: u8,
    /// Only a platform schedule job holds the platform handle.
    platform: bool,
}

impl ActionContext {
    /// The context of an action hook of a committed event.
    pub(crate) fn action(
        runtime: Runtime,
        tenant: Option<Arc<Tenant>>,
        caller: Option<Caller>,
        event: &str,
        collection: Option<String>,
        depth: u8,
    ) -> ActionContext {
        ActionContext { runtime, tenant, caller, event: event.to_string(), collection, depth, platform: false }
    }

    /// A scheduled job's context: one tenant's, or the platform's (`tenant` None), which alone
    /// holds the platform handle.
    pub(crate) fn scheduled(runtime: Runtime, tenant: Option<Arc<Tenant>>, name: &str) -> ActionContext {
        let platform = tenant.is_none();
        ActionContext {
            runtime,
            tenant,
            caller: None,
            event: format!("schedule.{name}"),
            collection: None,
            depth: 0,
            platform,
        }
    }

    /// A custom route's context: the request's tenant and caller.
    pub(crate) fn request(runtime: Runtime, tenant: Arc<Tenant>, caller: Caller) -> ActionContext {
        ActionContext::action(runtime, Some(tenant), Some(caller), "request", None, 0)
    }

    pub fn tenant(&self) -> Option<&Tenant> {
        self.tenant.as_deref()
    }

    pub fn tenant_id(&self) -> Option<Uuid> {
        self.tenant.as_ref().map(|t| t.id)
    }

    pub fn caller(&self) -> Option<&Caller> {
        self.caller.as_ref()
    }

    /// The platform handle, only in a platform-scoped schedule job: cross-tenant work is
    /// explicit. `None` for every action hook, whatever its event, and for per-tenant jobs.
    pub fn platform(&self) -> Option<&PlatformDb> {
        self.platform.then(|| self.runtime.db())
    }

    /// Item operations for this context's tenant, each in its own transaction (none on a context
    /// without a tenant: they then fail with 400 `tenant_required`).
    pub fn items<'a>(&'a self, collection: &'a str) -> Items<'a> {
        Items::detached(self, collection)
    }

    pub(crate) fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    pub(crate) fn tenant_arc(&self) -> Option<&Arc<Tenant>> {
        self.tenant.as_ref()
    }

    pub(crate) fn depth(&self) -> u8 {
        self.depth
    }
}
