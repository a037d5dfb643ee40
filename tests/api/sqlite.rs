//! The embedded default: the same app on SQLite, smoke-tested end to end.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{
    RequestExt, assert_problem, json_body, spawn_sqlite_app,
    users::{MEMBER_PASSWORD, user_from},
};

#[tokio::test]
async fn on_sqlite_the_app_is_ready() {
    let app = spawn_sqlite_app().await;

    assert_eq!(app.get("/health/live").send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(app.get("/health/ready").send().await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn on_sqlite_a_tenant_admin_logs_in_on_its_subdomain_and_resolves_by_header() {
    let app = spawn_sqlite_app().await;
    let acme = app.tenant_admin("acme").await;
    app.create_tenant("globex").await;

    let by_host = app.get("/api/tenant").bearer_auth(&acme.token).host("acme.localhost").send().await.unwrap();
    let by_header = app.get("/api/tenant").bearer_auth(&acme.token).tenant_header("acme").send().await.unwrap();
    let on_globex = app.get("/api/tenant").bearer_auth(&acme.token).host("globex.localhost").send().await.unwrap();

    assert_eq!(json_body(by_host, StatusCode::OK).await["data"]["id"], acme.tenant.id.to_string());
    assert_eq!(json_body(by_header, StatusCode::OK).await["data"]["slug"], "acme");
    assert_problem(on_globex, StatusCode::UNAUTHORIZED, "token_tenant_mismatch").await;
}

#[tokio::test]
async fn on_sqlite_suspension_takes_effect_at_once_and_resume_undoes_it() {
    let app = spawn_sqlite_app().await;
    let acme = app.tenant_admin("acme").await;
    let warm = app.get("/api/tenant").bearer_auth(&acme.token).host("acme.localhost").send().await.unwrap();
    json_body(warm, StatusCode::OK).await;

    app.suspend(&acme.tenant).await;
    let suspended = app.get("/api/tenant").bearer_auth(&acme.token).host("acme.localhost").send().await.unwrap();
    assert_problem(suspended, StatusCode::FORBIDDEN, "tenant_suspended").await;

    app.resume(&acme.tenant).await;
    let resumed = app.get("/api/tenant").bearer_auth(&acme.token).host("acme.localhost").send().await.unwrap();
    json_body(resumed, StatusCode::OK).await;
}

#[tokio::test]
async fn on_sqlite_tenant_crud_works() {
    let app = spawn_sqlite_app().await;
    let acme = app.create_tenant("acme").await;

    let listed = json_body(
        app.as_platform(reqwest::Method::GET, "/api/tenants?meta=total_count").await.send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["meta"]["total_count"], 1);
    app.delete_tenant(&acme).await;
    assert_problem(app.fetch_tenant("acme").await, StatusCode::NOT_FOUND, "tenant_not_found").await;
}

#[tokio::test]
async fn on_sqlite_users_sessions_and_isolation_work_end_to_end() {
    let app = spawn_sqlite_app().await;
    let acme = app.tenant_admin("acme").await;
    let globex = app.tenant_admin("globex").await;
    let viewer = app.member(&acme, "viewer").await;

    // Rotation and reuse detection.
    let second = app.refreshed(Some("acme"), &viewer.tokens.refresh_token).await;
    let reused = app.refresh(Some("acme"), &viewer.tokens.refresh_token).await;
    assert_problem(reused, StatusCode::UNAUTHORIZED, "refresh_token_reused").await;
    assert_problem(app.refresh(Some("acme"), &second.refresh_token).await, StatusCode::UNAUTHORIZED, "invalid_token")
        .await;
    // Isolation: globex's admin does not reach acme's user.
    assert_problem(app.users(&globex).get(viewer.user.id).await, StatusCode::NOT_FOUND, "user_not_found").await;
    assert_eq!(app.users(&globex).all().await.len(), 1);
    // Disabling refuses the still-valid access token.
    let me = user_from(json_body(app.users_as("acme", &second.access_token).me().await, StatusCode::OK).await);
    assert_eq!(me.id, viewer.user.id);
    app.users(&acme).patched(viewer.user.id, &json!({"status": "disabled"})).await;
    let refused = app.users_as("acme", &second.access_token).me().await;
    assert_problem(refused, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let login = app.login(Some("acme"), &viewer.email, MEMBER_PASSWORD).await;
    assert_problem(login, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

#[tokio::test]
async fn on_sqlite_concurrent_writes_wait_their_turn_instead_of_failing() {
    let app = crate::helpers::TestApp::builder().sqlite().var("TB_WORKERS", "2").spawn().await;
    let acme = app.tenant_admin("acme").await;
    let me: serde_json::Value =
        json_body(app.get("/api/users/me").bearer_auth(&acme.token).send().await.unwrap(), StatusCode::OK).await;
    let admin_id = me["data"]["id"].as_str().unwrap().to_string();

    // Each PATCH reads the row, then writes it: the pattern that fails with "database is locked"
    // when a deferred transaction has to upgrade after another writer committed.
    let patches = (0..24).map(|i| {
        app.patch(&format!("/api/users/{admin_id}"))
            .tenant_header("acme")
            .bearer_auth(&acme.token)
            .json(&json!({"name": format!("Admin {i}")}))
            .send()
    });
    for response in futures_util::future::join_all(patches).await {
        let response = response.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{}", response.text().await.unwrap());
    }
}

#[tokio::test]
async fn on_sqlite_sixty_four_concurrent_writers_all_succeed_and_nothing_is_lost() {
    let app = crate::helpers::TestApp::builder().sqlite().var("TB_WORKERS", "4").spawn().await;
    let acme = app.tenant_admin("acme").await;
    let data = app.data(&acme);
    data.collection(&crate::helpers::items::articles_collection()).await;

    // 64 writers at once, each a create that also writes its audit entry and announces the change:
    // they queue for the one writer connection instead of failing with "database is locked".
    let bodies: Vec<_> = (0..64).map(|i| json!({"title": format!("Article {i}"), "views": i})).collect();
    let creates = bodies.iter().map(|body| data.create("articles", body));
    let mut ids = Vec::new();
    for response in futures_util::future::join_all(creates).await {
        let created = json_body(response, StatusCode::CREATED).await;
        ids.push(created["data"]["id"].as_str().unwrap().to_string());
    }

    let listed = data.listed("articles", &[("limit", "100"), ("meta", "total_count")]).await;
    assert_eq!(listed["meta"]["total_count"], 64);
    let mut stored: Vec<String> =
        listed["data"].as_array().unwrap().iter().map(|item| item["id"].as_str().unwrap().to_string()).collect();
    stored.sort();
    ids.sort();
    assert_eq!(stored, ids, "every acknowledged create is stored, once");
    let mut views: Vec<i64> = listed["data"].as_array().unwrap().iter().map(|i| i["views"].as_i64().unwrap()).collect();
    views.sort();
    assert_eq!(views, (0..64).collect::<Vec<i64>>());
}
