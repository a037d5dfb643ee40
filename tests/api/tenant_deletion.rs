//! Deleting a tenant while it is busy: once `DELETE /api/tenants/{id}` has answered no write of
//! that tenant commits, the purge leaves no row of it in any table (checked over the catalog,
//! so a new table cannot be forgotten), and a purge cut short is finished by the running server.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, TestDatabase, eventually, items::articles_collection, spawn_app};

/// How many rows of `tenant` every table holds, by table (tables with a `tenant_id`, and
/// `tenants` by `id`), read as the owner.
async fn rows_of(database: &TestDatabase, tenant: Uuid) -> Vec<(String, i64)> {
    let tables = database
        .query_json(
            "SELECT to_json(c.relname::text)::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped \
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY 1",
        )
        .await;
    let mut counts = Vec::new();
    for table in tables.iter().filter_map(Value::as_str).chain(["tenants"]) {
        let column = if table == "tenants" { "id" } else { "tenant_id" };
        let sql = format!("SELECT count(*)::text FROM {table} WHERE {column} = '{tenant}'");
        counts.push((table.to_string(), database.query_json(&sql).await[0].as_i64().unwrap()));
    }
    counts
}

fn nothing(counts: &[(String, i64)]) -> bool {
    counts.iter().all(|(_, n)| *n == 0)
}

#[tokio::test]
async fn writes_racing_a_delete_leave_nothing_behind_and_none_commits_after_it() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let globex = app.tenant_admin("globex").await;
    for admin in [&acme, &globex] {
        app.data(admin).collection(&articles_collection()).await;
    }
    let database = app.database.as_ref().unwrap();
    let globex_before = rows_of(database, globex.tenant.id).await;

    // Writers create articles, users and collections of acme as fast as they can.
    let started = Instant::now();
    let mut writers = Vec::new();
    for writer in 0..6 {
        let (app_url, token) = (app.address.clone(), acme.token.clone());
        writers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut outcomes = Vec::new();
            for n in 0..400 {
                let (path, body) = match (writer, n % 10) {
                    (0, _) => (
                        "/api/users",
                        json!({"email": format!("u{n}@acme.test"), "password": "Racing-Pass-77", "role": "viewer"}),
                    ),
                    (1, 0) => (
                        "/api/collections",
                        json!({"name": format!("c{n}"), "fields": [{"name": "t", "type": "string"}]}),
                    ),
                    _ => ("/api/items/articles", json!({"title": format!("w{writer}-{n}")})),
                };
                let sent = started.elapsed();
                let response = client
                    .post(format!("{app_url}{path}"))
                    .header("host", "acme.localhost")
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await;
                let Ok(response) = response else { break };
                outcomes.push((sent, response.status()));
                if response.status() == StatusCode::NOT_FOUND {
                    break;
                }
            }
            outcomes
        }));
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    app.delete_tenant(&acme.tenant).await;
    let deleted_at = started.elapsed();

    let mut created_after = Vec::new();
    let mut created = 0;
    for writer in writers {
        for (sent, status) in writer.await.unwrap() {
            if status.is_success() {
                created += 1;
                if sent > deleted_at {
                    created_after.push((sent, status));
                }
            }
        }
    }
    assert!(created > 0, "the writers wrote before the delete");
    assert!(created_after.is_empty(), "writes sent after the delete answered still committed: {created_after:?}");

    let left = eventually(Duration::from_secs(30), "the purge to leave no row of acme", || async {
        let counts = rows_of(database, acme.tenant.id).await;
        nothing(&counts).then_some(counts)
    })
    .await;
    assert!(nothing(&left));
    assert_eq!(rows_of(database, globex.tenant.id).await, globex_before, "the neighbour keeps every row");
}

#[tokio::test]
async fn a_purge_cut_short_is_finished_by_the_running_server() {
    let app = TestApp::builder().var("TB_PURGE_RETRY_SECONDS", "1").spawn().await;
    let acme = app.tenant_admin("acme").await;
    app.data(&acme).collection(&articles_collection()).await;
    app.data(&acme).items("articles", &[json!({"title": "one"}), json!({"title": "two"})]).await;
    let database = app.database.as_ref().unwrap();
    assert!(!nothing(&rows_of(database, acme.tenant.id).await));

    // As a crash leaves it: marked deleted, rows still there, no purge under way.
    database
        .execute(&format!("UPDATE tenants SET status = 'deleted', deleted_at = now() WHERE id = '{}'", acme.tenant.id))
        .await;

    eventually(Duration::from_secs(10), "the running server to finish the purge", || async {
        nothing(&rows_of(database, acme.tenant.id).await).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_write_waiting_behind_a_deletion_sees_the_tenant_deleted() {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let database = app.database.as_ref().unwrap();
    let config = tenantbase::config::Config::from_vars([("TB_DATABASE_URL", database.runtime_url())]).unwrap();
    let db = tenantbase::db::PlatformDb::connect(&config).await.unwrap();

    // A deletion under way: it holds the tenant's lifecycle lock alone, as the server's does.
    let owner = sea_orm::Database::connect(database.owner_url()).await.unwrap();
    let deletion = owner.begin().await.unwrap();
    let key = acme.tenant.id.as_u64_pair().1 as i64;
    deletion.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({key})")).await.unwrap();
    deletion
        .execute_unprepared(&format!("UPDATE tenants SET status = 'deleted' WHERE id = '{}'", acme.tenant.id))
        .await
        .unwrap();

    // A write starts meanwhile and waits for the lock.
    let tenant = db.tenant(acme.tenant.id);
    let write = tokio::spawn(async move { tenant.begin().await.map(drop) });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!write.is_finished(), "the write waits for the deletion");
    deletion.commit().await.unwrap();

    let outcome = write.await.unwrap();
    assert!(
        matches!(outcome, Err(tenantbase::db::TxnError::TenantGone(id)) if id == acme.tenant.id),
        "the write sees the deletion it waited for: {outcome:?}"
    );
}
