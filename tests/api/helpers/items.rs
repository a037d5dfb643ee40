//! `/api/collections…` and `/api/items…` as one caller on one tenant (docs/data-api.md).

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

use super::{RequestExt, TenantAdmin, TestApp, json_body, tenant_host};

/// How a request names its tenant.
#[derive(Debug, Clone)]
pub enum Naming {
    /// `Host: {slug}.localhost`
    Host(String),
    /// `X-Tenant-ID: {slug or id}`
    Header(String),
    /// Only the token's `tid`.
    Token,
}

/// The data API as one caller: a token and a way of naming the tenant.
pub struct DataApi<'a> {
    app: &'a TestApp,
    naming: Naming,
    token: Option<String>,
}

impl<'a> DataApi<'a> {
    pub fn new(app: &'a TestApp, naming: Naming, token: Option<&str>) -> Self {
        DataApi { app, naming, token: token.map(str::to_string) }
    }

    /// A request on `path` named and authenticated as this caller.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let mut request = self.app.request(method, path);
        request = match &self.naming {
            Naming::Host(slug) => request.host(&tenant_host(slug)),
            Naming::Header(tenant) => request.tenant_header(tenant),
            Naming::Token => request,
        };
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        request
    }

    pub async fn create_collection(&self, body: &Value) -> Response {
        self.request(Method::POST, "/api/collections").json(body).send().await.unwrap()
    }

    /// `POST /api/collections`, expecting 201; returns the collection.
    pub async fn collection(&self, body: &Value) -> Value {
        json_body(self.create_collection(body).await, StatusCode::CREATED).await["data"].clone()
    }

    pub async fn get_collection(&self, name: &str) -> Response {
        self.request(Method::GET, &format!("/api/collections/{name}")).send().await.unwrap()
    }

    pub async fn list_collections(&self) -> Response {
        self.request(Method::GET, "/api/collections").send().await.unwrap()
    }

    pub async fn patch_collection(&self, name: &str, body: &Value) -> Response {
        self.request(Method::PATCH, &format!("/api/collections/{name}")).json(body).send().await.unwrap()
    }

    pub async fn delete_collection(&self, name: &str) -> Response {
        self.request(Method::DELETE, &format!("/api/collections/{name}")).send().await.unwrap()
    }

    pub async fn delete_field(&self, name: &str, field: &str) -> Response {
        self.request(Method::DELETE, &format!("/api/collections/{name}/fields/{field}")).send().await.unwrap()
    }

    /// `POST /api/items/{collection}` with an object or an array.
    pub async fn create(&self, collection: &str, body: &Value) -> Response {
        self.request(Method::POST, &format!("/api/items/{collection}")).json(body).send().await.unwrap()
    }

    /// `POST /api/items/{collection}` with one object, expecting 201; returns the item.
    pub async fn item(&self, collection: &str, body: &Value) -> Value {
        json_body(self.create(collection, body).await, StatusCode::CREATED).await["data"].clone()
    }

    /// `POST /api/items/{collection}` with an array, expecting 201; returns the items.
    pub async fn items(&self, collection: &str, bodies: &[Value]) -> Vec<Value> {
        let body = json_body(self.create(collection, &json!(bodies)).await, StatusCode::CREATED).await;
        body["data"].as_array().expect("an array of items").clone()
    }

    pub async fn get(&self, collection: &str, id: &str) -> Response {
        self.request(Method::GET, &format!("/api/items/{collection}/{id}")).send().await.unwrap()
    }

    /// `GET /api/items/{collection}` with these query pairs (values are URL-encoded).
    pub async fn list(&self, collection: &str, query: &[(&str, &str)]) -> Response {
        self.request(Method::GET, &format!("/api/items/{collection}")).query(query).send().await.unwrap()
    }

    /// `GET /api/items/{collection}`, expecting 200; returns the whole body (`data`, `meta`).
    pub async fn listed(&self, collection: &str, query: &[(&str, &str)]) -> Value {
        json_body(self.list(collection, query).await, StatusCode::OK).await
    }

    pub async fn patch(&self, collection: &str, id: &str, body: &Value) -> Response {
        self.request(Method::PATCH, &format!("/api/items/{collection}/{id}")).json(body).send().await.unwrap()
    }

    pub async fn delete(&self, collection: &str, id: &str) -> Response {
        self.request(Method::DELETE, &format!("/api/items/{collection}/{id}")).send().await.unwrap()
    }
}

impl TestApp {
    /// The data API as this tenant admin, on its subdomain.
    pub fn data(&self, admin: &TenantAdmin) -> DataApi<'_> {
        DataApi::new(self, Naming::Host(admin.tenant.slug.clone()), Some(&admin.token))
    }

    /// The data API as any caller (`token` None: anonymous), naming the tenant as given.
    pub fn data_as(&self, naming: Naming, token: Option<&str>) -> DataApi<'_> {
        DataApi::new(self, naming, token)
    }
}

/// The `articles` collection of BENCH.md: title, body, status (indexed, default draft), views.
pub fn articles_collection() -> Value {
    json!({"name": "articles", "fields": [
        {"name": "title", "type": "string", "required": true, "max_length": 255},
        {"name": "body", "type": "text"},
        {"name": "status", "type": "string", "default": "draft", "indexed": true},
        {"name": "views", "type": "integer", "default": 0},
    ]})
}
