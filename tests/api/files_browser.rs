//! Uploads from a real browser (API.md "Files"): headless Chromium on a tenant's origin logs in,
//! presigns, PUTs the bytes straight to Garage and completes, and so proves what no HTTP client
//! can: that the CORS rules tenantbase writes on the bucket and answers on the API let a
//! tenant's frontend upload, and that a page on any other origin is refused by both.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{
    TENANT_ADMIN_PASSWORD,
    browser::{PAGE_TIMEOUT, PageServer, script_page},
    eventually,
    files::{Files, PNG, app_with_store, key, put},
    s3::S3Server,
    tenant_host,
};

/// The whole flow as a tenant's frontend runs it: login on the tenant's host, presign, PUT the
/// bytes with exactly the signed headers (but Content-Length, which a browser sets itself),
/// complete. The ETag is read as a multipart upload would have to: only an exposed header is.
const UPLOAD_SCRIPT: &str = r#"
async function call(method, path, token, body) {
  const headers = {};
  if (token) headers["authorization"] = "Bearer " + token;
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(CONFIG.api + path, {method, headers, body: body === undefined ? undefined : JSON.stringify(body)});
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status}: ${text}`);
  return JSON.parse(text);
}

async function main() {
  const png = new Uint8Array(CONFIG.png);
  stage = "login";
  const login = await call("POST", "/api/auth/login", null, {email: CONFIG.email, password: CONFIG.password});
  const token = login.data.access_token;
  stage = "presign";
  const presigned = await call("POST", "/api/files", token, {filename: "hello.png", content_type: "image/png", size: png.length});
  stage = "put";
  const headers = Object.fromEntries(
    Object.entries(presigned.upload.headers).filter(([name]) => name.toLowerCase() !== "content-length"));
  const put = await fetch(presigned.upload.url, {method: presigned.upload.method, headers, body: png});
  if (!put.ok) throw new Error(`PUT: HTTP ${put.status}: ${await put.text()}`);
  const etag = put.headers.get("etag");
  stage = "complete";
  const completed = await call("POST", `/api/files/${presigned.data.id}/complete`, token);
  return {ok: true, status: completed.data.status, file: completed.data, etag};
}
"#;

/// A page on a foreign origin holding a presigned upload (the test's own, made as acme's admin):
/// its call to the API and its PUT to the store must both be refused by the browser.
const FOREIGN_SCRIPT: &str = r#"
async function main() {
  stage = "api";
  const api = await fetch(CONFIG.api + "/api/auth/login", {
    method: "POST",
    headers: {"content-type": "application/json"},
    body: JSON.stringify({email: CONFIG.email, password: CONFIG.password}),
  }).then((response) => `answered ${response.status}`, (error) => `refused: ${error}`);
  stage = "put";
  const upload = CONFIG.upload;
  const headers = Object.fromEntries(
    Object.entries(upload.headers).filter(([name]) => name.toLowerCase() !== "content-length"));
  try {
    const put = await fetch(upload.url, {method: upload.method, headers, body: new Uint8Array(CONFIG.png)});
    return {ok: true, stage, status: put.status, api};
  } catch (error) {
    return {ok: false, stage, error: String(error), api};
  }
}
"#;

#[tokio::test]
async fn a_browser_on_a_tenant_origin_uploads_straight_to_the_store() {
    let store = S3Server::garage().await;
    // The page's port must be known before the app starts: it is part of the allowed origin.
    let mut pages = PageServer::start().await;
    let patterns = format!("http://*.localhost:{}", pages.port());
    let app = app_with_store(&store, &[("TB_CORS_ORIGINS", &patterns)]).await;
    let admin = app.tenant_admin("acme").await;
    let origin = pages.origin(&tenant_host("acme"));
    wait_for_bucket_cors(&store, &origin).await;

    pages.set_page(script_page(
        &json!({
            "api": format!("http://{}:{}", tenant_host("acme"), app.port),
            "email": admin.email,
            "password": TENANT_ADMIN_PASSWORD,
            "png": PNG,
        }),
        UPLOAD_SCRIPT,
    ));
    let result = pages.run_page(&pages.url(&tenant_host("acme")), PAGE_TIMEOUT).await;

    assert_eq!(result["ok"], true, "the browser's upload failed: {result}");
    assert_eq!(result["status"], "ready", "{result}");
    let file = &result["file"];
    assert_eq!(file["filename"], "hello.png", "{result}");
    assert_eq!(file["size"], PNG.len(), "{result}");
    // The bucket exposes ETag: without it a browser could not complete a multipart upload.
    assert!(result["etag"].as_str().is_some_and(|etag| !etag.is_empty()), "the ETag was not readable: {result}");
    let stored = store.object(&key(admin.tenant.id, file)).await;
    assert_eq!(stored.as_deref(), Some(PNG), "the store holds other bytes than the page sent");

    // The file is the tenant's like any other.
    let listed = Files::new(&app, &admin).get(&format!("/api/files/{}", file["id"].as_str().unwrap())).await;
    assert_eq!(listed.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_browser_on_another_origin_is_refused_by_the_store() {
    let store = S3Server::garage().await;
    let mut pages = PageServer::start().await;
    // Only acme's own page origin is allowed; the foreign page runs on the same port, so the
    // two origins differ in nothing but the host.
    let allowed = pages.origin(&tenant_host("acme"));
    let foreign_host = "evil.localhost";
    let app = app_with_store(&store, &[("TB_CORS_ORIGINS", &allowed)]).await;
    let admin = app.tenant_admin("acme").await;
    // The bucket's rules must be in place: refused for lack of any rule would prove nothing.
    wait_for_bucket_cors(&store, &allowed).await;
    let files = Files::new(&app, &admin);
    let presigned = files.presign("hello.png", "image/png", PNG.len()).await;
    let object_key = key(admin.tenant.id, &presigned["data"]);

    pages.set_page(script_page(
        &json!({
            "api": format!("http://{}:{}", tenant_host("acme"), app.port),
            "email": admin.email,
            "password": TENANT_ADMIN_PASSWORD,
            "upload": presigned["upload"],
            "png": PNG,
        }),
        FOREIGN_SCRIPT,
    ));
    let result = pages.run_page(&pages.url(foreign_host), PAGE_TIMEOUT).await;

    assert_eq!(result["ok"], false, "a foreign origin uploaded: {result}");
    assert_eq!(result["stage"], "put", "{result}");
    // A CORS refusal is all a page ever sees: a TypeError, no status, no body.
    assert!(result["error"].as_str().is_some_and(|e| e.starts_with("TypeError")), "{result}");
    assert!(result["api"].as_str().is_some_and(|a| a.starts_with("refused: TypeError")), "the API answered: {result}");
    assert_eq!(store.object(&object_key).await, None, "the refused PUT reached the store");

    // The URL itself was good: without a browser's Origin the same PUT goes through, so what
    // stopped the page was its origin.
    let response = put(&presigned["upload"], PNG).await;
    assert!(response.status().is_success(), "the presigned PUT itself failed: {}", response.text().await.unwrap());
    assert_eq!(store.object(&object_key).await.as_deref(), Some(PNG));
}

/// Waits until the store answers a preflight from `origin` for a PUT with the headers a
/// presigned upload sends: tenantbase writes the bucket's CORS rules in the background at startup.
async fn wait_for_bucket_cors(store: &S3Server, origin: &str) {
    let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(5)).build().unwrap();
    let url = format!("{}/{}/cors-probe", store.endpoint().trim_end_matches('/'), store.bucket());
    eventually(Duration::from_secs(30), &format!("the bucket's CORS rules to allow {origin}"), || {
        let request = client
            .request(Method::OPTIONS, &url)
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "PUT")
            .header("Access-Control-Request-Headers", "content-type");
        async move {
            let response = request.send().await.ok()?;
            let allowed = response.headers().get("access-control-allow-origin")?.to_str().ok()?;
            (allowed == origin || allowed == "*").then_some(())
        }
    })
    .await;
}
