//! Tenant management (API.md "Platform: tenant management"): create, list, read, change,
//! suspend, resume, delete (with a background purge), and usage.
//!
//! The platform service: tenants and their domains are platform tables, read and changed through
//! the named platform connection; a tenant's own rows still go through its `TenantTxn`.
//! `input.rs` holds the request bodies, `spec.rs` the validated definition (shared with
//! manifests), `read.rs` and `write.rs` the routes' work, `store.rs` the row writes, `purge.rs`
//! deletion.

mod input;
mod purge;
mod read;
mod spec;
mod store;
mod write;

pub use input::{NewAdmin, NewTenant, TenantFilter, TenantPatch};
pub use purge::delete;
pub(crate) use purge::resume_purges;
pub use read::{Usage, get, key_of, list, usage};
pub use spec::{MAX_DOMAINS, TenantSpec};
pub use store::Applied;
pub(crate) use store::{apply_spec, ensure_admin_user, id_by_slug};
pub use write::{create, replace_settings, set_status, update};
