//! Hooks: where business logic plugs into tenantbase (DESIGN.md principle 4, docs/hooks.md).
//!
//! Register them in Rust at startup on a [`Hooks`] and hand it to
//! [`crate::Application::build_with_hooks`]:
//!
//! ```ignore
//! let mut hooks = Hooks::with_builtins();
//! hooks.filter("articles.items.create", |ctx, mut item| Box::pin(async move {
//!     if item["title"].as_str().is_some_and(str::is_empty) {
//!         return Err(HookError::invalid("empty_title", "A title is required."));
//!     }
//!     item["views"] = 0.into();
//!     Ok(item)
//! }));
//! hooks.action("items.delete", |ctx, payload| async move {
//!     tracing::info!(tenant = %ctx.tenant_id(), ?payload, "deleted");
//!     Ok(())
//! });
//! ```
//!
//! - **filter** hooks run inside the request's transaction, in registration order, and may change
//!   the payload or reject it ([`HookError`] → a 4xx problem; everything rolls back).
//! - **action** hooks run after commit with the committed result, off the request path; their
//!   failures and panics are logged with tenant and event.
//! - **error** hooks see an operation's error before it is answered and may replace it.
//! - **init** hooks run at `app.before` (before the server binds) and `app.after` (bound);
//!   `routes.before` hooks add routes.
//! - **schedule** hooks run on a cron schedule once across all instances, per active tenant or once
//!   for the platform.
//!
//! An event `items.create` also fires as `<collection>.items.create`. Every hook's context holds
//! its event's tenant, the caller and (for filters) the tenant-scoped transaction, and nothing
//! that reaches another tenant. Hooks registered through an [`Extension`] run only for tenants
//! whose settings enable it (`{"extensions": {"audit": false, "article_stats": true}}`).

pub mod builtin;
pub mod context;
pub mod schedule;

use std::{collections::HashMap, fmt, sync::Arc, time::Duration};

use futures_util::future::BoxFuture;
use serde_json::Value;

pub use context::{ActionContext, Ctx, Env, HookContext, Items, PendingAction, Unit};
pub use schedule::{Cron, ScheduleScope};

use crate::{error::Error, tenancy::Tenant};

/// A filter hook's rejection, answered as a 4xx problem with its code; or the error of an
/// operation the hook ran (`?` on it), which passes through unchanged.
#[derive(Debug)]
pub struct HookError {
    /// 400-499 for a rejection.
    pub status: u16,
    /// Stable snake_case code clients can branch on.
    pub code: String,
    pub message: String,
    /// The operation's own error, when the hook passed one on.
    passed_on: Option<Box<Error>>,
}

impl HookError {
    /// Rejects with a status from 400 to 499 (anything else becomes 400).
    pub fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> Self {
        let status = if (400..500).contains(&status) { status } else { 400 };
        HookError { status, code: code.into(), message: message.into(), passed_on: None }
    }

    /// 422: the payload breaks a business rule.
    pub fn invalid(code: impl Into<String>, message: impl Into<String>) -> Self {
        HookError::new(422, code, message)
    }

    /// 403: the caller may not do this.
    pub fn forbidden(code: impl Into<String>, message: impl Into<String>) -> Self {
        HookError::new(403, code, message)
    }

    /// The error to answer with: the operation's own, or this rejection.
    pub(crate) fn into_error(self) -> Error {
        match self.passed_on {
            Some(error) => *error,
            None => Error::Hook(self),
        }
    }
}

impl fmt::Display for HookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.passed_on {
            Some(error) => write!(f, "{error}"),
            None => write!(f, "{} ({}): {}", self.code, self.status, self.message),
        }
    }
}

impl From<Error> for HookError {
    /// An operation a hook ran failed: its error (status, code, field errors) passes through.
    fn from(error: Error) -> Self {
        let code = error.code();
        HookError {
            status: code.status().as_u16(),
            code: code.as_str().to_string(),
            message: code.title().to_string(),
            passed_on: Some(Box::new(error)),
        }
    }
}

pub type HookResult<T> = Result<T, HookError>;

/// A filter hook: may change the payload or reject it.
pub type FilterFn = Arc<dyn for<'a> Fn(&'a HookContext<'a>, Value) -> BoxFuture<'a, HookResult<Value>> + Send + Sync>;
/// An action hook: runs after commit.
pub type ActionFn = Arc<dyn Fn(ActionContext, Value) -> BoxFuture<'static, HookResult<()>> + Send + Sync>;
/// An error hook: sees an operation's error and returns the error to answer with.
pub type ErrorFn = Arc<dyn Fn(&ErrorEvent<'_>, Error) -> Error + Send + Sync>;
/// An init hook at `app.before` or `app.after`.
pub type InitFn = Arc<dyn Fn(&InitEvent<'_>) + Send + Sync>;
/// A `routes.before` hook: adds routes to the app.
pub type RoutesFn = Arc<dyn Fn(&mut utoipa_actix_web::service_config::ServiceConfig) + Send + Sync>;
/// A scheduled job.
pub type ScheduleFn = Arc<dyn Fn(ActionContext) -> BoxFuture<'static, HookResult<()>> + Send + Sync>;

/// What an error hook is told.
#[derive(Debug)]
pub struct ErrorEvent<'a> {
    pub event: &'a str,
    pub tenant: Option<&'a Tenant>,
    pub collection: Option<&'a str>,
}

/// The moment an init hook runs at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitStage {
    /// Before the server binds its port.
    AppBefore,
    /// After it is bound, before it serves.
    AppAfter,
}

/// What an init hook is told.
#[derive(Debug)]
pub struct InitEvent<'a> {
    pub stage: InitStage,
    pub config: &'a crate::Config,
}

struct Registered<F> {
    event: String,
    extension: Option<String>,
    hook: F,
}

/// A scheduled job as registered.
#[derive(Clone)]
pub struct Schedule {
    pub name: String,
    pub cron: Cron,
    pub scope: ScheduleScope,
    pub(crate) extension: Option<String>,
    pub(crate) job: ScheduleFn,
}

/// Every hook of the deployment, registered at startup and read-only afterwards.
pub struct Hooks {
    filters: Vec<Registered<FilterFn>>,
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

    /// The built-in hooks: the audit log (on unless a tenant turns it off) and the example
    /// `article_stats` extension (off unless a tenant turns it on).
    pub fn with_builtins() -> Self {
        let mut hooks = Hooks::new();
        builtin::register(&mut hooks);
        hooks
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
        select(&self.filters, event, collection)
            .filter(move |r| self.enabled(r.extension.as_deref(), Some(tenant)))
            .map(|r| &r.hook)
    }

    pub(crate) fn actions_for<'h>(
        &'h self,
        event: &'h str,
        collection: Option<&'h str>,
        tenant: Option<&'h Tenant>,
    ) -> impl Iterator<Item = &'h ActionFn> + Send + 'h {
        select(&self.actions, event, collection)
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

    pub(crate) fn schedules(&self) -> &[Schedule] {
        &self.schedules
    }
}

/// The registrations for `event` or, with a collection, for `<collection>.<event>`.
fn select<'r, F>(
    registered: &'r [Registered<F>],
    event: &'r str,
    collection: Option<&'r str>,
) -> impl Iterator<Item = &'r Registered<F>> {
    registered.iter().filter(move |r| {
        r.event == event
            || collection.is_some_and(|c| {
                r.event.len() == c.len() + 1 + event.len()
                    && r.event.starts_with(c)
                    && r.event[c.len()..].starts_with('.')
                    && r.event.ends_with(event)
            })
    })
}

/// Feathers-style composition: `hook` runs only when `predicate` holds for the context and payload.
pub fn when<P, F>(
    predicate: P,
    hook: F,
) -> impl for<'a> Fn(&'a HookContext<'a>, Value) -> BoxFuture<'a, HookResult<Value>> + Send + Sync + 'static
where
    P: Fn(&HookContext<'_>, &Value) -> bool + Send + Sync + 'static,
    F: for<'a> Fn(&'a HookContext<'a>, Value) -> BoxFuture<'a, HookResult<Value>> + Send + Sync + 'static,
{
    move |ctx, payload| {
        if predicate(ctx, &payload) { hook(ctx, payload) } else { Box::pin(std::future::ready(Ok(payload))) }
    }
}

/// The opposite of [`when`]: `hook` runs unless `predicate` holds.
pub fn unless<P, F>(
    predicate: P,
    hook: F,
) -> impl for<'a> Fn(&'a HookContext<'a>, Value) -> BoxFuture<'a, HookResult<Value>> + Send + Sync + 'static
where
    P: Fn(&HookContext<'_>, &Value) -> bool + Send + Sync + 'static,
    F: for<'a> Fn(&'a HookContext<'a>, Value) -> BoxFuture<'a, HookResult<Value>> + Send + Sync + 'static,
{
    when(move |ctx, payload| !predicate(ctx, payload), hook)
}

/// Several filter hooks used as one, run in order; the first rejection stops the chain.
pub fn chain(
    hooks: Vec<FilterFn>,
) -> impl for<'a> Fn(&'a HookContext<'a>, Value) -> BoxFuture<'a, HookResult<Value>> + Send + Sync + 'static {
    move |ctx, payload| {
        let hooks = hooks.clone();
        Box::pin(async move {
            let mut payload = payload;
            for hook in hooks {
                payload = hook(ctx, payload).await?;
            }
            Ok(payload)
        })
    }
}

/// Wraps a filter closure as a shareable [`FilterFn`] (for [`chain`]).
pub fn filter_fn<F>(hook: F) -> FilterFn
where
    F: for<'a> Fn(&'a HookContext<'a>, Value) -> BoxFuture<'a, HookResult<Value>> + Send + Sync + 'static,
{
    Arc::new(hook)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(registered: &[&str], event: &str, collection: Option<&str>) -> Vec<String> {
        let registered: Vec<Registered<()>> =
            registered.iter().map(|e| Registered { event: e.to_string(), extension: None, hook: () }).collect();
        select(&registered, event, collection).map(|r| r.event.clone()).collect()
    }

    #[test]
    fn an_item_event_also_fires_under_its_collection_in_registration_order() {
        let registered = ["articles.items.create", "items.create", "pages.items.create", "xarticles.items.create"];
        assert_eq!(events(&registered, "items.create", Some("articles")), ["articles.items.create", "items.create"]);
        assert_eq!(events(&registered, "items.create", None), ["items.create"]);
        assert!(events(&registered, "items.update", Some("articles")).is_empty());
        assert!(events(&["articles.items.create.x"], "items.create", Some("articles")).is_empty());
    }

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
            created_at: now,
            updated_at: now,
            deleted_at: None,
        };
        let mut tenant = crate::tenancy::Tenant::from_row(row, Vec::new());
        assert!(hooks.enabled(None, Some(&tenant)));
        assert!(hooks.enabled(Some("on"), Some(&tenant)) && !hooks.enabled(Some("off"), Some(&tenant)));
        tenant.settings = serde_json::json!({"extensions": {"on": false, "off": true}});
        assert!(!hooks.enabled(Some("on"), Some(&tenant)) && hooks.enabled(Some("off"), Some(&tenant)));
        assert!(!hooks.enabled(Some("unknown"), Some(&tenant)));
    }

    #[test]
    fn hook_errors_keep_to_client_statuses() {
        assert_eq!(HookError::new(500, "x", "y").status, 400);
        assert_eq!(HookError::invalid("x", "y").status, 422);
        assert_eq!(HookError::forbidden("x", "y").status, 403);
    }
}
