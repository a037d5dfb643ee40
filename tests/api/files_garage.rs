//! Files on Garage, which enforces SigV4 and bucket CORS (s3s-fs answers PutBucketCors with
//! 501): the whole flow, and the bucket's CORS rules that tenantbase keeps in step with the
//! tenants' origins.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{
    eventually,
    files::{Files, PNG, app_with_store, key, put},
    json_body,
    s3::S3Server,
};

/// What the store answers a browser's preflight for a PUT from `origin`: its
/// `Access-Control-Allow-Origin`, when the preflight succeeded.
async fn preflight(store: &S3Server, origin: &str) -> Option<String> {
    let url = format!("{}/{}/some-tenant/some-file", store.endpoint(), store.bucket());
    let response = reqwest::Client::new()
        .request(Method::OPTIONS, url)
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "PUT")
        .header("Access-Control-Request-Headers", "content-type")
        .send()
        .await
        .unwrap();
    // Garage puts `*` on every error, a refused preflight included: only a 200 is an answer.
    if response.status() != StatusCode::OK {
        return None;
    }
    response.headers().get("access-control-allow-origin").map(|v| v.to_str().unwrap().to_string())
}

#[tokio::test]
async fn a_file_goes_through_garage_from_presign_to_deletion() {
    let store = S3Server::garage().await;
    let app = app_with_store(&store, &[]).await;
    let admin = app.tenant_admin("acme").await;
    let files = Files::new(&app, &admin);
    let file = files.upload("photo.png", "image/png", PNG).await;
    assert_eq!(file["status"], "ready");
    let object = key(admin.tenant.id, &file);
    assert_eq!(store.object(&object).await.unwrap(), PNG);
    let id = file["id"].as_str().unwrap();
    let download =
        json_body(files.get(&format!("/api/files/{id}/download?redirect=false")).await, StatusCode::OK).await;
    let fetched = reqwest::get(download["data"]["url"].as_str().unwrap()).await.unwrap();
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(fetched.headers()["content-type"], "image/png");
    assert!(fetched.headers()["content-disposition"].to_str().unwrap().starts_with("inline; filename=\"photo.png\""));
    assert_eq!(fetched.bytes().await.unwrap().as_ref(), PNG);

    // A presigned URL of another length is refused by Garage as well.
    let presigned = files.presign("b.png", "image/png", PNG.len()).await;
    assert!(put(&presigned["upload"], &[PNG, b"!"].concat()).await.status().is_client_error());
    assert_eq!(files.delete(id).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(store.object(&object).await, None);
}

#[tokio::test]
async fn the_bucket_allows_tenant_origins_and_follows_custom_domains() {
    let store = S3Server::garage().await;
    let app = app_with_store(&store, &[("TB_CORS_ORIGINS", "https://*.localhost")]).await;
    eventually(Duration::from_secs(10), "the bucket's CORS rules", || async {
        (preflight(&store, "https://acme.localhost").await.as_deref() == Some("https://acme.localhost")).then_some(())
    })
    .await;
    assert_eq!(preflight(&store, "https://evil.example").await, None);
    assert_eq!(preflight(&store, "http://acme.localhost").await, None, "the scheme counts");

    let tenant =
        app.create_tenant_from(json!({"slug": "acme", "name": "Acme", "domains": ["files.acme.example"]})).await;
    eventually(Duration::from_secs(10), "the custom domain in the bucket's rules", || async {
        preflight(&store, "https://files.acme.example").await.is_some().then_some(())
    })
    .await;
    let response = app
        .as_platform(Method::PATCH, &format!("/api/tenants/{}", tenant.id))
        .await
        .json(&json!({"domains": ["www.acme.example"]}))
        .send()
        .await
        .unwrap();
    json_body(response, StatusCode::OK).await;
    eventually(Duration::from_secs(10), "the removed domain out of the bucket's rules", || async {
        (preflight(&store, "https://files.acme.example").await.is_none()
            && preflight(&store, "https://www.acme.example").await.is_some())
        .then_some(())
    })
    .await;
}
