//! Liveness, readiness and metrics: what anyone may see, and what only the operator may.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

#[tokio::test]
async fn liveness_is_200() {
    let app = spawn_app().await;

    let response = app.get("/health/live").send().await.unwrap();

    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn readiness_is_200_when_the_database_answers() {
    let app = spawn_app().await;

    let response = app.get("/health/ready").send().await.unwrap();

    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn readiness_is_503_once_the_database_is_gone() {
    let app = spawn_app().await;
    let database = app.database.as_ref().unwrap();
    database
        .execute(&format!(
            "REVOKE CONNECT ON DATABASE {name} FROM PUBLIC; \
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{name}' AND pid <> pg_backend_pid()",
            name = database.name
        ))
        .await;

    let response = app.get("/health/ready").send().await.unwrap();

    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let live = app.get("/health/live").send().await.unwrap();
    assert_eq!(live.status(), StatusCode::OK, "liveness does not depend on the database");
}

/// `/health/ready`'s body and `/metrics`' status for a request, with or without a bearer token.
async fn ask(app: &TestApp, token: Option<&str>) -> (Value, StatusCode) {
    let with = |request: reqwest::RequestBuilder| match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    };
    let ready = with(app.get("/health/ready")).send().await.unwrap().json().await.unwrap();
    let metrics = with(app.get("/metrics")).send().await.unwrap().status();
    (ready, metrics)
}

#[tokio::test]
async fn with_no_proxy_and_no_token_a_loopback_peer_is_the_operator() {
    let app = spawn_app().await;

    let (ready, metrics) = ask(&app, None).await;

    assert_eq!(ready, json!({"status": "ready", "database": "ok", "row_level_security": "ok"}));
    assert_eq!(metrics, StatusCode::OK);
}

#[tokio::test]
async fn behind_a_trusted_proxy_loopback_proves_nothing_and_others_see_only_the_status() {
    // The tests reach the server from loopback, as everyone does through a local reverse proxy.
    let app = TestApp::builder().var("TB_TRUSTED_PROXIES", "127.0.0.1/32,::1").spawn().await;

    let (ready, metrics) = ask(&app, None).await;

    assert_eq!(ready, json!({"status": "ready"}));
    assert_eq!(metrics, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn with_a_metrics_token_only_its_holder_sees_details_and_metrics() {
    let app = TestApp::builder().var("TB_METRICS_TOKEN", "an-operator-token-1234").spawn().await;

    let (anonymous, anonymous_metrics) = ask(&app, None).await;
    let (wrong, wrong_metrics) = ask(&app, Some("an-operator-token-9999")).await;
    let (operator, operator_metrics) = ask(&app, Some("an-operator-token-1234")).await;

    assert_eq!(anonymous, json!({"status": "ready"}));
    assert_eq!(wrong, json!({"status": "ready"}));
    assert_eq!((anonymous_metrics, wrong_metrics), (StatusCode::FORBIDDEN, StatusCode::FORBIDDEN));
    assert_eq!(operator["database"], "ok");
    assert_eq!(operator_metrics, StatusCode::OK);
}
