//! tenantbase: a multi-tenant SaaS backend. [`Application::build`] turns a [`Config`] into a
//! bound, ready-to-run server; `main.rs` only calls [`cli::run`].
//!
//! This file is the composition root, the one place that knows every layer: it connects the
//! database, builds the caches and subscribes them to change notices, hands the hooks' runtime
//! the item operations of the service layer, and mounts the HTTP edge. The layers and their
//! rule are in docs/architecture.md.

pub mod auth;
pub mod cache;
pub mod cli;
pub mod config;
pub mod db;
pub mod entities;
pub mod error;
pub mod extensions;
pub mod hooks;
pub mod http;
pub mod input;
pub mod limits;
pub mod manifest;
pub mod schema;
pub mod services;
pub mod storage;
pub mod telemetry;
pub mod tenancy;

use std::net::TcpListener;

use actix_web::{HttpServer, dev::Server};

pub use config::Config;

use crate::{
    auth::{
        TokenKeys,
        members::{Members, member_cache},
        token,
    },
    cache::AnswerCache,
    db::{Change, ChangeFeed, DbError, Notice, PlatformDb, roles},
    hooks::{Hooks, InitEvent, InitStage, Runtime, ScheduleLimits, schedule},
    limits::{Instances, LoginLimiter, LoginLimits, RequestLimiter},
    schema::SchemaCache,
    services::{Env, EnvParts, admins, files, items::ItemService, tenants},
    storage::{FileStore, Storage},
    tenancy::{TenantDirectory, tenant_cache},
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
    #[error("cannot reach the object store: {0}")]
    Storage(#[from] storage::StorageError),
    #[error("TB_FILES_CLEANUP_SCHEDULE: {0}")]
    CleanupSchedule(String),
    #[error("cannot listen on {address}: {source}")]
    Bind { address: String, source: std::io::Error },
}

/// A built server, bound to its port, not yet running.
pub struct Application {
    port: u16,
    server: Server,
    env: Env,
    /// Ends this instance's heartbeat, which then removes its row.
    heartbeat: Heartbeat,
}

impl Application {
    /// [`Application::build_with_hooks`] with the built-in hooks only.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        Application::build_with_hooks(config, Hooks::with_builtins()).await
    }

    /// Connects and checks the database (migrating an embedded SQLite one), prepares keys,
    /// ensures the bootstrap admin, runs `app.before` hooks, binds the listener, starts the
    /// scheduler and runs `app.after` hooks.
    pub async fn build_with_hooks(config: Config, hooks: Hooks) -> Result<Self, StartupError> {
        let mut hooks = hooks;
        hooks.filter_timeout = config.hook_timeout;
        let cleanup = config.files.cleanup_schedule.parse().map_err(StartupError::CleanupSchedule)?;
        hooks.retime(extensions::files::CLEANUP, cleanup);
        hooks.run_init(&InitEvent { stage: InitStage::AppBefore, config: &config });
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
        // Every cache hears of every change: committed here, or announced by another instance.
        let changes = ChangeFeed::default();
        let writer = db::connect::writer(&config.database_url, &conn).await?;
        let db = PlatformDb::new(conn.clone(), writer, changes.clone());
        if let (Some(email), Some(password)) = (&config.admin_email, &config.admin_password) {
            let outcome = admins::ensure(&db, email, password.clone()).await.map_err(StartupError::Bootstrap)?;
            if outcome == admins::Ensured::Created {
                tracing::info!(email, "created the bootstrap platform admin");
            }
        }
        let tenant_cache = tenant_cache(10_000);
        let member_cache = member_cache(100_000);
        let schemas = SchemaCache::new(db.clone(), 10_000);
        let answers = std::sync::Arc::new(AnswerCache::new(&config.cache));
        let (tenants_seen, members_seen, schemas_seen) = (tenant_cache.clone(), member_cache.clone(), schemas.clone());
        let answers_seen = answers.clone();
        changes.subscribe(move |notice| {
            tenants_seen.on_change(notice);
            members_seen.on_change(notice);
            schemas_seen.on_change(notice);
            match notice {
                Notice::Changed(Change::Items { tenant, collection }) => {
                    answers_seen.items_changed(*tenant, collection)
                }
                Notice::Changed(Change::Tenant(tenant) | Change::Collections(tenant)) => {
                    answers_seen.tenant_changed(*tenant)
                }
                Notice::Changed(Change::Member { .. }) => {}
                Notice::Reset => answers_seen.clear(),
                Notice::Listening(listening) => answers_seen.set_trusted(*listening),
            }
        });
        let fence = db::spawn_listener(&conn, changes);
        let address = config.bind.clone();
        let bind = |source| StartupError::Bind { address: address.clone(), source };
        let listener = TcpListener::bind(&config.bind).map_err(bind)?;
        let port = listener.local_addr().map_err(bind)?.port();
        let workers = config.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
        let shutdown_timeout = config.shutdown_timeout.as_secs();
        let login_limiter = LoginLimiter::start(LoginLimits {
            per_ip: config.login_attempts_per_ip,
            per_ip_all_tenants: config.login_attempts_per_ip_all_tenants,
            per_account: config.login_attempts_per_account,
        });
        let tenants = TenantDirectory::new(db.clone(), tenant_cache, &config.base_domain);
        let members = Members::new(db.clone(), member_cache);
        let storage = match &config.storage {
            Some(storage) => Some(Storage::connect(storage).await?),
            None => None,
        };
        let manage_cors = config.storage.as_ref().is_some_and(|s| s.manage_cors);
        let file_store = FileStore::new(storage, manage_cors, config.files.clone());
        let runtime = Runtime::new(hooks, db, schemas, file_store, ItemService);
        let instances = Instances::default();
        let request_limiter = RequestLimiter::start(instances.clone());
        let env = Env::new(EnvParts {
            runtime,
            config,
            tenants,
            members,
            tokens,
            login_limiter,
            request_limiter,
            instances,
            fence,
            answers,
            metrics: telemetry::Metrics::default(),
            role_check,
        });
        let limits =
            ScheduleLimits { concurrency: env.config().schedule_concurrency, timeout: env.config().schedule_timeout };
        schedule::spawn_scheduler(env.runtime().clone(), limits);
        // Purges cut short by a crash, or failed, are finished by whichever instance gets there.
        let (purges, every) = (env.runtime().clone(), env.config().purge_retry);
        tokio::spawn(async move {
            loop {
                if let Err(error) = tenants::resume_purges(&purges).await {
                    tracing::error!(%error, "resuming tenant purges failed; retrying");
                }
                tokio::time::sleep(every).await;
            }
        });
        // The bucket's CORS rules are rewritten at every start and whenever a tenant changes.
        let cors = env.runtime().clone();
        tokio::spawn(async move {
            if let Err(error) = files::sync_bucket_cors(&cors).await {
                tracing::warn!(%error, "could not set the bucket's CORS rules; browsers may not upload until it works");
            }
        });
        let heartbeat = join_instances(&env).await;
        spawn_usage_flush(env.clone());
        env.hooks().run_init(&InitEvent { stage: InitStage::AppAfter, config: env.config() });
        // Signals are the embedding program's to handle (`run_until_signalled`): actix's own
        // handling drops in-flight requests on SIGINT.
        let app_env = env.clone();
        let server = HttpServer::new(move || http::app(app_env.clone()))
            .workers(workers.max(1))
            .disable_signals()
            .shutdown_timeout(shutdown_timeout)
            .listen(listener)
            .map_err(bind)?
            .run();
        Ok(Application { port, server, env, heartbeat })
    }

    /// The port the server listens on (useful with `TB_BIND=…:0`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle that stops the server (as SIGTERM does, with `graceful`), for embedding programs
    /// and tests.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until the process ends or the server is stopped; then this instance leaves the
    /// heartbeat table, so the others take over its share of the rate limits at once, and writes
    /// its last usage counts.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        let _ = self.heartbeat.stop.send(true);
        let _ = self.heartbeat.task.await;
        services::usage::flush(&self.env).await;
        served
    }

    /// Serves until SIGTERM or SIGINT, then stops accepting connections and lets in-flight
    /// requests finish (up to `TB_SHUTDOWN_TIMEOUT`): both signals drain.
    pub async fn run_until_signalled(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        tokio::spawn(async move {
            let signal = shutdown_signal().await;
            tracing::info!(signal, "stopping: in-flight requests may finish");
            handle.stop(true).await;
        });
        self.run_until_stopped().await
    }
}

/// The running heartbeat of this instance.
struct Heartbeat {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// Announces this instance before it serves. If others share the database, it waits until each
/// has counted it ([`db::instances::JOIN_SETTLE`]): from then on they wait for its changes
/// before answering from their caches (`Env::catch_up`), so nothing it writes can be read
/// stale through them. Then the heartbeat goes on in the background.
async fn join_instances(env: &Env) -> Heartbeat {
    let id = uuid::Uuid::now_v7();
    match env.db().heartbeat(id).await {
        Ok(live) => {
            env.instances().set_live(live);
            if live > 1 {
                tokio::time::sleep(db::instances::JOIN_SETTLE).await;
            }
        }
        Err(error) => tracing::warn!(%error, "instance heartbeat failed"),
    }
    spawn_heartbeat(env.clone(), id)
}

/// Announces this instance every [`db::instances::HEARTBEAT`] and keeps the count of live
/// instances (which divides every rate limit) up to date; a failed heartbeat keeps the last
/// count. Once stopped, it removes this instance's row, so the others take over its share on
/// their next heartbeat instead of after it expires.
fn spawn_heartbeat(env: Env, id: uuid::Uuid) -> Heartbeat {
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(async move {
        let mut every = tokio::time::interval(db::instances::HEARTBEAT);
        loop {
            tokio::select! {
                _ = every.tick() => match env.db().heartbeat(id).await {
                    Ok(live) => env.instances().set_live(live),
                    Err(error) => tracing::warn!(%error, "instance heartbeat failed"),
                },
                _ = stopped.changed() => break,
            }
        }
        if let Err(error) = env.db().leave(id).await {
            tracing::warn!(%error, "could not remove this instance's heartbeat; it expires by itself");
        }
    });
    Heartbeat { stop, task }
}

/// Writes this instance's usage counters every `TB_USAGE_FLUSH_SECONDS`.
fn spawn_usage_flush(env: Env) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(env.config().usage_flush);
        every.tick().await;
        loop {
            every.tick().await;
            services::usage::flush(&env).await;
        }
    });
}

/// Waits for SIGTERM or SIGINT (Ctrl-C) and names it.
async fn shutdown_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
            (Ok(mut terminate), Ok(mut interrupt)) => tokio::select! {
                _ = terminate.recv() => "SIGTERM",
                _ = interrupt.recv() => "SIGINT",
            },
            _ => {
                tracing::error!("cannot listen for SIGTERM/SIGINT; stop the process with SIGKILL");
                std::future::pending().await
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}
