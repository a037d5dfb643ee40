//! Business rules, one module per resource. Services take the state they need (the platform
//! handle, or a tenant-scoped transaction) and return domain values or [`crate::error::Error`].

pub mod admins;
pub mod auth;
pub mod collections;
pub mod fields;
pub mod input;
pub mod item_query;
pub mod items;
pub mod sessions;
pub mod tenants;
pub mod users;

pub use input::Page;
