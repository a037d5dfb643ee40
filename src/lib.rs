//! tenantbase: a multi-tenant SaaS backend. [`Application::build`] turns a [`Config`] into a
//! bound, ready-to-run server; `main.rs` only parses the command line and calls into here.

pub mod auth;
pub mod cache;
pub mod config;
pub mod db;
pub mod entities;
pub mod error;
pub mod hooks;
pub mod http;
pub mod limits;
pub mod manifest;
pub mod services;
pub mod state;
pub mod telemetry;
pub mod tenancy;

use std::{net::TcpListener, sync::Arc};

use actix_web::{HttpServer, dev::Server, web};

pub use config::Config;

use crate::{
    auth::{TokenKeys, token},
    db::{
        DbError, PlatformDb,
        notify::{self, Caches},
        roles,
    },
    limits::LoginLimiter,
    services::admins,
    state::AppState,
    telemetry::Metrics,
};

/// Why the server did not start. Each message says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Database(#[from] DbError),
    #[error(transparent)]
    Key(#[from] token::KeyError),
    #[error(
        "refusing to start: the database role could bypass row-level security, so one tenant could see another's data:\n  - {}\n(set TB_INSECURE_ALLOW_RLS_BYPASS=true to start anyway, for local experiments only)",
        .0.join("\n  - ")
    )]
    InsecureRole(Vec<String>),
    #[error("refusing to start: the database schema is not up to date (pending: {}); run `tenantbase migrate`", .0.join(", "))]
    PendingMigrations(Vec<String>),
    #[error("cannot create the platform admin from TB_ADMIN_EMAIL/TB_ADMIN_PASSWORD: {0}")]
    Bootstrap(error::Error),
    #[error("cannot listen on {address}: {source}")]
    Bind { address: String, source: std::io::Error },
}

/// A built server, bound to its port, not yet running.
pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// [`Application::build_with_hooks`] with the built-in hooks only.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        Application::build_with_hooks(config, hooks::Hooks::with_builtins()).await
    }

    /// Connects and checks the database (migrating an embedded SQLite one), prepares keys,
    /// ensures the bootstrap admin, runs `app.before` hooks, binds the listener, starts the
    /// scheduler and runs `app.after` hooks.
    pub async fn build_with_hooks(config: Config, hooks: hooks::Hooks) -> Result<Self, StartupError> {
        let mut hooks = hooks;
        hooks.filter_timeout = config.hook_timeout;
        let hooks = Arc::new(hooks);
        hooks.run_init(&hooks::InitEvent { stage: hooks::InitStage::AppBefore, config: &config });
        let conn = db::connect(&config.database_url).await?;
        if config.is_sqlite() {
            db::connect::migrate_embedded(&conn).await?;
        } else {
            let pending = db::connect::pending_migrations(&conn).await?;
            if !pending.is_empty() {
                return Err(StartupError::PendingMigrations(pending));
            }
        }
        let role_check = roles::check_runtime_role(&conn).await?;
        if !role_check.passed() {
            if !config.insecure_allow_rls_bypass {
                return Err(StartupError::InsecureRole(role_check.problems));
            }
            for problem in &role_check.problems {
                tracing::warn!(
                    problem,
                    "TB_INSECURE_ALLOW_RLS_BYPASS: starting although row-level security can be bypassed"
                );
            }
        }

        let secret = token::load_secret(&config)?;
        let tokens = TokenKeys::new(&secret, &config.jwt_previous_secrets, &config.jwt_issuer, config.access_token_ttl);
        let platform = PlatformDb::new(conn.clone());
        if let (Some(email), Some(password)) = (&config.admin_email, &config.admin_password) {
            let outcome = admins::ensure(&platform, email, password.clone()).await.map_err(StartupError::Bootstrap)?;
            if outcome == admins::Ensured::Created {
                tracing::info!(email, "created the bootstrap platform admin");
            }
        }

        let caches = Caches {
            tenants: tenancy::tenant_cache(10_000),
            members: auth::members::member_cache(100_000),
            collections: services::collections::collection_cache(10_000),
        };
        notify::spawn_listener(&conn, caches.clone());
        let (purges, purge_caches) = (platform.clone(), caches.clone());
        tokio::spawn(async move {
            if let Err(error) = services::tenants::resume_purges(&purges, &purge_caches).await {
                tracing::error!(%error, "resuming tenant purges failed");
            }
        });

        let address = config.bind.clone();
        let bind = |source| StartupError::Bind { address: address.clone(), source };
        let listener = TcpListener::bind(&config.bind).map_err(bind)?;
        let port = listener.local_addr().map_err(bind)?.port();
        let workers = config.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
        let shutdown_timeout = config.shutdown_timeout.as_secs();
        let login_limiter = LoginLimiter::start(config.login_attempts_per_ip, config.login_attempts_per_account);
        let state = web::Data::new(AppState {
            config: Arc::new(config),
            db: platform,
            caches,
            login_limiter,
            tokens,
            role_check,
            metrics: Metrics::default(),
            hooks: hooks.clone(),
        });
        hooks::schedule::spawn_scheduler(hooks::Env::new(&state));
        hooks.run_init(&hooks::InitEvent { stage: hooks::InitStage::AppAfter, config: &state.config });
        let server = HttpServer::new(move || http::app(state.clone()))
            .workers(workers.max(1))
            .shutdown_timeout(shutdown_timeout)
            .listen(listener)
            .map_err(bind)?
            .run();
        Ok(Application { port, server })
    }

    /// The port the server listens on (useful with `TB_BIND=…:0`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGINT/SIGTERM, then lets in-flight requests finish (up to
    /// `TB_SHUTDOWN_TIMEOUT`).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
