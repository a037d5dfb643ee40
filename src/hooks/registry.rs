//! The registry: every hook of a deployment, registered in Rust at startup and read-only once
//! the server runs. Hooks registered through an [`Extension`] run only for tenants whose
//! settings enable it.

use std::{collections::HashMap, fmt, sync::Arc, time::Duration};

use futures_util::future::BoxFuture;
use serde_json::Value;

use super::{
    ActionContext, HookContext, HookResult,
    cron::Cron,
    events::{ErrorEvent, InitEvent, InitStage, matches},
    schedule::{Schedule, ScheduleFn, ScheduleScope},
};
use crate::{error::Error, tenancy::Tenant};

/// A filter hook: may change the payload or reject it.
pub type FilterFn = Arc<dyn for<'a> Fn(&'a HookContext<'a>, Value) -> BoxFuture<'a, HookResult<Value>> + Send + Sync>;
/// An after hook: runs inside the operation's transaction once it wrote, with the result.
pub type AfterFn = Arc<dyn for<'a> Fn(&'a HookContext<'a>, &'a Value) -> BoxFuture<'a, HookResult<()>> + Send + Sync>;
/// An action hook: runs after commit.
pub type ActionFn = Arc<dyn Fn(ActionContext, Value) -> BoxFuture<'static, HookResult<()>> + Send + Sync>;
/// An error hook: sees an operation's error and returns the error to answer with.
pub type ErrorFn = Arc<dyn Fn(&ErrorEvent<'_>, Error) -> Error + Send + Sync>;
/// An init hook at `app.before` or `app.after`.
pub type InitFn = Arc<dyn Fn(&InitEvent<'_>) + Send + Sync>;
/// A `routes.before` hook: adds routes to the app.
pub type RoutesFn = Arc<dyn Fn(&mut utoipa_actix_web::service_config::ServiceConfig) + Send + Sync>;

struct Registered<F> {
    event: String,
    extension: Option<String>,
    hook: F,
}

/// Every hook of the deployment, registered at startup and read-only afterwards.
pub struct Hooks {
    filters: Vec<Registered<FilterFn>>,
    afters: Vec<Registered<AfterFn>>,
    actions: Vec<Registered<ActionFn>>,
    errors: Vec<Registered<ErrorFn>>,
    inits: Vec<(InitStage, InitFn)>,
    routes: Vec<RoutesFn>,
    schedules: Vec<Schedule>,
    /// Extension name → enabled when a tenant's settings do not say.
    extensions: HashMap<String, bool>,
    /// How long one filter hook may run before the request fails.
    pub filter_timeout: Duration,
    /// How deep hooks may nest through item operations they run themselves.
    pub max_depth: u8,
}

impl Default for Hooks {
    fn default() -> Self {
        Hooks {
            filters: Vec::new(),
            afters: Vec::new(),
            actions: Vec::new(),
            errors: Vec::new(),
            inits: Vec::new(),
            routes: Vec::new(),
            schedules: Vec::new(),
            extensions: HashMap::new(),
            filter_timeout: Duration::from_secs(5),
            max_depth: 8,
        }
    }
}

impl fmt::Debug for Hooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hooks")
            .field("filters", &self.filters.iter().map(|r| &r.event).collect::<Vec<_>>())
            .field("afters", &self.afters.iter().map(|r| &r.event).collect::<Vec<_>>())
            .field("actions", &self.actions.iter().map(|r| &r.event).collect::<Vec<_>>())
            .field("schedules", &self.schedules.iter().map(|s| &s.name).collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Registers hooks, either for every tenant ([`Hooks`]) or for one extension ([`Extension`]).
pub trait Register {
    #[doc(hidden)]
    fn hooks_and_extension(&mut self) -> (&mut Hooks, Option<String>);

    /// A filter hook on `event` (e.g. `items.create`, `articles.items.create`).
    fn filter<F>(&mut self, event: &str, hook: F) -> &mut Self
    where
        F: for<'a> Fn(&'a HookContext<'a>, Value) -> BoxFuture<'a, HookResult<Value>> + Send + Sync + 'static,
    {
        let (hooks, extension) = self.hooks_and_extension();
        hooks.filters.push(Registered { event: event.to_string(), extension, hook: Arc::new(hook) });
        self
    }

    /// An after hook on `event`: runs inside the operation's transaction once it wrote, with the
    /// same payload its actions get; an error rolls the whole operation back. For work that must
    /// commit with the change or not at all (the audit log).
    fn after<F>(&mut self, event: &str, hook: F) -> &mut Self
    where
        F: for<'a> Fn(&'a HookContext<'a>, &'a Value) -> BoxFuture<'a, HookResult<()>> + Send + Sync + 'static,
    {
        let (hooks, extension) = self.hooks_and_extension();
        hooks.afters.push(Registered { event: event.to_string(), extension, hook: Arc::new(hook) });
        self
    }

    /// An action hook on `event`, run after commit.
    fn action<F, Fut>(&mut self, event: &str, hook: F) -> &mut Self
    where
        F: Fn(ActionContext, Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HookResult<()>> + Send + 'static,
    {
        let (hooks, extension) = self.hooks_and_extension();
        let hook: ActionFn = Arc::new(move |ctx, payload| Box::pin(hook(ctx, payload)));
        hooks.actions.push(Registered { event: event.to_string(), extension, hook });
        self
    }

    /// An error hook on `event`.
    fn error<F>(&mut self, event: &str, hook: F) -> &mut Self
    where
        F: Fn(&ErrorEvent<'_>, Error) -> Error + Send + Sync + 'static,
    {
        let (hooks, extension) = self.hooks_and_extension();
        hooks.errors.push(Registered { event: event.to_string(), extension, hook: Arc::new(hook) });
        self
    }

    /// A job run on `cron` (`sec min hour day month weekday`, or the usual five fields), once
    /// across all instances: per active tenant or once for the platform.
    fn schedule<F, Fut>(&mut self, name: &str, cron: Cron, scope: ScheduleScope, job: F) -> &mut Self
    where
        F: Fn(ActionContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HookResult<()>> + Send + 'static,
    {
        let (hooks, extension) = self.hooks_and_extension();
        let job: ScheduleFn = Arc::new(move |ctx| Box::pin(job(ctx)));
        hooks.schedules.push(Schedule { name: name.to_string(), cron, scope, extension, job });
        self
    }
}

impl Register for Hooks {
    fn hooks_and_extension(&mut self) -> (&mut Hooks, Option<String>) {
        (self, None)
    }
}

/// Hooks that run only for tenants that enable the extension.
pub struct Extension<'h> {
    hooks: &'h mut Hooks,
    name: String,
}

impl Register for Extension<'_> {
    fn hooks_and_extension(&mut self) -> (&mut Hooks, Option<String>) {
        (self.hooks, Some(self.name.clone()))
    }
}

impl Hooks {
    /// No hooks at all.
    pub fn new() -> Self {
        Hooks::default()
    }

    /// Hooks under `name`, run for a tenant when its settings say `"extensions": {name: true}`,
    /// or, when they say nothing about it, when `enabled_by_default`.
    pub fn extension(&mut self, name: &str, enabled_by_default: bool) -> Extension<'_> {
        self.extensions.insert(name.to_string(), enabled_by_default);
        Extension { hooks: self, name: name.to_string() }
    }

    /// An init hook.
    pub fn init(&mut self, stage: InitStage, hook: impl Fn(&InitEvent<'_>) + Send + Sync + 'static) -> &mut Self {
        self.inits.push((stage, Arc::new(hook)));
        self
    }

    /// A `routes.before` hook: it adds routes (with `configure`) before the built-in ones.
    pub fn routes(
        &mut self,
        hook: impl Fn(&mut utoipa_actix_web::service_config::ServiceConfig) + Send + Sync + 'static,
    ) -> &mut Self {
        self.routes.push(Arc::new(hook));
        self
    }

    /// Whether `extension` runs for `tenant`.
    pub fn enabled(&self, extension: Option<&str>, tenant: Option<&Tenant>) -> bool {
        let Some(name) = extension else { return true };
        let default = self.extensions.get(name).copied().unwrap_or(false);
        match tenant {
            None => default,
            Some(tenant) => tenant.settings["extensions"][name].as_bool().unwrap_or(default),
        }
    }

    /// The filter hooks of `event` (and its collection form) enabled for `tenant`, in order;
    /// borrowed, so a request with no hooks allocates nothing.
    pub(crate) fn filters_for<'h>(
        &'h self,
        event: &'h str,
        collection: Option<&'h str>,
        tenant: &'h Tenant,
    ) -> impl Iterator<Item = &'h FilterFn> + Send + 'h {
        self.enabled_of(&self.filters, event, collection, Some(tenant))
    }

    /// The after hooks of `event` enabled for `tenant`, in order.
    pub(crate) fn afters_for<'h>(
        &'h self,
        event: &'h str,
        collection: Option<&'h str>,
        tenant: &'h Tenant,
    ) -> impl Iterator<Item = &'h AfterFn> + Send + 'h {
        self.enabled_of(&self.afters, event, collection, Some(tenant))
    }

    /// The action hooks of `event` enabled for `tenant` (or for events without one), in order.
    pub(crate) fn actions_for<'h>(
        &'h self,
        event: &'h str,
        collection: Option<&'h str>,
        tenant: Option<&'h Tenant>,
    ) -> impl Iterator<Item = &'h ActionFn> + Send + 'h {
        self.enabled_of(&self.actions, event, collection, tenant)
    }

    /// The hooks among `registered` that `event` fires and whose extension runs for `tenant`.
    fn enabled_of<'h, F: Sync>(
        &'h self,
        registered: &'h [Registered<F>],
        event: &'h str,
        collection: Option<&'h str>,
        tenant: Option<&'h Tenant>,
    ) -> impl Iterator<Item = &'h F> + Send + 'h {
        select(registered, event, collection)
            .filter(move |r| self.enabled(r.extension.as_deref(), tenant))
            .map(|r| &r.hook)
    }

    /// Runs the error hooks of the event over `error`.
    pub fn map_error(&self, event: &ErrorEvent<'_>, error: Error) -> Error {
        select(&self.errors, event.event, event.collection)
            .filter(|r| self.enabled(r.extension.as_deref(), event.tenant))
            .fold(error, |error, r| (r.hook)(event, error))
    }

    pub(crate) fn run_init(&self, event: &InitEvent<'_>) {
        for (stage, hook) in &self.inits {
            if *stage == event.stage {
                hook(event);
            }
        }
    }

    pub(crate) fn route_hooks(&self) -> &[RoutesFn] {
        &self.routes
    }

    /// Moves the scheduled job `name` to `cron` (a configured time for a built-in job); false
    /// when no job has that name.
    pub fn retime(&mut self, name: &str, cron: Cron) -> bool {
        let mut found = false;
        for schedule in self.schedules.iter_mut().filter(|s| s.name == name) {
            schedule.cron = cron.clone();
            found = true;
        }
        found
    }

    pub(crate) fn schedules(&self) -> &[Schedule] {
        &self.schedules
    }
}

/// The registrations that `event` (of `collection`) fires, in registration order.
fn select<'r, F>(
    registered: &'r [Registered<F>],
    event: &'r str,
    collection: Option<&'r str>,
) -> impl Iterator<Item = &'r Registered<F>> {
    registered.iter().filter(move |r| matches(&r.event, event, collection))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_follow_tenant_settings_then_their_default() {
        let mut hooks = Hooks::new();
        hooks.extension("on", true);
        hooks.extension("off", false);
        let now = chrono::Utc::now();
        let row = crate::entities::tenant::Model {
            id: uuid::Uuid::now_v7(),
            slug: "acme".into(),
            name: "Acme".into(),
            plan: "free".into(),
            status: "active".into(),
            settings: serde_json::json!({}),
            rate_limits: serde_json::json!({}),
            created_at: now,
            updated_at: now,
            deleted_at: None,
        };
        let mut tenant = Tenant::from_row(row, Vec::new());
        assert!(hooks.enabled(None, Some(&tenant)));
        assert!(hooks.enabled(Some("on"), Some(&tenant)) && !hooks.enabled(Some("off"), Some(&tenant)));
        tenant.settings = serde_json::json!({"extensions": {"on": false, "off": true}});
        assert!(!hooks.enabled(Some("on"), Some(&tenant)) && hooks.enabled(Some("off"), Some(&tenant)));
        assert!(!hooks.enabled(Some("unknown"), Some(&tenant)));
    }
}
