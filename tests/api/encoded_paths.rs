//! A percent-encoded path is the same path (RFC 3986): every route family answers an encoded
//! request exactly as its plain form, for every caller, never with a 5xx and never skipping
//! tenant resolution or authentication.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{RequestExt, json_body, spawn_app, tenant_host};

/// `path` with every unreserved character of every segment percent-encoded (`/api` → `/%61%70%69`).
fn encode_all(path: &str) -> String {
    path.chars().map(|c| if c == '/' { c.to_string() } else { format!("%{:02X}", c as u32) }).collect()
}

/// `path` with the first character of each segment encoded, in lower-case hex.
fn encode_first(path: &str) -> String {
    path.split('/')
        .map(|segment| match segment.chars().next() {
            Some(first) => format!("%{:02x}{}", first as u32, &segment[first.len_utf8()..]),
            None => String::new(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Status and problem code (or `ok`) of a response.
async fn outcome(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (status, body["code"].as_str().unwrap_or("ok").to_string())
}

#[tokio::test]
async fn an_encoded_path_reaches_its_route_with_the_tenant_resolved() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;

    let response = app.get("/%61pi/tenant").host(&tenant_host("acme")).bearer_auth(&acme.token).send().await.unwrap();

    let body = json_body(response, StatusCode::OK).await;
    assert_eq!(body["data"]["slug"], "acme");
}

#[tokio::test]
async fn every_route_answers_any_encoding_of_its_path_as_its_plain_form() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    app.data(&acme).collection(&json!({"name": "notes", "fields": [{"name": "title", "type": "string"}]})).await;
    let item = app.data(&acme).item("notes", &json!({"title": "a"})).await;
    let viewer = app.member(&acme, "viewer").await;
    let (tenant, user, item) = (acme.tenant.id, viewer.user.id, item["id"].as_str().unwrap().to_string());
    let platform = app.platform_token().await;

    let routes: Vec<(Method, String)> = [
        ("GET", "/health/live".to_string()),
        ("GET", "/health/ready".into()),
        ("GET", "/api/openapi.json".into()),
        ("POST", "/api/auth/login".into()),
        ("POST", "/api/auth/refresh".into()),
        ("POST", "/api/auth/logout".into()),
        ("GET", "/api/tenant".into()),
        ("PUT", "/api/tenant/settings".into()),
        ("GET", "/api/tenants".into()),
        ("POST", "/api/tenants".into()),
        ("GET", format!("/api/tenants/{tenant}")),
        ("PATCH", format!("/api/tenants/{tenant}")),
        ("DELETE", format!("/api/tenants/{tenant}")),
        ("GET", format!("/api/tenants/{tenant}/usage")),
        ("POST", format!("/api/tenants/{tenant}/suspend")),
        ("GET", "/api/users/me".into()),
        ("GET", "/api/users".into()),
        ("POST", "/api/users".into()),
        ("GET", format!("/api/users/{user}")),
        ("PATCH", format!("/api/users/{user}")),
        ("DELETE", format!("/api/users/{user}")),
        ("GET", "/api/collections".into()),
        ("POST", "/api/collections".into()),
        ("GET", "/api/collections/notes".into()),
        ("PATCH", "/api/collections/notes".into()),
        ("DELETE", "/api/collections/notes/fields/title".into()),
        ("GET", "/api/items/notes".into()),
        ("POST", "/api/items/notes".into()),
        ("GET", format!("/api/items/notes/{item}")),
        ("PATCH", format!("/api/items/notes/{item}")),
        ("DELETE", format!("/api/items/notes/{item}")),
        ("GET", "/api/activity".into()),
        ("PUT", "/api/tenant".into()),
        ("GET", "/api/no-such-route".into()),
    ]
    .into_iter()
    .map(|(method, path)| (method.parse().unwrap(), path))
    .collect();
    // Who asks: nobody, a viewer (whose writes are refused, so nothing changes between the plain
    // and encoded requests), and for reads the tenant admin and a platform admin.
    let callers: [(&str, Option<&str>, bool); 4] = [
        ("anonymous", None, true),
        ("viewer", Some(viewer.token()), true),
        ("tenant admin", Some(&acme.token), false),
        ("platform admin", Some(&platform), false),
    ];

    let mut differences = Vec::new();
    for (who, token, may_write) in callers {
        for (method, path) in &routes {
            if !may_write && *method != Method::GET {
                continue;
            }
            let send = |path: String| {
                let mut request = app.request(method.clone(), &path).host(&tenant_host("acme")).json(&json!({}));
                if let Some(token) = token {
                    request = request.bearer_auth(token);
                }
                async move { outcome(request.send().await.unwrap()).await }
            };
            let plain = send(path.clone()).await;
            for encoded in [encode_all(path), encode_first(path)] {
                let got = send(encoded.clone()).await;
                if got != plain || got.0.is_server_error() {
                    differences.push(format!("{who} {method} {encoded}: {got:?}, plain {path}: {plain:?}"));
                }
            }
        }
    }
    assert!(differences.is_empty(), "encoded paths answered differently:\n{}", differences.join("\n"));
}
