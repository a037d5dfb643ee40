//! The state every request handler shares.

use std::sync::Arc;

use crate::{
    auth::TokenKeys,
    config::Config,
    db::{PlatformDb, RoleCheck, notify::Caches},
    limits::LoginLimiter,
    telemetry::Metrics,
};

/// Shared by all workers behind `web::Data` (an `Arc`). Holds no per-tenant state of its own:
/// caches are keyed by tenant and everything durable lives in the database.
pub struct AppState {
    pub config: Arc<Config>,
    pub db: PlatformDb,
    /// Tenants and tenant users, dropped on change on every instance.
    pub caches: Caches,
    pub login_limiter: LoginLimiter,
    pub tokens: TokenKeys,
    /// The startup check of the database role, reported by `/health/ready`.
    pub role_check: RoleCheck,
    pub metrics: Metrics,
    /// Every registered hook (read-only after startup).
    pub hooks: Arc<crate::hooks::Hooks>,
}
