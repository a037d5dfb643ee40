//! The service environment: what every service shares.

use std::sync::Arc;

use crate::{
    auth::{TokenKeys, members::Members},
    cache::AnswerCache,
    config::Config,
    db::{ChangeFence, PlatformDb, RoleCheck},
    hooks::{Hooks, Runtime},
    limits::{Instances, LoginLimiter, RequestLimiter},
    telemetry::Metrics,
    tenancy::TenantDirectory,
};

/// What every service shares: the hooks' runtime (registry, database, schemas), the tenant
/// directory and member states, tokens, limits and counters. Cheap to clone (one `Arc`); it
/// holds no per-tenant state of its own, since its caches are keyed by tenant and everything
/// durable lives in the database.
#[derive(Clone)]
pub struct Env(Arc<Shared>);

/// Everything the environment holds, put together by the composition root (`lib.rs`).
pub(crate) struct Shared {
    pub runtime: Runtime,
    pub config: Config,
    pub tenants: TenantDirectory,
    pub members: Members,
    pub tokens: TokenKeys,
    pub login_limiter: LoginLimiter,
    pub request_limiter: RequestLimiter,
    pub instances: Instances,
    pub fence: ChangeFence,
    pub answers: Arc<AnswerCache>,
    pub metrics: Metrics,
    pub role_check: RoleCheck,
}

impl Env {
    pub(crate) fn new(shared: Shared) -> Env {
        Env(Arc::new(shared))
    }

    pub fn config(&self) -> &Config {
        &self.0.config
    }

    /// The runtime units of work and hooks share.
    pub fn runtime(&self) -> &Runtime {
        &self.0.runtime
    }

    pub fn hooks(&self) -> &Hooks {
        self.0.runtime.hooks()
    }

    pub(crate) fn db(&self) -> &PlatformDb {
        self.0.runtime.db()
    }

    pub fn tenants(&self) -> &TenantDirectory {
        &self.0.tenants
    }

    pub fn members(&self) -> &Members {
        &self.0.members
    }

    pub fn tokens(&self) -> &TokenKeys {
        &self.0.tokens
    }

    pub fn login_limiter(&self) -> &LoginLimiter {
        &self.0.login_limiter
    }

    /// The plan's request quotas.
    pub fn request_limiter(&self) -> &RequestLimiter {
        &self.0.request_limiter
    }

    /// How many instances are live (each enforces its share of every quota).
    pub fn instances(&self) -> &Instances {
        &self.0.instances
    }

    /// Waits, while other instances share the database, until this instance has heard every
    /// change committed before now, so its caches answer as the database would
    /// (read-your-writes across instances, `db::fence`). Alone, it hears its own changes as
    /// they commit and never waits.
    pub async fn catch_up(&self) {
        if self.0.instances.live() > 1 {
            self.0.fence.sync().await;
        }
    }

    /// The query cache of rendered item answers.
    pub fn answers(&self) -> &AnswerCache {
        &self.0.answers
    }

    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    /// The startup check of the database role, reported by `/health/ready`.
    pub fn role_check(&self) -> &RoleCheck {
        &self.0.role_check
    }

    /// Answers whether the database responds.
    pub async fn database_answers(&self) -> bool {
        self.db().ping().await
    }
}
