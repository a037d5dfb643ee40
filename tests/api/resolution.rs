//! Tenant resolution (API.md "Tenant resolution"), one rule per test, through
//! `GET /api/tenant`, which answers with the tenant the request resolved to.

use reqwest::{StatusCode, header::HeaderValue};
use serde_json::json;
use uuid::Uuid;

use std::time::Duration;

use crate::helpers::{RequestExt, TestApp, assert_problem, eventually, json_body, spawn_app, tenant_host};

/// Asserts the request resolved to the tenant with this slug.
async fn assert_resolves_to(response: reqwest::Response, slug: &str) {
    let body = json_body(response, StatusCode::OK).await;
    assert_eq!(body["data"]["slug"], slug, "resolved to the wrong tenant: {body}");
}

#[tokio::test]
async fn a_subdomain_of_the_base_domain_names_the_tenant() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    app.create_tenant("globex").await;

    let response = app.own_tenant_as_platform().await.host("acme.localhost").send().await.unwrap();

    assert_resolves_to(response, "acme").await;
}

#[tokio::test]
async fn a_registered_custom_domain_names_the_tenant() {
    let app = spawn_app().await;
    app.create_tenant_from(json!({"slug": "acme", "name": "Acme", "domains": ["acme.example"]})).await;
    app.create_tenant("globex").await;

    let response = app.own_tenant_as_platform().await.host("acme.example").send().await.unwrap();

    assert_resolves_to(response, "acme").await;
}

#[tokio::test]
async fn the_tenant_header_names_the_tenant_by_slug() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    app.create_tenant("globex").await;

    let response = app.own_tenant_as_platform().await.tenant_header("acme").send().await.unwrap();

    assert_resolves_to(response, "acme").await;
}

#[tokio::test]
async fn the_tenant_header_names_the_tenant_by_id() {
    let app = spawn_app().await;
    let acme = app.create_tenant("acme").await;
    app.create_tenant("globex").await;

    let response = app.own_tenant_as_platform().await.tenant_header(&acme.id.to_string()).send().await.unwrap();

    assert_resolves_to(response, "acme").await;
}

#[tokio::test]
async fn a_token_alone_names_its_tenant() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    app.create_tenant("globex").await;

    // Neither host (reqwest sends 127.0.0.1:port) nor header names a tenant.
    let response = app.get("/api/tenant").bearer_auth(&acme.token).send().await.unwrap();

    assert_resolves_to(response, "acme").await;
}

#[tokio::test]
async fn host_and_header_that_agree_resolve_to_that_tenant() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;

    let response = app
        .get("/api/tenant")
        .bearer_auth(&acme.token)
        .host("acme.localhost")
        .tenant_header(&acme.tenant.id.to_string())
        .send()
        .await
        .unwrap();

    assert_resolves_to(response, "acme").await;
}

#[tokio::test]
async fn host_and_header_naming_different_tenants_is_400_tenant_conflict() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    app.create_tenant("globex").await;

    let response =
        app.own_tenant_as_platform().await.host("acme.localhost").tenant_header("globex").send().await.unwrap();

    assert_problem(response, StatusCode::BAD_REQUEST, "tenant_conflict").await;
}

#[tokio::test]
async fn token_from_tenant_a_on_tenant_b_host_is_401_token_tenant_mismatch() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    app.create_tenant("globex").await;

    let response = app.get("/api/tenant").bearer_auth(&acme.token).host("globex.localhost").send().await.unwrap();

    assert_problem(response, StatusCode::UNAUTHORIZED, "token_tenant_mismatch").await;
}

#[tokio::test]
async fn token_from_tenant_a_with_tenant_b_header_is_401_token_tenant_mismatch() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let globex = app.create_tenant("globex").await;

    for named in ["globex".to_string(), globex.id.to_string()] {
        let response = app.get("/api/tenant").bearer_auth(&acme.token).tenant_header(&named).send().await.unwrap();

        assert_problem(response, StatusCode::UNAUTHORIZED, "token_tenant_mismatch").await;
    }
}

#[tokio::test]
async fn a_platform_admin_token_is_accepted_on_any_tenant() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    app.create_tenant("globex").await;

    for slug in ["acme", "globex"] {
        let response = app.own_tenant_as_platform().await.host(&tenant_host(slug)).send().await.unwrap();

        assert_resolves_to(response, slug).await;
    }
}

#[tokio::test]
async fn no_tenant_on_a_tenant_route_is_400_tenant_required() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;

    let response = app.own_tenant_as_platform().await.send().await.unwrap();

    assert_problem(response, StatusCode::BAD_REQUEST, "tenant_required").await;
}

#[tokio::test]
async fn hosts_that_are_neither_a_tenant_subdomain_nor_a_registered_domain_name_no_tenant() {
    let app = spawn_app().await;
    app.create_tenant_from(json!({"slug": "acme", "name": "Acme", "domains": ["acme.example"]})).await;

    let hosts = [
        "localhost",
        "LOCALHOST.",
        "localhost:8080",
        "127.0.0.1",
        "127.0.0.1:8080",
        "[::1]:8080",
        "www.localhost",
        "unregistered.example",
        "other.acme.example",
    ];
    let mut wrong = Vec::new();
    for host in hosts {
        let response = app.own_tenant_as_platform().await.host(host).send().await.unwrap();

        let status = response.status();
        let body = response.text().await.unwrap();
        if !(status == StatusCode::BAD_REQUEST && body.contains("\"tenant_required\"")) {
            wrong.push(format!("{host}: {status} {body}"));
        }
    }
    assert!(wrong.is_empty(), "these hosts name no tenant, so 400 tenant_required:\n{}", wrong.join("\n"));
}

#[tokio::test]
async fn platform_routes_answer_on_hosts_that_name_no_tenant() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;

    for host in ["localhost", "127.0.0.1", "platform.example", "api.platform.example:8443"] {
        let response = app.as_platform(reqwest::Method::GET, "/api/tenants").await.host(host).send().await.unwrap();

        let status = response.status();
        let body = response.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "GET /api/tenants with Host {host}: {body}");
    }
}

#[tokio::test]
async fn an_unknown_tenant_is_404_tenant_not_found() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let unknown_id = Uuid::new_v4().to_string();

    let by_host = app.own_tenant_as_platform().await.host("ghost.localhost").send().await.unwrap();
    let by_slug = app.own_tenant_as_platform().await.tenant_header("ghost").send().await.unwrap();
    let by_id = app.own_tenant_as_platform().await.tenant_header(&unknown_id).send().await.unwrap();

    assert_problem(by_host, StatusCode::NOT_FOUND, "tenant_not_found").await;
    assert_problem(by_slug, StatusCode::NOT_FOUND, "tenant_not_found").await;
    assert_problem(by_id, StatusCode::NOT_FOUND, "tenant_not_found").await;
}

#[tokio::test]
async fn a_suspended_tenant_is_403_tenant_suspended_and_200_again_after_resume() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;

    app.suspend(&acme.tenant).await;
    let on_host = app.get("/api/tenant").bearer_auth(&acme.token).host("acme.localhost").send().await.unwrap();
    let by_token = app.get("/api/tenant").bearer_auth(&acme.token).send().await.unwrap();
    let as_platform = app.own_tenant_as_platform().await.tenant_header("acme").send().await.unwrap();

    assert_problem(on_host, StatusCode::FORBIDDEN, "tenant_suspended").await;
    assert_problem(by_token, StatusCode::FORBIDDEN, "tenant_suspended").await;
    assert_problem(as_platform, StatusCode::FORBIDDEN, "tenant_suspended").await;
    // Platform routes still work for a suspended tenant.
    json_body(app.fetch_tenant("acme").await, StatusCode::OK).await;

    app.resume(&acme.tenant).await;
    let resumed = app.get("/api/tenant").bearer_auth(&acme.token).host("acme.localhost").send().await.unwrap();

    assert_resolves_to(resumed, "acme").await;
}

/// Every way of naming the tenant, so each cache key a resolver might use gets warmed.
async fn requests_by_every_name(app: &TestApp, slug: &str, id: Uuid, domain: &str) -> Vec<reqwest::Response> {
    let mut responses = Vec::new();
    for request in [
        app.own_tenant_as_platform().await.host(&tenant_host(slug)),
        app.own_tenant_as_platform().await.host(domain),
        app.own_tenant_as_platform().await.tenant_header(slug),
        app.own_tenant_as_platform().await.tenant_header(&id.to_string()),
    ] {
        responses.push(request.send().await.unwrap());
    }
    responses
}

#[tokio::test]
async fn suspension_takes_effect_on_the_very_next_request_even_when_the_tenant_is_cached() {
    let app = spawn_app().await;
    let acme = app.create_tenant_from(json!({"slug": "acme", "name": "Acme", "domains": ["acme.example"]})).await;
    for warm in requests_by_every_name(&app, "acme", acme.id, "acme.example").await {
        assert_resolves_to(warm, "acme").await;
    }

    app.suspend(&acme).await;

    for response in requests_by_every_name(&app, "acme", acme.id, "acme.example").await {
        assert_problem(response, StatusCode::FORBIDDEN, "tenant_suspended").await;
    }
    app.resume(&acme).await;
    for response in requests_by_every_name(&app, "acme", acme.id, "acme.example").await {
        assert_resolves_to(response, "acme").await;
    }
}

#[tokio::test]
async fn a_deleted_tenant_is_404_tenant_not_found_at_once() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let acme_with_domain = app
        .as_platform(reqwest::Method::PATCH, &format!("/api/tenants/{}", acme.tenant.id))
        .await
        .json(&json!({"domains": ["acme.example"]}))
        .send()
        .await
        .unwrap();
    json_body(acme_with_domain, StatusCode::OK).await;
    for warm in requests_by_every_name(&app, "acme", acme.tenant.id, "acme.example").await {
        assert_resolves_to(warm, "acme").await;
    }

    app.delete_tenant(&acme.tenant).await;

    let [by_subdomain, by_domain, by_slug_header, by_id_header]: [reqwest::Response; 4] =
        requests_by_every_name(&app, "acme", acme.tenant.id, "acme.example").await.try_into().unwrap();
    for response in [by_subdomain, by_slug_header, by_id_header] {
        assert_problem(response, StatusCode::NOT_FOUND, "tenant_not_found").await;
    }
    // The custom domain answers 404 while the purge runs; once it is done the domain is
    // registered to nobody and names no tenant (API.md), so a platform token gets
    // `tenant_required`. Either way it never reaches the deleted tenant.
    let status = by_domain.status();
    let body: serde_json::Value = by_domain.json().await.unwrap();
    assert!(
        (status == StatusCode::NOT_FOUND && body["code"] == "tenant_not_found")
            || (status == StatusCode::BAD_REQUEST && body["code"] == "tenant_required"),
        "the deleted tenant's domain answered {status}: {body}"
    );
    let by_token = app.get("/api/tenant").bearer_auth(&acme.token).send().await.unwrap();
    assert_problem(by_token, StatusCode::NOT_FOUND, "tenant_not_found").await;
}

#[tokio::test]
async fn case_port_and_trailing_dot_variants_of_a_tenant_host_resolve_to_it() {
    let app = spawn_app().await;
    app.create_tenant_from(json!({"slug": "acme", "name": "Acme", "domains": ["acme.example"]})).await;

    for host in [
        "ACME.localhost.",
        "acme.localhost:8080",
        "Acme.LocalHost",
        "acme.localhost.:443",
        "ACME.EXAMPLE",
        "acme.example.:8080",
    ] {
        let response = app.own_tenant_as_platform().await.host(host).send().await.unwrap();

        assert_resolves_to(response, "acme").await;
    }
}

#[tokio::test]
async fn a_deeper_subdomain_does_not_name_the_tenant_below_it() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;

    let response = app.own_tenant_as_platform().await.host("a.b.acme.localhost").send().await.unwrap();

    let status = response.status();
    let body = response.text().await.unwrap();
    assert!(status.is_client_error(), "a.b.acme.localhost must not resolve: {status} {body}");
}

#[tokio::test]
async fn hostile_hosts_never_give_a_server_error() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let long_label = format!("{}.localhost", "a".repeat(300));
    let long_host = format!("{}.localhost", ["abcdefghij"; 40].join("."));
    let hosts: Vec<HeaderValue> = [
        "ACME.localhost.",
        "acme.localhost:8080",
        "a.b.acme.localhost",
        "127.0.0.1",
        "[::1]",
        long_label.as_str(),
        long_host.as_str(),
        "",
        ".",
        "..localhost",
        ".localhost",
        "-acme.localhost",
        "acme..localhost",
        "acme.localhost:",
        "acme.localhost:99999",
        "acme.localhost:abc",
        "acme.localhost:8080:8080",
        "user@acme.localhost",
        "acme.localhost/evil",
        "acme%2elocalhost",
        "*.localhost",
        "xn--80ak6aa92e.localhost",
        "www.localhost",
    ]
    .into_iter()
    .map(|host| HeaderValue::from_str(host).unwrap())
    .chain([
        HeaderValue::from_bytes("äcme.localhost".as_bytes()).unwrap(),
        HeaderValue::from_bytes("acme.lоcalhost".as_bytes()).unwrap(), // Cyrillic о
        HeaderValue::from_bytes(b"acme\xff.localhost").unwrap(),
        HeaderValue::from_bytes(b"\xc3\x28.localhost").unwrap(),
    ])
    .collect();

    for host in hosts {
        let requests = [
            app.own_tenant_as_platform().await,
            app.get("/health/live"),
            app.post("/api/auth/login").json(&json!({"email": "someone@acme.test", "password": "Not-The-Password-1"})),
        ];
        for request in requests {
            let response = request.header(reqwest::header::HOST, host.clone()).send().await.unwrap();

            let (path, status) = (response.url().path().to_string(), response.status());
            let body = response.text().await.unwrap_or_default();
            assert!(!status.is_server_error(), "Host {host:?} on {path}: {status} {body}");
        }
    }
}

#[tokio::test]
async fn hostile_tenant_headers_never_give_a_server_error() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let long = "a".repeat(300);
    let values: Vec<HeaderValue> = [
        "",
        " ",
        "ACME",
        "acme ",
        "../acme",
        "00000000-0000-0000-0000-000000000000",
        "not-a-uuid-but-long-0000-0000-000000000000",
        long.as_str(),
        "'; DROP TABLE tenants; --",
        "%00",
    ]
    .into_iter()
    .map(|value| HeaderValue::from_str(value).unwrap())
    .chain([HeaderValue::from_bytes("äcme".as_bytes()).unwrap(), HeaderValue::from_bytes(b"\xff\xfe").unwrap()])
    .collect();

    for value in values {
        let response = app.own_tenant_as_platform().await.header("X-Tenant-ID", value.clone()).send().await.unwrap();

        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert!(!status.is_server_error(), "X-Tenant-ID {value:?}: {status} {body}");
    }
    // The tenant table survived the injection attempt.
    json_body(app.fetch_tenant("acme").await, StatusCode::OK).await;
}

#[tokio::test]
async fn a_change_made_on_one_instance_reaches_the_cache_of_another_at_once() {
    let first = spawn_app().await;
    let second = first.second_instance().spawn().await;
    let acme = first.tenant_admin("acme").await;
    let on_second = || second.get("/api/tenant").host(&tenant_host("acme")).bearer_auth(&acme.token);
    // The second instance caches the tenant.
    assert_resolves_to(on_second().send().await.unwrap(), "acme").await;

    first.suspend(&acme.tenant).await;
    // PostgreSQL delivers the change notice at commit, before the first instance even answers;
    // allow the listener a moment to act on it, far less than any cache lifetime.
    eventually(Duration::from_secs(2), "the suspension to reach the second instance", || async {
        let response = on_second().send().await.unwrap();
        (response.status() == StatusCode::FORBIDDEN).then_some(())
    })
    .await;
    assert_problem(on_second().send().await.unwrap(), StatusCode::FORBIDDEN, "tenant_suspended").await;

    first.resume(&acme.tenant).await;
    eventually(Duration::from_secs(2), "the resumption to reach the second instance", || async {
        let response = on_second().send().await.unwrap();
        (response.status() == StatusCode::OK).then_some(())
    })
    .await;
}
