//! The OpenAPI document describes exactly what the app serves.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, client, content_type, json_body, spawn_app};

/// Every route the app mounts so far. A new route goes here and into the document.
const MOUNTED: &[(&str, &str)] = &[
    ("get", "/health/live"),
    ("get", "/health/ready"),
    ("post", "/api/auth/login"),
    ("get", "/api/tenant"),
    ("get", "/api/tenants"),
    ("post", "/api/tenants"),
    ("get", "/api/tenants/{id}"),
    ("patch", "/api/tenants/{id}"),
    ("delete", "/api/tenants/{id}"),
    ("put", "/api/tenants/{id}/settings"),
    ("get", "/api/tenants/{id}/usage"),
    ("post", "/api/tenants/{id}/suspend"),
    ("post", "/api/tenants/{id}/resume"),
    ("post", "/api/auth/refresh"),
    ("post", "/api/auth/logout"),
    ("put", "/api/tenant/settings"),
    ("get", "/api/users/me"),
    ("get", "/api/users"),
    ("post", "/api/users"),
    ("get", "/api/users/{id}"),
    ("patch", "/api/users/{id}"),
    ("delete", "/api/users/{id}"),
    ("get", "/api/collections"),
    ("post", "/api/collections"),
    ("get", "/api/collections/{name}"),
    ("patch", "/api/collections/{name}"),
    ("delete", "/api/collections/{name}"),
    ("delete", "/api/collections/{name}/fields/{field}"),
    ("get", "/api/items/{collection}"),
    ("post", "/api/items/{collection}"),
    ("get", "/api/items/{collection}/{id}"),
    ("patch", "/api/items/{collection}/{id}"),
    ("delete", "/api/items/{collection}/{id}"),
    ("get", "/api/activity"),
    ("get", "/api/files"),
    ("post", "/api/files"),
    ("get", "/api/files/{id}"),
    ("delete", "/api/files/{id}"),
    ("post", "/api/files/{id}/complete"),
    ("get", "/api/files/{id}/download"),
];

const METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch", "trace"];

async fn document(app: &TestApp) -> Value {
    let response = app.get("/api/openapi.json").send().await.unwrap();
    assert!(content_type(&response).starts_with("application/json"), "{}", content_type(&response));
    json_body(response, StatusCode::OK).await
}

/// `/api/tenants/{tenant_id}` and `/api/tenants/{id}` are the same route.
fn normalized(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            _ if in_param => {}
            _ => out.push(c),
        }
    }
    out
}

/// Every (method, path) operation the document lists.
fn documented_operations(document: &Value) -> Vec<(String, String)> {
    let paths = document["paths"].as_object().unwrap_or_else(|| panic!("no paths in {document}"));
    paths
        .iter()
        .flat_map(|(path, item)| {
            METHODS
                .iter()
                .filter(|method| item.get(**method).is_some())
                .map(move |method| (method.to_string(), path.clone()))
        })
        .collect()
}

#[tokio::test]
async fn the_document_is_openapi_3_1() {
    let app = spawn_app().await;

    let document = document(&app).await;

    let version = document["openapi"].as_str().unwrap_or_default();
    assert!(version.starts_with("3.1"), "openapi is `{version}`");
    assert!(document["info"]["title"].is_string());
}

#[tokio::test]
async fn the_document_lists_every_mounted_route() {
    let app = spawn_app().await;

    let documented: Vec<(String, String)> = documented_operations(&document(&app).await)
        .into_iter()
        .map(|(method, path)| (method, normalized(&path)))
        .collect();

    let missing: Vec<_> =
        MOUNTED.iter().filter(|(method, path)| !documented.contains(&(method.to_string(), normalized(path)))).collect();
    assert!(missing.is_empty(), "mounted but not documented: {missing:?}");
}

#[tokio::test]
async fn every_documented_operation_is_mounted() {
    let app = spawn_app().await;
    let token = app.platform_token().await;
    let placeholder = uuid::Uuid::new_v4().to_string();

    for (method, path) in documented_operations(&document(&app).await) {
        let concrete = normalized(&path).replace("{}", &placeholder);
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let mut request = app.request(method.clone(), &concrete).bearer_auth(&token);
        if [Method::POST, Method::PUT, Method::PATCH].contains(&method) {
            request = request.json(&json!({}));
        }

        let response = request.send().await.unwrap();

        let status = response.status();
        let body = response.text().await.unwrap();
        let code = serde_json::from_str::<Value>(&body).ok().and_then(|b| b["code"].as_str().map(String::from));
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path} is documented but not served: {body}");
        assert!(
            !(status == StatusCode::NOT_FOUND && code.as_deref() == Some("not_found")),
            "{method} {path} is documented but not served: {body}"
        );
    }
}

#[tokio::test]
async fn every_documented_operation_declares_its_error_responses() {
    let app = spawn_app().await;
    let document = document(&app).await;

    for (method, path) in documented_operations(&document) {
        let responses = &document["paths"][&path][&method]["responses"];
        let statuses: Vec<&String> = responses.as_object().map(|r| r.keys().collect()).unwrap_or_default();

        assert!(statuses.iter().any(|s| s.starts_with('2')), "{method} {path} documents no success: {statuses:?}");
        if path.starts_with("/api/") && path != "/api/openapi.json" {
            assert!(
                statuses.iter().any(|s| s.starts_with('4') || *s == "default"),
                "{method} {path} documents no error response: {statuses:?}"
            );
        }
        // Problems are served as problem+json, and the document says so.
        for (status, response) in responses.as_object().into_iter().flatten() {
            for (content_type, media) in response["content"].as_object().into_iter().flatten() {
                if media["schema"]["$ref"].as_str().is_some_and(|r| r.ends_with("/Problem")) {
                    assert_eq!(content_type, "application/problem+json", "{method} {path} {status}");
                }
            }
        }
    }
}

#[tokio::test]
async fn docs_serve_an_html_viewer() {
    let app = spawn_app().await;
    let following = client(reqwest::redirect::Policy::limited(5));

    let response = following.get(app.url("/docs")).send().await.unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    assert!(content_type(&response).starts_with("text/html"), "{}", content_type(&response));
    let html = response.text().await.unwrap().to_lowercase();
    assert!(html.contains("<html"), "{html}");
}

/// The `enum` of a schema's `role` property, following a `$ref`.
fn role_values(document: &Value, schema: &Value) -> Vec<String> {
    let resolve = |value: &Value| -> Value {
        match value["$ref"].as_str() {
            Some(reference) => {
                let name = reference.trim_start_matches("#/components/schemas/");
                document["components"]["schemas"][name].clone()
            }
            None => value.clone(),
        }
    };
    let role = resolve(&resolve(schema)["properties"]["role"]);
    role["enum"]
        .as_array()
        .map(|values| values.iter().filter_map(|v| v.as_str().map(String::from)).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn users_me_is_a_union_a_client_can_tell_apart_by_role() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let document = document(&app).await;
    let me = &document["components"]["schemas"]["Me"];
    let branches: Vec<Vec<String>> =
        me["oneOf"].as_array().unwrap().iter().map(|branch| role_values(&document, branch)).collect();

    let user = json_body(app.get("/api/users/me").bearer_auth(&acme.token).send().await.unwrap(), StatusCode::OK).await;
    let platform = app.platform_token().await;
    let admin = json_body(app.get("/api/users/me").bearer_auth(&platform).send().await.unwrap(), StatusCode::OK).await;

    for (who, body) in [("tenant user", &user), ("platform admin", &admin)] {
        let role = body["data"]["role"].as_str().unwrap().to_string();
        let matching = branches.iter().filter(|values| values.contains(&role)).count();
        assert_eq!(matching, 1, "a {who}'s role `{role}` must fit exactly one branch of Me: {branches:?}");
        let mapped = me["discriminator"]["mapping"][&role].as_str().unwrap_or_default();
        assert!(mapped.ends_with(if who == "tenant user" { "UserView" } else { "PlatformAdminView" }), "{me}");
    }
}
