//! A PostgreSQL database per test, cloned from a template migrated once per test process.
//!
//! Database names embed the test process id (`tb_tpl_<pid>`, `tb_test_<pid>_<n>`,
//! roles `tb_test_role_<pid>_<n>`). That is the ledger: at start-up every such object whose
//! process is gone is dropped, so a killed run cleans up after itself on the next one.

use std::{
    net::{TcpListener, TcpStream, ToSocketAddrs},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};

use reqwest::Url;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};
use serde_json::Value;
use tokio::sync::OnceCell;

/// The role the app runs as: created by `tenantbase::db::migrate`, neither owner nor superuser.
pub const RUNTIME_ROLE: &str = "tb_test_runtime";

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// What every test of this process shares: the server's owner URL and the template's name.
/// Plain data only; pools never outlive one test's runtime.
struct PgEnv {
    admin_url: Url,
    template: String,
}

static PG_ENV: OnceCell<PgEnv> = OnceCell::const_new();
static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

async fn pg_env() -> &'static PgEnv {
    PG_ENV
        .get_or_init(|| async {
            let admin_url = find_or_start_server();
            drop_leftovers_of_dead_runs(&admin_url).await;
            let template = create_template(&admin_url).await;
            PgEnv { admin_url, template }
        })
        .await
}

/// A database of its own for one test, dropped (with any roles made for it) on drop.
pub struct TestDatabase {
    pub name: String,
    admin_url: Url,
    roles: Vec<String>,
}

impl TestDatabase {
    /// A migrated database cloned from the template.
    pub async fn create() -> Self {
        let env = pg_env().await;
        Self::create_with(env, &format!("TEMPLATE {}", env.template)).await
    }

    /// An empty database, for running `tenantbase migrate` on.
    pub async fn create_empty() -> Self {
        Self::create_with(pg_env().await, "").await
    }

    async fn create_with(env: &PgEnv, options: &str) -> Self {
        let name = format!("tb_test_{}_{}", std::process::id(), NEXT_ID.fetch_add(1, Ordering::Relaxed));
        let admin = connect(env.admin_url.as_str()).await;
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name} {options}"))
            .await
            .unwrap_or_else(|e| panic!("creating test database {name}: {e}"));
        admin.close().await.ok();
        TestDatabase { name, admin_url: env.admin_url.clone(), roles: Vec::new() }
    }

    /// The owner (superuser) connection string for this database.
    pub fn owner_url(&self) -> String {
        url_for(&self.admin_url, &self.name, None)
    }

    /// The connection string of the non-owner runtime role the template was migrated for.
    pub fn runtime_url(&self) -> String {
        self.url_as(RUNTIME_ROLE)
    }

    /// The connection string for any role (passwordless, as the test server trusts loopback).
    pub fn url_as(&self, role: &str) -> String {
        url_for(&self.admin_url, &self.name, Some(role))
    }

    /// Creates a login role with the given extra attributes (e.g. `BYPASSRLS`), dropped with
    /// this database. Returns its name.
    pub async fn create_role(&mut self, attributes: &str) -> String {
        let role = self.new_role_name();
        let admin = connect(self.admin_url.as_str()).await;
        admin
            .execute_unprepared(&format!("CREATE ROLE {role} LOGIN {attributes}"))
            .await
            .unwrap_or_else(|e| panic!("creating role {role}: {e}"));
        admin.close().await.ok();
        self.roles.push(role.clone());
        role
    }

    /// A role name under this process's ledger entry that does not exist yet; dropped with
    /// this database if something (e.g. `tenantbase migrate`) creates it.
    pub fn new_role_name(&mut self) -> String {
        let role = format!("tb_test_role_{}_{}", std::process::id(), NEXT_ID.fetch_add(1, Ordering::Relaxed));
        self.roles.push(role.clone());
        role
    }

    /// Runs `sql` as the owner; every row's first column must be text holding JSON
    /// (write `SELECT row_to_json(t)::text ...` or `json_build_object(...)::text`).
    pub async fn query_json(&self, sql: &str) -> Vec<Value> {
        let db = connect(&self.owner_url()).await;
        let rows = db
            .query_all_raw(Statement::from_string(DbBackend::Postgres, sql))
            .await
            .unwrap_or_else(|e| panic!("query failed: {sql}: {e}"));
        db.close().await.ok();
        rows.iter()
            .map(|row| {
                let text: String = row.try_get_by_index(0).expect("first column is text");
                serde_json::from_str(&text).expect("first column is JSON")
            })
            .collect()
    }

    /// Runs statements as the owner.
    pub async fn execute(&self, sql: &str) {
        let db = connect(&self.owner_url()).await;
        db.execute_unprepared(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        db.close().await.ok();
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let roles = std::mem::take(&mut self.roles);
        // Drop may run inside a test's runtime, which cannot be blocked on: use a thread
        // with a runtime of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async {
                let admin = try_connect(admin_url.as_str()).await?;
                admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await?;
                for role in roles {
                    admin.execute_unprepared(&format!("DROP ROLE IF EXISTS {role}")).await?;
                }
                admin.close().await?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("warning: could not drop test database {}: {e}", self.name);
        }
    }
}

fn url_for(admin_url: &Url, database: &str, user: Option<&str>) -> String {
    let mut url = admin_url.clone();
    url.set_path(&format!("/{database}"));
    if let Some(user) = user {
        url.set_username(user).expect("postgres URLs have a user part");
        url.set_password(None).expect("postgres URLs have a password part");
    }
    url.to_string()
}

async fn try_connect(url: &str) -> Result<DatabaseConnection, sea_orm::DbErr> {
    let mut options = ConnectOptions::new(url);
    options.max_connections(1).min_connections(0).connect_timeout(Duration::from_secs(10)).sqlx_logging(false);
    Database::connect(options).await
}

async fn connect(url: &str) -> DatabaseConnection {
    try_connect(url).await.unwrap_or_else(|e| panic!("connecting to {url}: {e}"))
}

/// Creates `tb_tpl_<pid>` and migrates it as the owner for the runtime role, then makes sure
/// nothing is connected to it, so it can be cloned.
async fn create_template(admin_url: &Url) -> String {
    let template = format!("tb_tpl_{}", std::process::id());
    let admin = connect(admin_url.as_str()).await;
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {template} WITH (FORCE)"))
        .await
        .expect("dropping an old template");
    admin.execute_unprepared(&format!("CREATE DATABASE {template}")).await.expect("creating the template database");

    let owner_url = url_for(admin_url, &template, None);
    let runtime_url = url_for(admin_url, &template, Some(RUNTIME_ROLE));
    let config = tenantbase::config::Config::from_vars([
        ("TB_DATABASE_URL", runtime_url.as_str()),
        ("TB_MIGRATE_DATABASE_URL", owner_url.as_str()),
    ])
    .expect("template config is valid");
    // Another test process may be creating the shared runtime role at the same moment.
    if let Err(first) = tenantbase::db::migrate(&config).await {
        tokio::time::sleep(Duration::from_millis(500)).await;
        tenantbase::db::migrate(&config)
            .await
            .unwrap_or_else(|e| panic!("migrating the template failed: {first}; retry: {e}"));
    }

    admin
        .execute_unprepared(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{template}' AND pid <> pg_backend_pid()"
        ))
        .await
        .expect("disconnecting from the template");
    // Nothing may connect to the template from now on: a connection would break cloning.
    admin
        .execute_unprepared(&format!("ALTER DATABASE {template} WITH ALLOW_CONNECTIONS false"))
        .await
        .expect("closing the template to connections");
    admin.close().await.ok();
    template
}

/// Drops databases and roles left behind by test processes that no longer run.
async fn drop_leftovers_of_dead_runs(admin_url: &Url) {
    let admin = connect(admin_url.as_str()).await;
    let databases =
        names(&admin, "SELECT datname::text FROM pg_database WHERE datname ~ '^tb_(test|tpl)_[0-9]+'").await;
    let roles = names(&admin, "SELECT rolname::text FROM pg_roles WHERE rolname ~ '^tb_test_role_[0-9]+_'").await;
    for database in databases.iter().filter(|name| belongs_to_dead_process(name)) {
        if let Err(e) = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)")).await {
            eprintln!("warning: could not drop leftover database {database}: {e}");
        }
    }
    for role in roles.iter().filter(|name| belongs_to_dead_process(name)) {
        if let Err(e) = admin.execute_unprepared(&format!("DROP ROLE IF EXISTS {role}")).await {
            eprintln!("warning: could not drop leftover role {role}: {e}");
        }
    }
    admin.close().await.ok();
}

async fn names(db: &DatabaseConnection, sql: &str) -> Vec<String> {
    db.query_all_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|row| row.try_get_by_index::<String>(0).expect("a name"))
        .collect()
}

fn belongs_to_dead_process(name: &str) -> bool {
    let pid = name
        .trim_start_matches("tb_test_role_")
        .trim_start_matches("tb_test_")
        .trim_start_matches("tb_tpl_")
        .split('_')
        .next()
        .and_then(|pid| pid.parse::<u32>().ok());
    match pid {
        Some(pid) => pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists(),
        None => false,
    }
}

/// The owner URL of a reachable server: `TB_TEST_DATABASE_URL`, else the default; when nothing
/// answers there, a throwaway cluster started from the installed server binaries.
fn find_or_start_server() -> Url {
    let configured = std::env::var("TB_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_URL.to_string());
    let url = Url::parse(&configured).unwrap_or_else(|e| panic!("TB_TEST_DATABASE_URL is not a URL: {e}"));
    if answers(&url) {
        return url;
    }
    let Some(bin_dir) = find_server_binaries() else {
        panic!(
            "No PostgreSQL answers at {configured} and no PostgreSQL server binaries (initdb, pg_ctl) \
             were found on PATH or under /usr/lib/postgresql/*/bin. Either start a server and set \
             TB_TEST_DATABASE_URL to its owner (superuser) URL, or install the server binaries \
             (Debian/Ubuntu: `apt-get install postgresql`) so the tests can start a throwaway cluster."
        );
    };
    start_throwaway_cluster(&bin_dir)
}

fn answers(url: &Url) -> bool {
    let host = url.host_str().unwrap_or("127.0.0.1");
    let port = url.port().unwrap_or(5432);
    let Ok(addresses) = (host, port).to_socket_addrs() else { return false };
    addresses.into_iter().any(|address| TcpStream::connect_timeout(&address, Duration::from_secs(2)).is_ok())
}

fn find_server_binaries() -> Option<PathBuf> {
    let has_both = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(path) = std::env::var_os("PATH")
        && let Some(dir) = std::env::split_paths(&path).find(|dir| has_both(dir))
    {
        return Some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, bin)| has_both(bin))
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// initdb + pg_ctl start in a temp dir on a free port, trusting loopback. A watcher process
/// stops the cluster and removes the directory once this test process has exited.
fn start_throwaway_cluster(bin_dir: &Path) -> Url {
    let dir = tempfile::Builder::new()
        .prefix("tenantbase-test-pg-")
        .tempdir()
        .expect("creating a temp dir for PostgreSQL")
        .keep();
    let data = dir.join("data");
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("finding a free port")
        .port();

    // initdb refuses to run as root: run the server tools as an unprivileged user then.
    let run_as =
        is_root().then(|| unprivileged_user().expect("no unprivileged user (postgres or nobody) to run PostgreSQL as"));
    if let Some(user) = &run_as {
        let status = Command::new("chown").arg("-R").arg(user).arg(&dir).status().expect("running chown");
        assert!(status.success(), "chown of {} failed", dir.display());
    }
    let tool = |name: &str| {
        let program = bin_dir.join(name);
        let mut command = match &run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(program);
                command
            }
            None => Command::new(program),
        };
        command.stdin(Stdio::null());
        command
    };

    let initdb = tool("initdb")
        .arg("-D")
        .arg(&data)
        .args(["-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-sync"])
        .output()
        .expect("running initdb");
    assert!(initdb.status.success(), "initdb failed: {}", String::from_utf8_lossy(&initdb.stderr));

    let options = format!(
        "-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={} \
         -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
        dir.display()
    );
    let start = tool("pg_ctl")
        .arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(dir.join("server.log"))
        .args(["-w", "-t", "60", "-o", &options, "start"])
        .output()
        .expect("running pg_ctl start");
    assert!(
        start.status.success(),
        "pg_ctl start failed: {}{}",
        String::from_utf8_lossy(&start.stdout),
        String::from_utf8_lossy(&start.stderr)
    );

    let stop = match &run_as {
        Some(user) => format!("runuser -u {user} -- {}", bin_dir.join("pg_ctl").display()),
        None => bin_dir.join("pg_ctl").display().to_string(),
    };
    let watcher = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 2; done; {stop} -D '{data}' -m immediate stop; rm -rf '{dir}'",
        pid = std::process::id(),
        data = data.display(),
        dir = dir.display(),
    );
    // Never waited for on purpose: the watcher must outlive this process.
    #[allow(clippy::zombie_processes)]
    Command::new("sh")
        .args(["-c", &watcher])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting the cluster watcher");

    Url::parse(&format!("postgres://postgres@127.0.0.1:{port}/postgres")).expect("a valid URL")
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|line| line.starts_with("Uid:"))?;
            line.split_whitespace().nth(1).map(|uid| uid == "0")
        })
        .unwrap_or(false)
}

fn unprivileged_user() -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    ["postgres", "nobody"]
        .into_iter()
        .find(|user| passwd.lines().any(|line| line.starts_with(&format!("{user}:"))))
        .map(str::to_string)
}
