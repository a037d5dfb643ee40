use reqwest::{Method, StatusCode, header};
use serde_json::json;

use crate::helpers::{TestApp, assert_problem, content_type, json_body, spawn_app};

#[tokio::test]
async fn malformed_json_is_400_invalid_json() {
    let app = spawn_app().await;

    let response = app
        .as_platform(Method::POST, "/api/tenants")
        .await
        .header(header::CONTENT_TYPE, "application/json")
        .body(r#"{"slug": "acme", "name": "#)
        .send()
        .await
        .unwrap();

    assert_problem(response, StatusCode::BAD_REQUEST, "invalid_json").await;
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415_unsupported_media_type() {
    let app = spawn_app().await;

    for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
        let response = app
            .as_platform(Method::POST, "/api/tenants")
            .await
            .header(header::CONTENT_TYPE, content_type)
            .body(r#"{"slug": "acme", "name": "Acme"}"#)
            .send()
            .await
            .unwrap();

        assert_problem(response, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;
    }
}

#[tokio::test]
async fn a_body_over_the_configured_limit_is_413_payload_too_large() {
    let app = TestApp::builder().var("TB_BODY_LIMIT", "4096").spawn().await;
    let padding = "x".repeat(8 * 1024);

    let response = app
        .as_platform(Method::POST, "/api/tenants")
        .await
        .json(&json!({"slug": "big", "name": "Big", "settings": {"padding": padding}}))
        .send()
        .await
        .unwrap();

    assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    let not_created = app.fetch_tenant("big").await;
    assert_problem(not_created, StatusCode::NOT_FOUND, "tenant_not_found").await;
}

#[tokio::test]
async fn a_body_under_the_configured_limit_is_accepted() {
    let app = TestApp::builder().var("TB_BODY_LIMIT", "4096").spawn().await;
    let padding = "x".repeat(3 * 1024);

    let tenant =
        app.create_tenant_from(json!({"slug": "roomy", "name": "Roomy", "settings": {"padding": padding}})).await;

    assert_eq!(tenant.settings["padding"], padding.as_str());
}

#[tokio::test]
async fn the_default_body_limit_is_one_mebibyte() {
    let app = spawn_app().await;
    let padding = "x".repeat(1024 * 1024 + 1);

    let response = app
        .as_platform(Method::POST, "/api/tenants")
        .await
        .json(&json!({"slug": "huge", "name": "Huge", "settings": {"padding": padding}}))
        .send()
        .await
        .unwrap();

    assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
}

#[tokio::test]
async fn an_unknown_route_is_404_not_found() {
    let app = spawn_app().await;

    for path in ["/api/no-such-thing", "/nowhere", "/api/tenants/x/y/z"] {
        let response = app.get(path).send().await.unwrap();

        assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    }
}

#[tokio::test]
async fn a_known_route_with_the_wrong_method_is_405_method_not_allowed() {
    let app = spawn_app().await;
    let cases = [
        (Method::POST, "/health/live"),
        (Method::DELETE, "/health/ready"),
        (Method::GET, "/api/auth/login"),
        (Method::PUT, "/api/tenants"),
        (Method::POST, "/api/tenant"),
    ];

    for (method, path) in cases {
        let response = app.as_platform(method.clone(), path).await.send().await.unwrap();

        assert_problem(response, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    }
}

#[tokio::test]
async fn a_request_id_that_is_sent_is_echoed() {
    let app = spawn_app().await;

    for path in ["/health/live", "/api/no-such-thing"] {
        let response = app.get(path).header("X-Request-Id", "test-request-4711").send().await.unwrap();

        assert_eq!(response.headers()["x-request-id"], "test-request-4711", "{path}");
    }
}

#[tokio::test]
async fn a_request_id_is_generated_when_none_is_sent() {
    let app = spawn_app().await;

    let first = app.get("/health/live").send().await.unwrap();
    let second = app.get("/api/no-such-thing").send().await.unwrap();

    let id = |response: &reqwest::Response| {
        let value = response.headers().get("x-request-id").expect("an X-Request-Id header");
        value.to_str().unwrap().to_string()
    };
    let (first, second) = (id(&first), id(&second));
    assert!(!first.is_empty());
    assert_ne!(first, second, "each request gets its own id");
}

#[tokio::test]
async fn successes_are_json_not_problem_json() {
    let app = spawn_app().await;

    let response = app.as_platform(Method::GET, "/api/tenants").await.send().await.unwrap();

    assert!(content_type(&response).starts_with("application/json"), "{}", content_type(&response));
    let body = json_body(response, StatusCode::OK).await;
    assert!(body["data"].is_array(), "a list is wrapped in data: {body}");
}
