//! `/api/files…` as one tenant admin, and uploads to the presigned URLs exactly as a browser
//! would make them: a plain HTTP client sending the signed headers and the bytes.

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{RequestExt, TenantAdmin, TestApp, json_body, s3::S3Server, tenant_host};

/// A minimal PNG (1×1, transparent).
pub const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\x0f\x04\0\x09\xfb\x03\xfd\xe3U\xf2\x9c\0\0\0\0IEND\xaeB`\x82";

/// A test app whose file routes use `store`, with `vars` on top.
pub async fn app_with_store(store: &S3Server, vars: &[(&str, &str)]) -> TestApp {
    let mut builder = TestApp::builder();
    for (name, value) in store.vars() {
        builder = builder.var(name, value);
    }
    for (name, value) in vars {
        builder = builder.var(name, *value);
    }
    builder.spawn().await
}

/// The file API as one tenant's admin, naming the tenant by its host.
pub struct Files<'a> {
    pub app: &'a TestApp,
    pub admin: &'a TenantAdmin,
}

impl<'a> Files<'a> {
    pub fn new(app: &'a TestApp, admin: &'a TenantAdmin) -> Self {
        Files { app, admin }
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.app.request(method, path).host(&tenant_host(&self.admin.tenant.slug)).bearer_auth(&self.admin.token)
    }

    /// `POST /api/files`.
    pub async fn presign_response(&self, filename: &str, content_type: &str, size: usize) -> Response {
        let body = json!({"filename": filename, "content_type": content_type, "size": size});
        self.request(Method::POST, "/api/files").json(&body).send().await.unwrap()
    }

    /// `POST /api/files`, expecting 201: `{"data", "upload"}`.
    pub async fn presign(&self, filename: &str, content_type: &str, size: usize) -> Value {
        json_body(self.presign_response(filename, content_type, size).await, StatusCode::CREATED).await
    }

    pub async fn complete_response(&self, id: &str, body: Option<Value>) -> Response {
        let request = self.request(Method::POST, &format!("/api/files/{id}/complete"));
        match body {
            Some(body) => request.json(&body),
            None => request,
        }
        .send()
        .await
        .unwrap()
    }

    /// Presign, PUT `bytes`, complete: the ready file.
    pub async fn upload(&self, filename: &str, content_type: &str, bytes: &[u8]) -> Value {
        let presigned = self.presign(filename, content_type, bytes.len()).await;
        let put = put(&presigned["upload"], bytes).await;
        assert!(put.status().is_success(), "PUT to the store: {}", put.text().await.unwrap_or_default());
        let id = presigned["data"]["id"].as_str().unwrap();
        json_body(self.complete_response(id, None).await, StatusCode::OK).await["data"].clone()
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path).send().await.unwrap()
    }

    pub async fn delete(&self, id: &str) -> Response {
        self.request(Method::DELETE, &format!("/api/files/{id}")).send().await.unwrap()
    }

    /// `GET /api/tenants/{id}/usage` as the platform admin.
    pub async fn usage(&self) -> Value {
        let path = format!("/api/tenants/{}/usage", self.admin.tenant.id);
        let response = self.app.as_platform(Method::GET, &path).await.send().await.unwrap();
        json_body(response, StatusCode::OK).await["data"].clone()
    }
}

/// The store's key of a file.
pub fn key(tenant: Uuid, file: &Value) -> String {
    format!("{tenant}/{}", file["id"].as_str().unwrap())
}

/// A PUT of `bytes` to a single-upload URL with exactly the signed headers (a browser cannot set
/// Content-Length itself; the client derives it from the body, as reqwest does).
pub async fn put(upload: &Value, bytes: &[u8]) -> Response {
    put_with(upload["url"].as_str().unwrap(), &upload["headers"], bytes).await
}

/// A PUT of `bytes` to `url` with `headers` (but Content-Length, which follows the body).
pub async fn put_with(url: &str, headers: &Value, bytes: &[u8]) -> Response {
    let mut request = reqwest::Client::new().put(url).body(bytes.to_vec());
    for (name, value) in headers.as_object().into_iter().flatten() {
        if !name.eq_ignore_ascii_case("content-length") {
            request = request.header(name, value.as_str().unwrap());
        }
    }
    request.send().await.unwrap()
}

/// Uploads each part of a multipart upload and returns the `parts` the complete call takes.
pub async fn put_parts(upload: &Value, bytes: &[u8]) -> Value {
    let part_size = upload["part_size"].as_u64().unwrap() as usize;
    let mut parts = Vec::new();
    for part in upload["parts"].as_array().unwrap() {
        let number = part["number"].as_u64().unwrap() as usize;
        let start = (number - 1) * part_size;
        let chunk = &bytes[start..(start + part_size).min(bytes.len())];
        let response = put_with(part["url"].as_str().unwrap(), &part["headers"], chunk).await;
        let status = response.status();
        let etag = response.headers().get("etag").map(|v| v.to_str().unwrap().to_string());
        assert!(status.is_success(), "part {number}: {status} {}", response.text().await.unwrap_or_default());
        parts.push(json!({"number": number, "etag": etag.expect("an ETag for every part")}));
    }
    json!({ "parts": parts })
}
