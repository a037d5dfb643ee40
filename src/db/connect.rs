use std::time::Duration;

use migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};
use secrecy::{ExposeSecret, SecretString};
use sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};

use super::DbError;
use crate::config::{Config, redact_url};

/// Opens a connection pool. For a SQLite file the parent directory is created first, and every
/// connection is set up like the best embedded servers do (PocketBase): write-ahead log so
/// readers never block the writer, `synchronous=NORMAL` (in WAL mode a crash of the process loses
/// nothing committed; only a power loss can take the last commits), a busy timeout and foreign
/// keys. Writes go through [`writer`]'s single connection.
pub async fn connect(url: &SecretString) -> Result<DatabaseConnection, DbError> {
    open(url, if is_sqlite(url) { SQLITE_READERS } else { 16 }).await
}

/// The pool that write transactions use. On a SQLite file it is one connection of its own, so
/// writers queue for it in order instead of contending for the database lock (and a reader
/// never waits behind them); elsewhere it is `readers` itself.
pub async fn writer(url: &SecretString, readers: &DatabaseConnection) -> Result<DatabaseConnection, DbError> {
    if is_sqlite_file(url) { open(url, 1).await } else { Ok(readers.clone()) }
}

/// Readers beside the one SQLite writer.
const SQLITE_READERS: u32 = 4;

fn is_sqlite(url: &SecretString) -> bool {
    url.expose_secret().starts_with("sqlite:")
}

/// A SQLite database in a file (not `:memory:`): the one that has a log and a writer of its own.
fn is_sqlite_file(url: &SecretString) -> bool {
    is_sqlite(url) && !url.expose_secret().contains(":memory:")
}

async fn open(url: &SecretString, max_connections: u32) -> Result<DatabaseConnection, DbError> {
    let (sqlite, file) = (is_sqlite(url), is_sqlite_file(url));
    let url = url.expose_secret();
    if sqlite {
        prepare_sqlite_dir(url)?;
    }
    let mut options = ConnectOptions::new(url.to_string());
    options
        .max_connections(max_connections)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        // Statements carry user data; they are never logged.
        .sqlx_logging(false);
    if file {
        options.map_sqlx_sqlite_opts(|sqlite| {
            sqlite
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true)
        });
    }
    Database::connect(options).await.map_err(|source| DbError::Connect { url: redact_url(url), source })
}

fn prepare_sqlite_dir(url: &str) -> Result<(), DbError> {
    let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path.contains(":memory:") {
        return Ok(());
    }
    if let Some(dir) = std::path::Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| DbError::DataDir { path: dir.display().to_string(), source })?;
    }
    Ok(())
}

/// Applies every pending migration as the owner (`TB_MIGRATE_DATABASE_URL`). On PostgreSQL, when
/// the runtime role of `TB_DATABASE_URL` is a different role, makes sure it exists and can do
/// only the DML it needs (API.md "Running").
pub async fn migrate(config: &Config) -> Result<(), DbError> {
    let owner = connect(config.migrate_url()).await?;
    Migrator::up(&owner, None).await.map_err(DbError::Migrate)?;
    if owner.get_database_backend() == DbBackend::Postgres {
        let runtime = database_user(config.database_url.expose_secret());
        let owner_user = database_user(config.migrate_url().expose_secret());
        if let Some(role) = runtime.filter(|r| Some(r) != owner_user.as_ref()) {
            grant_runtime_role(&owner, &role).await?;
        }
    }
    owner.close().await?;
    Ok(())
}

/// Runs pending migrations when the database is the embedded SQLite one.
pub(crate) async fn migrate_embedded(conn: &DatabaseConnection) -> Result<(), DbError> {
    Migrator::up(conn, None).await.map_err(DbError::Migrate)
}

/// Names pending migrations without changing anything (`serve` on PostgreSQL refuses to start
/// on an outdated schema).
pub(crate) async fn pending_migrations(conn: &DatabaseConnection) -> Result<Vec<String>, DbError> {
    let readable = conn
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT CASE WHEN to_regclass('seaql_migrations') IS NULL THEN 'missing' \
             WHEN has_table_privilege(to_regclass('seaql_migrations'), 'SELECT') THEN 'ok' ELSE 'denied' END AS state",
        ))
        .await?
        .map(|row| row.try_get::<String>("", "state"))
        .transpose()?;
    match readable.as_deref() {
        Some("ok") => {}
        Some("denied") => {
            return Err(DbError::Unmigrated(
                "the runtime role may not read seaql_migrations: run `tenantbase migrate` with \
                 TB_DATABASE_URL set to this role, so that it is granted what it needs"
                    .into(),
            ));
        }
        _ => return Err(DbError::Unmigrated("the database has no schema yet: run `tenantbase migrate`".into())),
    }
    let pending = Migrator::get_pending_migrations_read_only(conn).await?;
    Ok(pending.iter().map(|m| m.name().to_string()).collect())
}

async fn grant_runtime_role(owner: &DatabaseConnection, role: &str) -> Result<(), DbError> {
    let exists = owner
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT 1 FROM pg_roles WHERE rolname = $1",
            [role.into()],
        ))
        .await?
        .is_some();
    let quoted = quote_ident(role);
    if !exists {
        tracing::info!(role, "creating the runtime role");
        owner.execute_unprepared(&format!("CREATE ROLE {quoted} LOGIN NOSUPERUSER NOBYPASSRLS")).await?;
    }
    owner
        .execute_unprepared(&format!(
            "GRANT USAGE ON SCHEMA public TO {quoted};
             GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {quoted};
             GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted};
             REVOKE INSERT, UPDATE, DELETE ON seaql_migrations FROM {quoted};"
        ))
        .await?;
    Ok(())
}

/// The user name of a `postgres://user:password@host/db` URL.
pub(crate) fn database_user(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let (userinfo, _) = rest.rsplit_once('@')?;
    let user = userinfo.split(':').next()?;
    (!user.is_empty()).then(|| percent_decode(user))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(value)) => {
                out.push(value);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Quotes a PostgreSQL identifier.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_user_reads_the_user_of_a_url() {
        assert_eq!(database_user("postgres://app:pw@localhost/db").as_deref(), Some("app"));
        assert_eq!(database_user("postgres://tb%5Fapp@h/db").as_deref(), Some("tb_app"));
        assert_eq!(database_user("postgres://localhost/db"), None);
        assert_eq!(database_user("sqlite://data/x.db"), None);
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
