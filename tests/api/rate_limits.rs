//! The plan's request quotas (API.md "Rate limits"): per caller and per tenant, the IETF fields on
//! every tenant response, 429 with `Retry-After` when over, isolation between tenants, client
//! addresses from trusted proxies only, platform overrides, and the usage they are counted in.

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{RequestExt, TestApp, json_body, tenant_host};

fn header(response: &Response, name: &str) -> String {
    response.headers().get(name).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
}

/// `(r, t)` of a `RateLimit` field such as `"caller";r=4;t=12`, and its policy's name.
fn state(response: &Response) -> (String, u64, u64) {
    let field = header(response, "ratelimit");
    let mut parts = field.split(';');
    let name = parts.next().unwrap().trim_matches('"').to_string();
    let param = |key: &str| {
        field
            .split(';')
            .find_map(|p| p.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("{key} in {field}"))
            .parse()
            .unwrap()
    };
    (name, param("r"), param("t"))
}

async fn app_with(tenant: &str, caller: &str) -> TestApp {
    TestApp::builder().var("TB_RATE_LIMIT_TENANT_FREE", tenant).var("TB_RATE_LIMIT_CALLER_FREE", caller).spawn().await
}

#[tokio::test]
async fn past_the_plans_limit_a_caller_gets_429_with_the_ietf_fields() {
    let app = app_with("1000", "5").await;
    let admin = app.tenant_admin("acme").await;
    let read = || app.get("/api/tenant").host(&tenant_host("acme")).bearer_auth(&admin.token).send();
    // The login above was no request of the caller's token; five reads are.
    for expected in (0..5).rev() {
        let response = read().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "ratelimit-policy"), "\"tenant\";q=1000;w=60, \"caller\";q=5;w=60");
        let (policy, remaining, reset) = state(&response);
        assert_eq!((policy.as_str(), remaining), ("caller", expected));
        assert!(reset <= 60, "t={reset}");
    }
    let refused = read().await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = header(&refused, "retry-after").parse().unwrap();
    let (policy, remaining, reset) = state(&refused);
    assert_eq!((policy.as_str(), remaining), ("caller", 0));
    assert!(retry_after >= 1 && retry_after >= reset, "Retry-After {retry_after}, t={reset}");
    assert!(header(&refused, "content-type").starts_with("application/problem+json"));
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
}

#[tokio::test]
async fn one_tenant_exhausting_its_limit_does_not_limit_another() {
    // Each admin's login is one of its tenant's five.
    let app = app_with("5", "1000").await;
    let a = app.tenant_admin("noisy").await;
    let b = app.tenant_admin("quiet").await;
    let read = |slug: &str, token: &str| app.get("/api/tenant").host(&tenant_host(slug)).bearer_auth(token).send();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(read("noisy", &a.token).await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 200, 429, 429]);
    for _ in 0..4 {
        let response = read("quiet", &b.token).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "tenant B is not limited by A's flood");
        assert_eq!(state(&response).0, "tenant");
    }
    // Naming tenant B by header with A's token is B's request, counted against B (and refused
    // by B's resolution rules), never a way to spend or escape A's quota.
    let crossed = app.get("/api/tenant").tenant_header("quiet").bearer_auth(&a.token).send().await.unwrap();
    assert_ne!(crossed.status(), StatusCode::OK);
}

#[tokio::test]
async fn forwarded_addresses_count_only_from_a_trusted_proxy() {
    // Anonymous callers are keyed by address: 401 until the address's quota is spent, then 429.
    let anonymous = |app: &TestApp, forwarded: &str| {
        app.get("/api/tenant").host(&tenant_host("acme")).header("x-forwarded-for", forwarded.to_string()).send()
    };
    let untrusted = app_with("1000", "3").await;
    untrusted.create_tenant("acme").await;
    let mut statuses = Vec::new();
    for i in 0..4 {
        statuses.push(anonymous(&untrusted, &format!("198.51.100.{i}")).await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 429], "a forged X-Forwarded-For from an untrusted peer is ignored");

    let trusted = TestApp::builder()
        .var("TB_RATE_LIMIT_CALLER_FREE", "3")
        .var("TB_TRUSTED_PROXIES", "127.0.0.1/32")
        .spawn()
        .await;
    trusted.create_tenant("acme").await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(anonymous(&trusted, "198.51.100.7").await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 429], "the proxy's client is limited");
    let other = anonymous(&trusted, "198.51.100.8").await.unwrap();
    assert_eq!(other.status(), StatusCode::UNAUTHORIZED, "another client behind the proxy is not");
}

#[tokio::test]
async fn plans_set_the_rates_and_a_platform_admin_overrides_them() {
    let app = TestApp::builder()
        .var("TB_RATE_LIMIT_CALLER_FREE", "100")
        .var("TB_RATE_LIMIT_TENANT_PRO", "5000")
        .var("TB_RATE_LIMIT_CALLER_PRO", "500")
        .spawn()
        .await;
    let admin = app.tenant_admin("acme").await;
    let read = || app.get("/api/tenant").host(&tenant_host("acme")).bearer_auth(&admin.token).send();
    let path = format!("/api/tenants/{}", admin.tenant.id);
    async fn patch(app: &TestApp, path: &str, body: Value) -> Value {
        let response = app.as_platform(Method::PATCH, path).await.json(&body).send().await.unwrap();
        json_body(response, StatusCode::OK).await
    }
    patch(&app, &path, json!({"plan": "pro"})).await;
    assert_eq!(header(&read().await.unwrap(), "ratelimit-policy"), "\"tenant\";q=5000;w=60, \"caller\";q=500;w=60");

    let tenant = patch(&app, &path, json!({"rate_limits": {"caller_per_minute": 2}})).await;
    assert_eq!(tenant["data"]["rate_limits"], json!({"caller_per_minute": 2}));
    let statuses: Vec<u16> = {
        let mut statuses = Vec::new();
        for _ in 0..3 {
            statuses.push(read().await.unwrap().status().as_u16());
        }
        statuses
    };
    assert_eq!(statuses, [200, 200, 429], "the override bites on every instance's next request");

    let refused = app
        .as_platform(Method::PATCH, &path)
        .await
        .json(&json!({"rate_limits": {"caller_per_minute": 0}}))
        .send()
        .await
        .unwrap();
    assert_eq!(json_body(refused, StatusCode::UNPROCESSABLE_ENTITY).await["code"], "validation_failed");
    let unknown = app
        .as_platform(Method::PATCH, &path)
        .await
        .json(&json!({"rate_limits": {"per_hour": 5}}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let tenant = patch(&app, &path, json!({"rate_limits": {}})).await;
    assert_eq!(tenant["data"]["rate_limits"], json!({}));
    // A tenant admin may not lift its own limits.
    let own = app.patch(&path).bearer_auth(&admin.token).json(&json!({"rate_limits": {}})).send().await.unwrap();
    assert_eq!(own.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn usage_counts_each_tenants_requests_and_refusals_per_day() {
    let app = app_with("1000", "3").await;
    let a = app.tenant_admin("counted").await;
    let b = app.tenant_admin("other").await;
    for _ in 0..5 {
        app.get("/api/tenant").host(&tenant_host("counted")).bearer_auth(&a.token).send().await.unwrap();
    }
    app.get("/api/tenant").host(&tenant_host("other")).bearer_auth(&b.token).send().await.unwrap();
    async fn usage(app: &TestApp, id: uuid::Uuid, query: &str) -> Value {
        let path = format!("/api/tenants/{id}/usage{query}");
        json_body(app.as_platform(Method::GET, &path).await.send().await.unwrap(), StatusCode::OK).await["data"].clone()
    }
    let counted = usage(&app, a.tenant.id, "").await;
    // The admin's login is a tenant request too (anonymous, by address).
    assert_eq!(counted["requests_24h"], 6, "{counted}");
    assert_eq!(counted["rate_limited_24h"], 2);
    let today = chrono::Utc::now().date_naive().to_string();
    assert_eq!(
        counted["days"],
        json!([{"date": today, "requests": 6, "rate_limited": 2, "upload_bytes": 0, "download_bytes": 0}])
    );
    let other = usage(&app, b.tenant.id, "").await;
    assert_eq!((other["requests_24h"].as_u64(), other["rate_limited_24h"].as_u64()), (Some(2), Some(0)));
    assert_eq!(usage(&app, a.tenant.id, "?from=2020-01-01&to=2020-01-31").await["days"], json!([]));

    let metrics = app.get("/metrics").send().await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains(&format!("tenantbase_tenant_rate_limited_total{{tenant=\"{}\"}} 2", a.tenant.id)),
        "{metrics}"
    );
    assert!(metrics.contains(&format!("tenantbase_tenant_requests_total{{tenant=\"{}\"}} 2", b.tenant.id)));

    for query in ["?from=yesterday", "?from=2026-02-01&to=2026-01-01", "?from=2020-01-01&to=2026-01-01"] {
        let path = format!("/api/tenants/{}/usage{query}", a.tenant.id);
        let response = app.as_platform(Method::GET, &path).await.send().await.unwrap();
        assert_eq!(json_body(response, StatusCode::BAD_REQUEST).await["code"], "invalid_query", "{query}");
    }
}
