//! The app runs as a role that row-level security applies to, and refuses any other.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, TestDatabase, postgres::RUNTIME_ROLE, spawn_app};

fn assert_refusal_mentions(error: &str, words: &[&str]) {
    let lower = error.to_lowercase();
    assert!(words.iter().any(|word| lower.contains(word)), "the refusal should mention one of {words:?}: {error}");
}

#[tokio::test]
async fn the_runtime_role_is_no_superuser_has_no_bypassrls_and_owns_no_table() {
    let database = TestDatabase::create().await;

    let attributes = database
        .query_json(&format!(
            "SELECT json_build_object('super', rolsuper, 'bypassrls', rolbypassrls)::text \
             FROM pg_roles WHERE rolname = '{RUNTIME_ROLE}'"
        ))
        .await;
    let owned = database
        .query_json(&format!("SELECT to_json(tablename)::text FROM pg_tables WHERE tableowner = '{RUNTIME_ROLE}'"))
        .await;
    let tables =
        database.query_json("SELECT to_json(tablename)::text FROM pg_tables WHERE schemaname = 'public'").await;

    assert_eq!(attributes, [json!({"super": false, "bypassrls": false})]);
    assert!(owned.is_empty(), "the runtime role owns {owned:?}");
    assert!(tables.contains(&json!("tenants")), "the template is migrated: {tables:?}");
}

#[tokio::test]
async fn the_test_app_connects_only_as_the_runtime_role() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let database = app.database.as_ref().unwrap();

    let users = database
        .query_json(&format!(
            "SELECT to_json(u)::text FROM (SELECT DISTINCT usename::text AS u FROM pg_stat_activity \
             WHERE datname = '{}' AND pid <> pg_backend_pid()) s",
            database.name
        ))
        .await;

    assert_eq!(users, [json!(RUNTIME_ROLE)]);
}

#[tokio::test]
async fn the_app_refuses_to_start_as_a_superuser() {
    let database = TestDatabase::create().await;
    let owner_url = database.owner_url();

    let started = TestApp::builder().database(database).var("TB_DATABASE_URL", owner_url).try_spawn().await;

    let error = started.err().expect("the app started as a superuser");
    assert_refusal_mentions(&error, &["superuser", "bypassrls"]);
}

#[tokio::test]
async fn the_app_refuses_to_start_as_a_role_with_bypassrls() {
    let mut database = TestDatabase::create().await;
    let role = database.create_role("NOSUPERUSER BYPASSRLS").await;
    // Everything the runtime role has, plus BYPASSRLS.
    database.execute(&format!("GRANT {RUNTIME_ROLE} TO {role}")).await;
    let url = database.url_as(&role);

    let started = TestApp::builder().database(database).var("TB_DATABASE_URL", url).try_spawn().await;

    let error = started.err().expect("the app started as a role with BYPASSRLS");
    assert_refusal_mentions(&error, &["bypassrls"]);
}

#[tokio::test]
async fn the_app_refuses_to_start_as_a_role_that_owns_a_table() {
    let mut database = TestDatabase::create().await;
    let role = database.create_role("NOSUPERUSER NOBYPASSRLS").await;
    // Everything the runtime role has, plus ownership of one table.
    database.execute(&format!("GRANT {RUNTIME_ROLE} TO {role}; ALTER TABLE tenants OWNER TO {role}")).await;
    let url = database.url_as(&role);

    let started = TestApp::builder().database(database).var("TB_DATABASE_URL", url).try_spawn().await;

    let error = started.err().expect("the app started as the owner of a table");
    assert_refusal_mentions(&error, &["own"]);
}

#[tokio::test]
async fn the_insecure_override_lets_a_superuser_start() {
    let database = TestDatabase::create().await;
    let owner_url = database.owner_url();

    let app = TestApp::builder()
        .database(database)
        .var("TB_DATABASE_URL", owner_url)
        .var("TB_INSECURE_ALLOW_RLS_BYPASS", "true")
        .spawn()
        .await;

    assert_eq!(app.get("/health/live").send().await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn the_app_refuses_to_start_as_a_member_of_the_owner_role() {
    let mut database = TestDatabase::create().await;
    let owner =
        database.query_json("SELECT to_json(tableowner::text)::text FROM pg_tables WHERE tablename = 'tenants'").await;
    let owner = owner[0].as_str().unwrap().to_string();
    let role = database.create_role("NOSUPERUSER NOBYPASSRLS").await;
    // Owns nothing itself, but may act as the owner.
    database.execute(&format!("GRANT {RUNTIME_ROLE} TO {role}; GRANT \"{owner}\" TO {role}")).await;
    let url = database.url_as(&role);

    let started = TestApp::builder().database(database).var("TB_DATABASE_URL", url).try_spawn().await;

    let error = started.err().expect("the app started as a member of the owner role");
    assert_refusal_mentions(&error, &["member of the owner"]);
}

#[tokio::test]
async fn the_app_refuses_to_start_while_a_platform_table_lacks_forced_row_level_security() {
    let database = TestDatabase::create().await;
    database.execute("ALTER TABLE schedule_runs NO FORCE ROW LEVEL SECURITY").await;

    let started = TestApp::builder().database(database).try_spawn().await;

    let error = started.err().expect("the app started with a table outside row-level security");
    assert_refusal_mentions(&error, &["schedule_runs"]);
}
