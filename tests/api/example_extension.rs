//! The example extension of `examples/bookmarks`, built outside the crate as users build theirs:
//! its hook and its custom route work end to end, and the route sees only its tenant's data.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tenantbase_example_bookmarks::{DOMAINS_ROUTE, register};

use crate::helpers::{TenantAdmin, TestApp, assert_problem, items::Naming, json_body};

fn bookmarks_collection() -> Value {
    json!({"name": "bookmarks", "fields": [
        {"name": "url", "type": "string", "required": true, "max_length": 2000},
        {"name": "domain", "type": "string"}
    ]})
}

async fn tenant_with_bookmarks(app: &TestApp, slug: &str, urls: &[&str]) -> TenantAdmin {
    let admin = app.tenant_admin(slug).await;
    app.data(&admin).collection(&bookmarks_collection()).await;
    for url in urls {
        app.data(&admin).item("bookmarks", &json!({"url": url})).await;
    }
    admin
}

async fn domains(app: &TestApp, naming: Naming, token: Option<&str>) -> reqwest::Response {
    app.data_as(naming, token).request(Method::GET, DOMAINS_ROUTE).send().await.unwrap()
}

#[tokio::test]
async fn the_example_hook_derives_the_domain_and_refuses_urls_that_are_not_http() {
    let app = TestApp::builder().hooks(register).spawn().await;
    let admin = tenant_with_bookmarks(&app, "acme", &[]).await;

    let created = app.data(&admin).item("bookmarks", &json!({"url": "https://Docs.Rust-Lang.org/std"})).await;
    assert_eq!(created["domain"], "docs.rust-lang.org");

    let refused = app.data(&admin).create("bookmarks", &json!({"url": "javascript:alert(1)"})).await;
    assert_problem(refused, StatusCode::UNPROCESSABLE_ENTITY, "invalid_url").await;
    let listed = app.data(&admin).listed("bookmarks", &[]).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "the refused bookmark was not stored");
}

#[tokio::test]
async fn the_example_route_counts_only_the_callers_tenants_bookmarks() {
    let app = TestApp::builder().hooks(register).spawn().await;
    let acme = tenant_with_bookmarks(
        &app,
        "acme",
        &["https://example.com/a", "http://EXAMPLE.com/b", "https://rust-lang.org/"],
    )
    .await;
    let globex = tenant_with_bookmarks(&app, "globex", &["https://globex.example/secret"]).await;

    for naming in [Naming::Host("acme".into()), Naming::Header("acme".into()), Naming::Token] {
        let body = json_body(domains(&app, naming.clone(), Some(&acme.token)).await, StatusCode::OK).await;
        assert_eq!(
            body["data"],
            json!({"total": 3, "domains": {"example.com": 2, "rust-lang.org": 1}}),
            "acme by {naming:?}"
        );
    }
    let body = json_body(domains(&app, Naming::Token, Some(&globex.token)).await, StatusCode::OK).await;
    assert_eq!(body["data"], json!({"total": 1, "domains": {"globex.example": 1}}));

    // Globex's token on acme's host or header is refused, never answered with acme's data.
    for naming in [Naming::Host("acme".into()), Naming::Header("acme".into())] {
        let response = domains(&app, naming, Some(&globex.token)).await;
        assert_problem(response, StatusCode::UNAUTHORIZED, "token_tenant_mismatch").await;
    }
    let anonymous = domains(&app, Naming::Host("acme".into()), None).await;
    assert_problem(anonymous, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}
