//! Business rules, one module per resource. Every entry point takes the [`Env`] (handlers get it
//! as an extractor); work inside a unit of work takes that unit's [`Ctx`](crate::hooks::Ctx).
//! Inside, the services form a DAG: tenants → users → sessions → auth; items → collections
//! (→ the schema below); activity → items; files → items.

pub mod activity;
pub mod admins;
pub mod auth;
pub mod collections;
pub mod files;
pub mod item_query;
pub mod items;
pub mod sessions;
pub mod tenants;
pub mod usage;
pub mod users;

mod env;

pub use crate::input::Page;
pub use env::Env;
pub(crate) use env::Shared as EnvParts;
