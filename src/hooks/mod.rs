//! Hooks: where business logic plugs into tenantbase (DESIGN.md principle 4, docs/hooks.md).
//!
//! Register them in Rust at startup on a [`Hooks`] and hand it to
//! `Application::build_with_hooks` (or `cli::run`, to build your own binary):
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
//! - **after** hooks run inside the transaction once the operation wrote, with its result; an
//!   error rolls everything back (the audit log writes its entries so).
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
//!
//! This layer knows no service: the composition root hands the [`Runtime`] the item operations
//! hooks may run ([`ItemOperations`], implemented by the items service).

mod claims;
mod compose;
mod context;
mod cron;
mod error;
mod events;
mod items;
mod registry;
pub mod schedule;
mod unit;

pub use compose::{chain, filter_fn, unless, when};
pub use context::{ActionContext, HookContext};
pub use cron::Cron;
pub use error::{HookError, HookResult};
pub use events::{ErrorEvent, InitEvent, InitStage};
pub use items::{ItemOperations, Items, ListParams};
pub use registry::{ActionFn, AfterFn, ErrorFn, Extension, FilterFn, Hooks, InitFn, Register, RoutesFn};
pub use schedule::{Schedule, ScheduleFn, ScheduleLimits, ScheduleScope};
pub(crate) use unit::announce;
pub use unit::{Ctx, Runtime, Unit};
