//! The `tenantbase` binary: `tenants apply`, `admin create`, `migrate` and `serve`'s role check.

use std::{path::Path, time::Duration};

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{
    RequestExt, TestApp, TestDatabase,
    cli::{Cli, CliOutput},
    json_body, tenant_from,
    tokens::decode_claims,
};

const ACME_PASSWORD: &str = "Acme-Manifest-Pass-2291";

const ACME: &str = r#"version = 1
slug = "acme"
name = "Acme Corp"
plan = "pro"
domains = ["acme.example"]

[settings]
theme = "dark"

[admin]
email = "admin@acme.test"
password_env = "ACME_ADMIN_PASSWORD"
"#;

const GLOBEX: &str = r#"version = 1
slug = "globex"
name = "Globex"
"#;

/// Line 3 has an unterminated string.
const SYNTAX_ERROR: &str = r#"version = 1
slug = "broken"
name = "Broken
plan = "free"
"#;

/// Line 2 has a slug the API would refuse.
const BAD_SLUG: &str = r#"version = 1
slug = "Not_A_Slug"
name = "Broken"
"#;

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (name, content) in files {
        std::fs::write(dir.join(name), content).expect("writing a manifest");
    }
}

/// Every row of every table in the public schema, as JSON text, table by table.
async fn snapshot(database: &TestDatabase) -> Vec<(String, Value)> {
    let tables = database
        .query_json("SELECT to_json(tablename)::text FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
        .await;
    let mut snapshot = Vec::new();
    for table in tables {
        let table = table.as_str().unwrap().to_string();
        let rows = database
            .query_json(&format!(
                "SELECT coalesce(json_agg(r ORDER BY r::text), '[]')::text FROM (SELECT row_to_json(t) AS r FROM \"{table}\" t) s"
            ))
            .await;
        snapshot.push((table, rows.into_iter().next().unwrap()));
    }
    snapshot
}

async fn tenant_count(database: &TestDatabase) -> u64 {
    database.query_json("SELECT count(*)::text FROM tenants").await[0].as_u64().unwrap()
}

fn assert_names_file_and_line(output: &CliOutput, file: &str, line: u32) {
    let text = output.text();
    assert!(text.contains(file), "the error names {file}:\n{text}");
    let lower = text.to_lowercase();
    assert!(
        lower.contains(&format!("{file}:{line}")) || lower.contains(&format!("line {line}")),
        "the error names line {line} of {file}:\n{text}"
    );
}

#[tokio::test]
async fn tenants_apply_creates_the_tenants_with_their_domains_settings_and_admins() {
    let database = TestDatabase::create().await;
    let cli = Cli::new(&database).var("ACME_ADMIN_PASSWORD", ACME_PASSWORD);
    let dir = cli.subdir("tenants");
    write(&dir, &[("acme.toml", ACME), ("globex.toml", GLOBEX)]);

    cli.run(&["tenants", "apply", dir.to_str().unwrap()]).await.assert_success();

    let app = TestApp::builder().database(database).spawn().await;
    let acme = tenant_from(json_body(app.fetch_tenant("acme").await, StatusCode::OK).await);
    let globex = tenant_from(json_body(app.fetch_tenant("globex").await, StatusCode::OK).await);
    assert_eq!((acme.name.as_str(), acme.plan.as_str()), ("Acme Corp", "pro"));
    assert_eq!(acme.domains, ["acme.example"]);
    assert_eq!(acme.settings, serde_json::json!({"theme": "dark"}));
    assert_eq!((globex.plan.as_str(), globex.status.as_str()), ("free", "active"));
    let token = app.access_token(Some("acme"), "admin@acme.test", ACME_PASSWORD).await;
    assert_eq!(decode_claims(&token)["role"], "admin");
    let by_domain = app.get("/api/tenant").bearer_auth(&token).host("acme.example").send().await.unwrap();
    assert_eq!(json_body(by_domain, StatusCode::OK).await["data"]["slug"], "acme");
}

#[tokio::test]
async fn tenants_apply_twice_changes_nothing_the_second_time() {
    let database = TestDatabase::create().await;
    let cli = Cli::new(&database).var("ACME_ADMIN_PASSWORD", ACME_PASSWORD);
    let dir = cli.subdir("tenants");
    write(&dir, &[("acme.toml", ACME), ("globex.toml", GLOBEX)]);
    cli.run(&["tenants", "apply", dir.to_str().unwrap()]).await.assert_success();
    let after_first = snapshot(&database).await;
    let tenants_after_first = database.query_json("SELECT row_to_json(t)::text FROM tenants t ORDER BY slug").await;

    cli.run(&["tenants", "apply", dir.to_str().unwrap()]).await.assert_success();

    let tenants_after_second = database.query_json("SELECT row_to_json(t)::text FROM tenants t ORDER BY slug").await;
    assert_eq!(tenants_after_first.len(), 2);
    assert_eq!(tenants_after_second, tenants_after_first, "tenant rows (updated_at included) are untouched");
    let after_second = snapshot(&database).await;
    for ((table, first), (_, second)) in after_first.iter().zip(&after_second) {
        assert_eq!(second, first, "table {table} changed on the second apply");
    }
}

#[tokio::test]
async fn tenants_apply_updates_a_tenant_whose_manifest_changed() {
    let database = TestDatabase::create().await;
    let cli = Cli::new(&database).var("ACME_ADMIN_PASSWORD", ACME_PASSWORD);
    let dir = cli.subdir("tenants");
    write(&dir, &[("acme.toml", ACME)]);
    cli.run(&["tenants", "apply", dir.to_str().unwrap()]).await.assert_success();
    let before = database.query_json("SELECT row_to_json(t)::text FROM tenants t").await;

    let changed = ACME
        .replace("name = \"Acme Corp\"", "name = \"Acme Renamed\"")
        .replace("plan = \"pro\"", "plan = \"enterprise\"");
    write(&dir, &[("acme.toml", &changed)]);
    cli.run(&["tenants", "apply", dir.to_str().unwrap()]).await.assert_success();

    let after = database.query_json("SELECT row_to_json(t)::text FROM tenants t").await;
    assert_eq!(after.len(), 1);
    assert_eq!(after[0]["id"], before[0]["id"], "updated in place, not re-created");
    assert_eq!(after[0]["name"], "Acme Renamed");
    assert_eq!(after[0]["plan"], "enterprise");
}

#[tokio::test]
async fn a_manifest_with_a_toml_syntax_error_is_reported_with_file_and_line_and_nothing_is_applied() {
    let database = TestDatabase::create().await;
    let cli = Cli::new(&database).var("ACME_ADMIN_PASSWORD", ACME_PASSWORD);
    let dir = cli.subdir("tenants");
    // Valid manifests sort both before and after the broken one.
    write(&dir, &[("acme.toml", ACME), ("broken.toml", SYNTAX_ERROR), ("globex.toml", GLOBEX)]);

    let output = cli.run(&["tenants", "apply", dir.to_str().unwrap()]).await;

    assert!(!output.status.success(), "a broken manifest must fail the run:\n{}", output.text());
    assert_names_file_and_line(&output, "broken.toml", 3);
    assert_eq!(tenant_count(&database).await, 0, "all or nothing");
}

#[tokio::test]
async fn a_manifest_with_a_bad_slug_is_reported_with_file_and_line_and_nothing_is_applied() {
    let database = TestDatabase::create().await;
    let cli = Cli::new(&database).var("ACME_ADMIN_PASSWORD", ACME_PASSWORD);
    let dir = cli.subdir("tenants");
    write(&dir, &[("acme.toml", ACME), ("bad-slug.toml", BAD_SLUG), ("globex.toml", GLOBEX)]);

    let output = cli.run(&["tenants", "apply", dir.to_str().unwrap()]).await;

    assert!(!output.status.success(), "a bad slug must fail the run:\n{}", output.text());
    assert_names_file_and_line(&output, "bad-slug.toml", 2);
    assert_eq!(tenant_count(&database).await, 0, "all or nothing");
}

#[tokio::test]
async fn a_manifest_whose_password_variable_is_unset_is_reported_and_nothing_is_applied() {
    let database = TestDatabase::create().await;
    let cli = Cli::new(&database);
    let dir = cli.subdir("tenants");
    write(&dir, &[("acme.toml", ACME), ("globex.toml", GLOBEX)]);

    let output = cli.run(&["tenants", "apply", dir.to_str().unwrap()]).await;

    assert!(!output.status.success(), "an unset password variable must fail the run:\n{}", output.text());
    assert!(output.text().contains("ACME_ADMIN_PASSWORD"), "the error names the variable:\n{}", output.text());
    assert!(output.text().contains("acme.toml"), "the error names the file:\n{}", output.text());
    assert_eq!(tenant_count(&database).await, 0, "all or nothing");
}

#[tokio::test]
async fn a_failed_apply_leaves_previously_applied_tenants_as_they_were() {
    let database = TestDatabase::create().await;
    let cli = Cli::new(&database).var("ACME_ADMIN_PASSWORD", ACME_PASSWORD);
    let dir = cli.subdir("tenants");
    write(&dir, &[("acme.toml", ACME)]);
    cli.run(&["tenants", "apply", dir.to_str().unwrap()]).await.assert_success();
    let before = snapshot(&database).await;

    let renamed = ACME.replace("name = \"Acme Corp\"", "name = \"Should Not Land\"");
    write(&dir, &[("acme.toml", &renamed), ("broken.toml", SYNTAX_ERROR)]);
    let output = cli.run(&["tenants", "apply", dir.to_str().unwrap()]).await;

    assert!(!output.status.success(), "{}", output.text());
    assert_eq!(snapshot(&database).await, before);
}

#[tokio::test]
async fn admin_create_makes_a_platform_admin_who_can_log_in() {
    let database = TestDatabase::create().await;
    let cli = Cli::new(&database);

    cli.run(&["admin", "create", "--email", "ops@platform.test", "--password", "Ops-Admin-Pass-5520"])
        .await
        .assert_success();

    let app = TestApp::builder().database(database).spawn().await;
    let token = app.access_token(None, "ops@platform.test", "Ops-Admin-Pass-5520").await;
    assert_eq!(decode_claims(&token)["role"], "platform_admin");
    json_body(app.get("/api/tenants").bearer_auth(&token).send().await.unwrap(), StatusCode::OK).await;
}

#[tokio::test]
async fn admin_create_refuses_a_common_password() {
    let database = TestDatabase::create().await;
    let cli = Cli::new(&database);

    let output = cli.run(&["admin", "create", "--email", "ops@platform.test", "--password", "password123"]).await;

    assert!(!output.status.success(), "{}", output.text());
    let app = TestApp::builder().database(database).spawn().await;
    let login = app.login(None, "ops@platform.test", "password123").await;
    assert_eq!(login.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn serve_refuses_to_start_as_a_superuser() {
    let database = TestDatabase::create().await;
    let cli = Cli::new(&database).var("TB_DATABASE_URL", database.owner_url()).var("TB_BIND", "127.0.0.1:0");

    let output = cli.run_for(&["serve"], Duration::from_secs(30)).await;

    let output = output.expect("serve started although its role is a superuser");
    assert!(!output.status.success());
    let text = output.text().to_lowercase();
    assert!(text.contains("superuser") || text.contains("bypassrls"), "the refusal says why:\n{}", output.text());
}

#[tokio::test]
async fn migrate_creates_a_runtime_role_that_is_no_superuser_has_no_bypassrls_and_owns_no_table() {
    let mut database = TestDatabase::create_empty().await;
    let role = database.new_role_name();
    let cli = Cli::new(&database).var("TB_DATABASE_URL", database.url_as(&role));

    cli.run(&["migrate"]).await.assert_success();
    cli.run(&["migrate"]).await.assert_success();

    let attributes = database
        .query_json(&format!(
            "SELECT json_build_object('super', rolsuper, 'bypassrls', rolbypassrls, 'login', rolcanlogin)::text \
             FROM pg_roles WHERE rolname = '{role}'"
        ))
        .await;
    assert_eq!(attributes, [serde_json::json!({"super": false, "bypassrls": false, "login": true})]);
    let owned = database
        .query_json(&format!("SELECT to_json(tablename)::text FROM pg_tables WHERE tableowner = '{role}'"))
        .await;
    assert!(owned.is_empty(), "the runtime role owns {owned:?}");
    let can_use_tenants = database
        .query_json(&format!(
            "SELECT to_json(has_table_privilege('{role}', 'public.tenants', 'SELECT') \
             AND has_table_privilege('{role}', 'public.tenants', 'INSERT') \
             AND has_table_privilege('{role}', 'public.tenants', 'UPDATE') \
             AND has_table_privilege('{role}', 'public.tenants', 'DELETE'))::text"
        ))
        .await;
    assert_eq!(can_use_tenants, [serde_json::json!(true)]);

    let runtime_url = database.url_as(&role);
    let app = TestApp::builder().database(database).var("TB_DATABASE_URL", runtime_url).spawn().await;
    assert_eq!(app.get("/health/ready").send().await.unwrap().status(), StatusCode::OK);
    let tenant = app.create_tenant("acme").await;
    assert_eq!(tenant.slug, "acme", "the role it was granted is enough to serve");
}

/// Applies `acme.toml` with `name` to the database of a running `app`, then waits for the app to
/// answer with that name.
async fn renamed_while_running(app: &TestApp, cli: &Cli, name: &str, within: Duration) {
    let admin = app.tenant_admin("acme").await;
    let tenant_name = || {
        let request = app.get("/api/tenant").host("acme.localhost").bearer_auth(&admin.token);
        async move { json_body(request.send().await.unwrap(), StatusCode::OK).await["data"]["name"].clone() }
    };
    assert_eq!(tenant_name().await, "Tenant acme", "the app has the tenant cached");
    let dir = cli.subdir("tenants");
    write(&dir, &[("acme.toml", &format!("version = 1\nslug = \"acme\"\nname = \"{name}\"\n"))]);

    cli.run(&["tenants", "apply", dir.to_str().unwrap()]).await.assert_success();

    crate::helpers::eventually(within, "the running app to see the applied manifest", || {
        let name_now = tenant_name();
        async move { (name_now.await == name).then_some(()) }
    })
    .await;
}

#[tokio::test]
async fn tenants_apply_reaches_a_running_server_on_postgres_at_once() {
    let app = crate::helpers::spawn_app().await;
    let cli = Cli::new(app.database.as_ref().unwrap());
    renamed_while_running(&app, &cli, "Acme Renamed", Duration::from_millis(500)).await;
}

#[tokio::test]
async fn tenants_apply_reaches_a_running_server_on_sqlite_within_a_second() {
    let app = crate::helpers::spawn_sqlite_app().await;
    let cli = Cli::on(&app.database_url);
    renamed_while_running(&app, &cli, "Acme Renamed", Duration::from_millis(1500)).await;
}
