//! Every platform route refuses anyone but a platform admin, and a platform admin only while they
//! exist.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    PLATFORM_ADMIN_EMAIL, PLATFORM_ADMIN_PASSWORD, RequestExt, Tenant, TestApp, assert_problem, cli::Cli, eventually,
    json_body, spawn_app, tenant_from,
};

/// Every `/api/tenants...` route of API.md, aimed at `target`, with a body that would be
/// accepted from a platform admin.
fn platform_routes(target: &Tenant) -> Vec<(Method, String, Option<Value>)> {
    let id = target.id;
    vec![
        (Method::POST, "/api/tenants".into(), Some(json!({"slug": "intruder", "name": "Intruder"}))),
        (Method::GET, "/api/tenants".into(), None),
        (Method::GET, format!("/api/tenants/{id}"), None),
        (Method::GET, format!("/api/tenants/{}", target.slug), None),
        (Method::PATCH, format!("/api/tenants/{id}"), Some(json!({"name": "Taken over", "plan": "enterprise"}))),
        (Method::PUT, format!("/api/tenants/{id}/settings"), Some(json!({"owned": true}))),
        (Method::GET, format!("/api/tenants/{id}/usage"), None),
        (Method::POST, format!("/api/tenants/{id}/suspend"), None),
        (Method::POST, format!("/api/tenants/{id}/resume"), None),
        (Method::DELETE, format!("/api/tenants/{id}"), None),
    ]
}

fn request(app: &TestApp, (method, path, body): &(Method, String, Option<Value>)) -> reqwest::RequestBuilder {
    let request = app.request(method.clone(), path);
    match body {
        Some(body) => request.json(body),
        None => request,
    }
}

/// Nothing any refused request could have changed did change.
async fn assert_untouched(app: &TestApp, before: &Tenant) {
    let after = tenant_from(json_body(app.fetch_tenant(&before.id.to_string()).await, StatusCode::OK).await);
    assert_eq!(&after, before);
    assert_problem(app.fetch_tenant("intruder").await, StatusCode::NOT_FOUND, "tenant_not_found").await;
}

#[tokio::test]
async fn anonymous_callers_get_401_unauthenticated_on_every_platform_route() {
    let app = spawn_app().await;
    let acme = app.create_tenant("acme").await;

    for route in platform_routes(&acme) {
        let plain = request(&app, &route).send().await.unwrap();
        let on_tenant_host = request(&app, &route).host("acme.localhost").send().await.unwrap();

        assert_problem(plain, StatusCode::UNAUTHORIZED, "unauthenticated").await;
        assert_problem(on_tenant_host, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }
    assert_untouched(&app, &acme).await;
}

#[tokio::test]
async fn a_tenant_admin_token_gets_403_forbidden_on_every_platform_route() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let globex = app.create_tenant("globex").await;

    for target in [&acme.tenant, &globex] {
        for route in platform_routes(target) {
            let plain = request(&app, &route).bearer_auth(&acme.token).send().await.unwrap();
            let on_own_host =
                request(&app, &route).bearer_auth(&acme.token).host("acme.localhost").send().await.unwrap();
            let with_own_header =
                request(&app, &route).bearer_auth(&acme.token).tenant_header("acme").send().await.unwrap();

            assert_problem(plain, StatusCode::FORBIDDEN, "forbidden").await;
            assert_problem(on_own_host, StatusCode::FORBIDDEN, "forbidden").await;
            assert_problem(with_own_header, StatusCode::FORBIDDEN, "forbidden").await;
        }
    }
    assert_untouched(&app, &acme.tenant).await;
    assert_untouched(&app, &globex).await;
}

#[tokio::test]
async fn a_platform_admin_is_allowed_on_every_platform_route() {
    let app = spawn_app().await;
    let acme = app.create_tenant("acme").await;
    let token = app.platform_token().await;

    for route in platform_routes(&acme) {
        let response = request(&app, &route).bearer_auth(&token).send().await.unwrap();

        let status = response.status();
        assert!(status.is_success(), "{} {}: {status} {}", route.0, route.1, response.text().await.unwrap());
    }
}

#[tokio::test]
async fn a_removed_platform_admins_token_and_refresh_token_are_refused_on_their_next_use() {
    let app = spawn_app().await;
    let pair = app.login_pair(None, PLATFORM_ADMIN_EMAIL, PLATFORM_ADMIN_PASSWORD).await;
    let list = |token: String| {
        let request = app.get("/api/tenants").bearer_auth(token);
        async move { request.send().await.unwrap() }
    };
    assert_eq!(list(pair.access_token.clone()).await.status(), StatusCode::OK);

    let cli = Cli::new(app.database.as_ref().unwrap());
    cli.run(&["admin", "remove", "--email", PLATFORM_ADMIN_EMAIL]).await.assert_success();

    // The running server hears of the removal through the database (NOTIFY), within moments.
    eventually(Duration::from_secs(5), "the removed admin's token to be refused", || {
        let response = list(pair.access_token.clone());
        async move { (response.await.status() == StatusCode::UNAUTHORIZED).then_some(()) }
    })
    .await;
    assert_problem(list(pair.access_token.clone()).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_problem(app.refresh(None, &pair.refresh_token).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let login = app.login(None, PLATFORM_ADMIN_EMAIL, PLATFORM_ADMIN_PASSWORD).await;
    assert_problem(login, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}
