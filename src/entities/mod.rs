//! sea-orm entities, one per table, kept plain; behaviour lives in `services/` and `db/`.

pub mod collection;
pub mod instance;
pub mod item;
pub mod platform_admin;
pub mod session;
pub mod tenant;
pub mod tenant_domain;
pub mod tenant_usage;
pub mod tenant_usage_hourly;
pub mod user;
