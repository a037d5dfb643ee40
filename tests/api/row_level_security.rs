//! The second wall: PostgreSQL row-level security holds even for SQL that forgets its tenant
//! filter, through the same non-owner role the server runs as (SECURITY.md items 4-7).

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement, TransactionTrait};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app};

/// One connection, so a setting left behind by one transaction would be seen by the next.
async fn connect(url: &str) -> DatabaseConnection {
    let mut options = ConnectOptions::new(url);
    options.max_connections(1).min_connections(1).sqlx_logging(false);
    Database::connect(options).await.unwrap()
}

async fn runtime(app: &TestApp) -> DatabaseConnection {
    connect(&app.database.as_ref().unwrap().runtime_url()).await
}

async fn count(conn: &impl ConnectionTrait, sql: &str) -> i64 {
    let row = conn.query_one_raw(Statement::from_string(DbBackend::Postgres, sql)).await.unwrap().unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

async fn set_tenant(conn: &impl ConnectionTrait, tenant: Uuid) {
    conn.execute_unprepared(&format!("SELECT set_config('app.tenant_id', '{tenant}', true)")).await.unwrap();
}

/// Two tenants, each with an admin who has logged in (so users and sessions both have rows).
async fn two_tenants(app: &TestApp) -> (Uuid, Uuid) {
    let a = app.tenant_admin("acme").await.tenant.id;
    let b = app.tenant_admin("globex").await.tenant.id;
    (a, b)
}

#[tokio::test]
async fn every_table_with_a_tenant_id_has_forced_row_level_security() {
    let app = spawn_app().await;
    let owner = connect(&app.database.as_ref().unwrap().owner_url()).await;
    let rows = owner
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT c.relname::text, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped \
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY 1",
        ))
        .await
        .unwrap();
    let tables: Vec<(String, bool, bool)> = rows
        .iter()
        .map(|r| (r.try_get_by_index(0).unwrap(), r.try_get_by_index(1).unwrap(), r.try_get_by_index(2).unwrap()))
        .collect();
    let names: Vec<&str> = tables.iter().map(|(name, _, _)| name.as_str()).collect();
    for expected in ["collections", "items", "sessions", "tenant_domains", "users"] {
        assert!(names.contains(&expected), "{expected} is a tenant table: {names:?}");
    }
    for (name, enabled, forced) in &tables {
        assert!(*enabled && *forced, "{name}: row level security enabled={enabled} forced={forced}");
    }
}

#[tokio::test]
async fn through_the_runtime_role_one_tenant_sees_none_of_anothers_rows_even_unfiltered() {
    let app = spawn_app().await;
    let (a, b) = two_tenants(&app).await;
    let db = runtime(&app).await;

    let txn = db.begin().await.unwrap();
    set_tenant(&txn, b).await;
    assert_eq!(count(&txn, &format!("SELECT count(*) FROM users WHERE tenant_id = '{a}'")).await, 0);
    assert_eq!(count(&txn, &format!("SELECT count(*) FROM sessions WHERE tenant_id = '{a}'")).await, 0);
    assert_eq!(count(&txn, "SELECT count(*) FROM users").await, 1, "only B's own admin");
    assert_eq!(count(&txn, "SELECT count(*) FROM sessions").await, 1, "only B's own session");
    assert_eq!(
        txn.execute_unprepared(&format!("UPDATE users SET name = 'x' WHERE tenant_id = '{a}'"))
            .await
            .unwrap()
            .rows_affected(),
        0
    );
    assert_eq!(
        txn.execute_unprepared(&format!("DELETE FROM sessions WHERE tenant_id = '{a}'")).await.unwrap().rows_affected(),
        0
    );
    txn.commit().await.unwrap();

    let txn = db.begin().await.unwrap();
    set_tenant(&txn, a).await;
    assert_eq!(count(&txn, "SELECT count(*) FROM users").await, 1, "A's admin is still there");
    assert_eq!(count(&txn, "SELECT count(*) FROM sessions").await, 1, "A's session is still there");
    txn.commit().await.unwrap();
}

#[tokio::test]
async fn with_no_tenant_set_tenant_tables_show_nothing_at_all() {
    let app = spawn_app().await;
    two_tenants(&app).await;
    let db = runtime(&app).await;

    assert_eq!(count(&db, "SELECT count(*) FROM users").await, 0);
    assert_eq!(count(&db, "SELECT count(*) FROM sessions").await, 0);
}

#[tokio::test]
async fn the_tenant_setting_ends_with_its_transaction_on_a_pooled_connection() {
    let app = spawn_app().await;
    let (a, _) = two_tenants(&app).await;
    let db = runtime(&app).await;

    let txn = db.begin().await.unwrap();
    set_tenant(&txn, a).await;
    assert_eq!(count(&txn, "SELECT count(*) FROM users").await, 1);
    txn.commit().await.unwrap();

    // Same single connection: the setting reads '' now, and the policy's NULLIF turns that into
    // "no tenant" instead of a cast error.
    assert_eq!(count(&db, "SELECT count(*) FROM users").await, 0);
    let setting = db
        .query_one_raw(Statement::from_string(DbBackend::Postgres, "SELECT current_setting('app.tenant_id', true)"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(setting.try_get_by_index::<Option<String>>(0).unwrap().unwrap_or_default(), "");
}

/// The server begins a tenant's read transaction with one simple-protocol message,
/// `BEGIN; SET LOCAL app.tenant_id = '<id>'`. Whatever follows its `COMMIT`, even
/// in the same message on the same connection, sees no tenant.
#[tokio::test]
async fn a_statement_in_the_same_message_after_commit_sees_no_tenant() {
    let app = spawn_app().await;
    let (a, _) = two_tenants(&app).await;
    let db = runtime(&app).await;
    db.execute_unprepared("CREATE TEMP TABLE seen (step text, users bigint, setting text)").await.unwrap();

    let observe = |step: &str| {
        format!(
            "INSERT INTO seen SELECT '{step}', (SELECT count(*) FROM users), current_setting('app.tenant_id', true)"
        )
    };
    db.execute_unprepared(&format!(
        "BEGIN; SET LOCAL app.tenant_id = '{a}'; {}; COMMIT; {}; {}",
        observe("inside"),
        observe("after commit"),
        "INSERT INTO seen SELECT 'after commit, filtered', count(*), NULL FROM users WHERE tenant_id = '{a}'"
            .replace("{a}", &a.to_string()),
    ))
    .await
    .unwrap();

    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT step, users, setting FROM seen ORDER BY step",
        ))
        .await
        .unwrap();
    let seen: Vec<(String, i64, String)> = rows
        .iter()
        .map(|r| {
            let setting: Option<String> = r.try_get_by_index(2).unwrap();
            (r.try_get_by_index(0).unwrap(), r.try_get_by_index(1).unwrap(), setting.unwrap_or_default())
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("after commit".to_string(), 0, String::new()),
            ("after commit, filtered".to_string(), 0, String::new()),
            ("inside".to_string(), 1, a.to_string()),
        ]
    );
}

#[tokio::test]
async fn a_row_written_for_another_tenant_is_refused_by_the_policy() {
    let app = spawn_app().await;
    let (a, b) = two_tenants(&app).await;
    let db = runtime(&app).await;

    let txn = db.begin().await.unwrap();
    set_tenant(&txn, b).await;
    let insert = txn
        .execute_unprepared(&format!(
            "INSERT INTO users (tenant_id, id, email, password_hash, role, status, created_at, updated_at) \
             VALUES ('{a}', '{}', 'intruder@example.com', 'x', 'admin', 'active', now(), now())",
            Uuid::now_v7()
        ))
        .await;
    let error = insert.expect_err("an insert into another tenant must fail").to_string();
    assert!(error.contains("row-level security"), "{error}");
}

#[tokio::test]
async fn custom_domains_route_for_everyone_but_change_only_within_their_tenant() {
    let app = spawn_app().await;
    app.create_tenant_from(serde_json::json!({"slug": "acme", "name": "Acme", "domains": ["acme.example"]})).await;
    let b = app.tenant_admin("globex").await.tenant.id;
    let db = runtime(&app).await;

    // Resolving a Host header happens before any tenant is known.
    assert_eq!(count(&db, "SELECT count(*) FROM tenant_domains WHERE domain = 'acme.example'").await, 1);
    let txn = db.begin().await.unwrap();
    set_tenant(&txn, b).await;
    let deleted = txn.execute_unprepared("DELETE FROM tenant_domains WHERE domain = 'acme.example'").await.unwrap();
    assert_eq!(deleted.rows_affected(), 0);
    let moved = txn
        .execute_unprepared(&format!("UPDATE tenant_domains SET tenant_id = '{b}' WHERE domain = 'acme.example'"))
        .await
        .unwrap();
    assert_eq!(moved.rows_affected(), 0);
    txn.commit().await.unwrap();
    assert_eq!(count(&db, "SELECT count(*) FROM tenant_domains WHERE domain = 'acme.example'").await, 1);
}

/// Every table of the schema, from the catalog, with the column that names its tenant, if any.
async fn every_table(conn: &impl ConnectionTrait) -> Vec<(String, Option<String>)> {
    let rows = conn
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT c.relname::text, (SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = c.oid \
             AND a.attname = 'tenant_id' AND NOT a.attisdropped) FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') \
             ORDER BY 1",
        ))
        .await
        .unwrap();
    rows.iter().map(|r| (r.try_get_by_index(0).unwrap(), r.try_get_by_index(1).unwrap())).collect()
}

#[tokio::test]
async fn inside_a_tenants_transaction_no_table_of_the_schema_shows_anything_of_anyone_else() {
    let app = spawn_app().await;
    // Rows in every table: two tenants with domains, users, sessions, collections and items; a
    // platform admin with a session; a schedule claim; the migration ledger.
    let acme = app.tenant_admin("acme").await;
    let globex = app.tenant_admin("globex").await;
    let path = format!("/api/tenants/{}", acme.tenant.id);
    let patched = app.as_platform(reqwest::Method::PATCH, &path).await.json(&json!({"domains": ["acme.example"]}));
    assert!(patched.send().await.unwrap().status().is_success());
    for admin in [&acme, &globex] {
        app.data(admin).collection(&json!({"name": "notes", "fields": [{"name": "t", "type": "string"}]})).await;
        app.data(admin).item("notes", &json!({"t": admin.tenant.slug})).await;
    }
    app.platform_token().await;
    let owner = connect(&app.database.as_ref().unwrap().owner_url()).await;
    owner.execute_unprepared("INSERT INTO schedule_runs (job, run_at) VALUES ('job', 'now')").await.unwrap();
    let db = runtime(&app).await;
    let tables = every_table(&db).await;
    assert!(tables.len() >= 9, "{tables:?}");

    for tenant in [acme.tenant.id, globex.tenant.id] {
        let txn = db.begin().await.unwrap();
        set_tenant(&txn, tenant).await;
        for (table, tenant_column) in &tables {
            let others = match (table.as_str(), tenant_column) {
                (_, Some(column)) => format!("SELECT count(*) FROM {table} WHERE {column} <> '{tenant}'"),
                ("tenants", None) => format!("SELECT count(*) FROM tenants WHERE id <> '{tenant}'"),
                (_, None) => format!("SELECT count(*) FROM {table}"),
            };
            assert_eq!(count(&txn, &others).await, 0, "tenant {tenant} sees rows of others in {table}");
        }
        assert_eq!(count(&txn, "SELECT count(*) FROM tenants").await, 1, "its own tenant row stays visible");
        txn.commit().await.unwrap();
    }
    // Platform code, with no tenant set, still sees the platform tables.
    assert!(count(&db, "SELECT count(*) FROM tenants").await >= 2);
    assert_eq!(count(&db, "SELECT count(*) FROM tenant_domains").await, 1);
    assert!(count(&db, "SELECT count(*) FROM platform_admins").await >= 1);
}
