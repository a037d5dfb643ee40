//! The typed test app and what every test module shares.
// The harness serves every suite; not each helper is used by each one yet.
#![allow(dead_code)]

pub mod browser;
pub mod cli;
pub mod files;
pub mod items;
pub mod postgres;
pub mod s3;
pub mod tokens;
pub mod users;

use std::{sync::Once, time::Duration};

use chrono::{DateTime, Utc};
use reqwest::{Method, RequestBuilder, Response, StatusCode, header};
use serde::Deserialize;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::OnceCell;
use uuid::Uuid;

pub use postgres::TestDatabase;

/// The HS256 key every test app signs with, so tests can verify and forge tokens.
pub const TEST_JWT_SECRET: &str = "tenantbase-test-secret-0123456789abcdef-0123456789";
/// The platform admin every test app bootstraps through `TB_ADMIN_EMAIL` / `TB_ADMIN_PASSWORD`.
pub const PLATFORM_ADMIN_EMAIL: &str = "root@platform.test";
pub const PLATFORM_ADMIN_PASSWORD: &str = "Platform-Admin-Pass-7351";
/// The password `TestApp::tenant_admin` gives each tenant's first admin.
pub const TENANT_ADMIN_PASSWORD: &str = "Tenant-Admin-Pass-9146";

/// A running app, its HTTP client and its database; the database is dropped with it.
pub struct TestApp {
    /// `http://127.0.0.1:{port}`
    pub address: String,
    pub port: u16,
    /// Follows no redirects, uses no proxy.
    pub client: reqwest::Client,
    /// `None` on SQLite.
    pub database: Option<TestDatabase>,
    /// The server's runtime `TB_DATABASE_URL` (the SQLite file, on SQLite).
    pub database_url: String,
    platform_token: OnceCell<String>,
    server: actix_web::dev::ServerHandle,
    serving: std::sync::Mutex<Option<tokio::task::JoinHandle<std::io::Result<()>>>>,
    _data_dir: TempDir,
}

/// A tenant as the API returns it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Tenant {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub plan: String,
    pub status: String,
    pub domains: Vec<String>,
    pub settings: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A tenant with its first admin, logged in.
pub struct TenantAdmin {
    pub tenant: Tenant,
    pub email: String,
    pub token: String,
}

/// Spawns the app on a fresh PostgreSQL database, connected as the non-owner runtime role.
pub async fn spawn_app() -> TestApp {
    TestApp::builder().spawn().await
}

/// Spawns the app on a fresh SQLite file in a temp dir.
pub async fn spawn_sqlite_app() -> TestApp {
    TestApp::builder().sqlite().spawn().await
}

enum Backend {
    Postgres(Option<TestDatabase>),
    /// Another instance's database, owned (and dropped) by that instance.
    Shared(String),
    Sqlite,
}

/// Registers a test's own hooks on the app.
type RegisterHooks = Box<dyn FnOnce(&mut tenantbase::hooks::Hooks)>;

/// Extra configuration for one test app: `TestApp::builder().var("TB_BODY_LIMIT", "4096")`.
pub struct TestAppBuilder {
    backend: Backend,
    vars: Vec<(String, String)>,
    hooks: Vec<RegisterHooks>,
    builtin_hooks: bool,
}

impl TestAppBuilder {
    /// Sets (or overrides) one `TB_*` variable.
    pub fn var(mut self, name: &str, value: impl Into<String>) -> Self {
        self.vars.retain(|(existing, _)| existing != name);
        self.vars.push((name.to_string(), value.into()));
        self
    }

    /// Registers hooks (after the built-in ones) on the app.
    pub fn hooks(mut self, register: impl FnOnce(&mut tenantbase::hooks::Hooks) + 'static) -> Self {
        self.hooks.push(Box::new(register));
        self
    }

    /// Leaves out the built-in hooks (the audit log), for tests that count raw rows.
    pub fn without_builtin_hooks(mut self) -> Self {
        self.builtin_hooks = false;
        self
    }

    pub fn sqlite(mut self) -> Self {
        self.backend = Backend::Sqlite;
        self
    }

    /// Runs on this database instead of a fresh clone of the template.
    pub fn database(mut self, database: TestDatabase) -> Self {
        self.backend = Backend::Postgres(Some(database));
        self
    }

    pub async fn spawn(self) -> TestApp {
        self.try_spawn().await.unwrap_or_else(|e| panic!("the app did not start: {e}"))
    }

    /// Builds and starts the app; a startup failure comes back as its full error text.
    pub async fn try_spawn(self) -> Result<TestApp, String> {
        init_test_logging();
        let data_dir = tempfile::tempdir().expect("creating a data dir");
        let mut vars: Vec<(String, String)> = [
            ("TB_BIND", "127.0.0.1:0".to_string()),
            ("TB_BASE_DOMAIN", "localhost".to_string()),
            ("TB_DATA_DIR", data_dir.path().display().to_string()),
            ("TB_JWT_SECRET", TEST_JWT_SECRET.to_string()),
            ("TB_ADMIN_EMAIL", PLATFORM_ADMIN_EMAIL.to_string()),
            ("TB_ADMIN_PASSWORD", PLATFORM_ADMIN_PASSWORD.to_string()),
            ("TB_WORKERS", "1".to_string()),
            // Suites send bursts no client would; the rate-limit tests set the plans they test.
            ("TB_RATE_LIMIT_TENANT_FREE", "1000000".to_string()),
            ("TB_RATE_LIMIT_CALLER_FREE", "1000000".to_string()),
            ("TB_LOG", test_log_filter().unwrap_or_else(|| "off".to_string())),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_string(), value))
        .collect();
        let database = match self.backend {
            Backend::Postgres(database) => {
                let database = match database {
                    Some(database) => database,
                    None => TestDatabase::create().await,
                };
                vars.push(("TB_DATABASE_URL".into(), database.runtime_url()));
                vars.push(("TB_MIGRATE_DATABASE_URL".into(), database.owner_url()));
                Some(database)
            }
            Backend::Shared(runtime_url) => {
                vars.push(("TB_DATABASE_URL".into(), runtime_url));
                None
            }
            Backend::Sqlite => {
                let file = data_dir.path().join("tenantbase.db");
                vars.push(("TB_DATABASE_URL".into(), format!("sqlite://{}?mode=rwc", file.display())));
                None
            }
        };
        for (name, value) in self.vars {
            vars.retain(|(existing, _)| *existing != name);
            vars.push((name, value));
        }

        let database_url = vars.iter().find(|(name, _)| name == "TB_DATABASE_URL").map(|(_, url)| url.clone());
        let config = tenantbase::config::Config::from_vars(vars).map_err(|e| error_text(&e))?;
        let mut hooks = if self.builtin_hooks {
            tenantbase::hooks::Hooks::with_builtins()
        } else {
            tenantbase::hooks::Hooks::new()
        };
        for register in self.hooks {
            register(&mut hooks);
        }
        let app = tenantbase::Application::build_with_hooks(config, hooks).await.map_err(|e| error_text(&e))?;
        let port = app.port();
        let server = app.handle();
        let serving = tokio::spawn(app.run_until_stopped());

        Ok(TestApp {
            address: format!("http://127.0.0.1:{port}"),
            port,
            client: client(reqwest::redirect::Policy::none()),
            database,
            database_url: database_url.unwrap_or_default(),
            platform_token: OnceCell::new(),
            server,
            serving: std::sync::Mutex::new(Some(serving)),
            _data_dir: data_dir,
        })
    }
}

impl TestApp {
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder { backend: Backend::Postgres(None), vars: Vec::new(), hooks: Vec::new(), builtin_hooks: true }
    }

    /// A second instance of the server on this app's PostgreSQL database, as a load balancer
    /// would run it; it shares the database and the JWT secret, nothing in memory.
    pub fn second_instance(&self) -> TestAppBuilder {
        let database = self.database.as_ref().expect("a second instance needs a PostgreSQL app");
        TestAppBuilder {
            backend: Backend::Shared(database.runtime_url()),
            vars: Vec::new(),
            hooks: Vec::new(),
            builtin_hooks: true,
        }
    }

    /// Stops this instance as SIGTERM would (in-flight requests finish) and waits until it has
    /// left: its heartbeat row removed, its usage counts written.
    pub async fn stop(&self) {
        self.server.stop(true).await;
        let serving = self.serving.lock().unwrap().take();
        if let Some(serving) = serving {
            serving.await.expect("the server task").expect("the server stopped cleanly");
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.request(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> RequestBuilder {
        self.request(Method::POST, path)
    }

    pub fn patch(&self, path: &str) -> RequestBuilder {
        self.request(Method::PATCH, path)
    }

    pub fn put(&self, path: &str) -> RequestBuilder {
        self.request(Method::PUT, path)
    }

    pub fn delete(&self, path: &str) -> RequestBuilder {
        self.request(Method::DELETE, path)
    }

    /// `POST /api/auth/login`, on the tenant's subdomain when a slug is given.
    pub async fn login(&self, tenant_slug: Option<&str>, email: &str, password: &str) -> Response {
        let mut request = self.post("/api/auth/login").json(&json!({"email": email, "password": password}));
        if let Some(slug) = tenant_slug {
            request = request.host(&tenant_host(slug));
        }
        request.send().await.expect("login request")
    }

    /// `POST /api/auth/login` naming the tenant by `X-Tenant-ID` (slug or id) instead of host.
    pub async fn login_by_header(&self, tenant: &str, email: &str, password: &str) -> Response {
        let body = json!({"email": email, "password": password});
        self.post("/api/auth/login").tenant_header(tenant).json(&body).send().await.expect("login request")
    }

    /// Logs in and returns the access token, failing the test on anything but 200.
    pub async fn access_token(&self, tenant_slug: Option<&str>, email: &str, password: &str) -> String {
        let body = json_body(self.login(tenant_slug, email, password).await, StatusCode::OK).await;
        body["data"]["access_token"].as_str().expect("an access_token string").to_string()
    }

    /// The bootstrapped platform admin's access token (one login per app).
    pub async fn platform_token(&self) -> String {
        self.platform_token
            .get_or_init(|| self.access_token(None, PLATFORM_ADMIN_EMAIL, PLATFORM_ADMIN_PASSWORD))
            .await
            .clone()
    }

    /// A platform request with the platform admin's token.
    pub async fn as_platform(&self, method: Method, path: &str) -> RequestBuilder {
        self.request(method, path).bearer_auth(self.platform_token().await)
    }

    /// `POST /api/tenants` with `body` as the platform admin; fails the test on anything but 201.
    pub async fn create_tenant_from(&self, body: Value) -> Tenant {
        let response = self.as_platform(Method::POST, "/api/tenants").await.json(&body).send().await.unwrap();
        tenant_from(json_body(response, StatusCode::CREATED).await)
    }

    pub async fn create_tenant(&self, slug: &str) -> Tenant {
        self.create_tenant_from(json!({"slug": slug, "name": format!("Tenant {slug}")})).await
    }

    pub async fn create_tenant_with_admin(&self, slug: &str, email: &str, password: &str) -> Tenant {
        self.create_tenant_from(json!({
            "slug": slug,
            "name": format!("Tenant {slug}"),
            "admin": {"email": email, "password": password},
        }))
        .await
    }

    /// A new tenant whose admin `admin@{slug}.test` has logged in on its subdomain.
    pub async fn tenant_admin(&self, slug: &str) -> TenantAdmin {
        let email = format!("admin@{slug}.test");
        let tenant = self.create_tenant_with_admin(slug, &email, TENANT_ADMIN_PASSWORD).await;
        let token = self.access_token(Some(slug), &email, TENANT_ADMIN_PASSWORD).await;
        TenantAdmin { tenant, email, token }
    }

    /// `GET /api/tenants/{id or slug}` as the platform admin.
    pub async fn fetch_tenant(&self, id_or_slug: &str) -> Response {
        self.as_platform(Method::GET, &format!("/api/tenants/{id_or_slug}")).await.send().await.unwrap()
    }

    /// `POST /api/tenants/{id}/{action}` (suspend, resume) as the platform admin; expects 200.
    pub async fn tenant_action(&self, tenant: &Tenant, action: &str) -> Tenant {
        let path = format!("/api/tenants/{}/{action}", tenant.id);
        let response = self.as_platform(Method::POST, &path).await.send().await.unwrap();
        tenant_from(json_body(response, StatusCode::OK).await)
    }

    pub async fn suspend(&self, tenant: &Tenant) -> Tenant {
        self.tenant_action(tenant, "suspend").await
    }

    pub async fn resume(&self, tenant: &Tenant) -> Tenant {
        self.tenant_action(tenant, "resume").await
    }

    /// `DELETE /api/tenants/{id}` as the platform admin; expects 202.
    pub async fn delete_tenant(&self, tenant: &Tenant) {
        let path = format!("/api/tenants/{}", tenant.id);
        let response = self.as_platform(Method::DELETE, &path).await.send().await.unwrap();
        let status = response.status();
        assert_eq!(status, StatusCode::ACCEPTED, "DELETE {path}: {}", response.text().await.unwrap_or_default());
    }

    /// `GET /api/tenant` (the caller's own tenant) with the platform admin's token.
    pub async fn own_tenant_as_platform(&self) -> RequestBuilder {
        self.as_platform(Method::GET, "/api/tenant").await
    }
}

/// `{slug}.localhost`: the tenant's subdomain under the test base domain.
pub fn tenant_host(slug: &str) -> String {
    format!("{slug}.localhost")
}

/// Request shorthands for the three ways of naming a tenant.
pub trait RequestExt {
    /// Overrides the `Host` header (reqwest otherwise takes it from the URL).
    fn host(self, host: &str) -> Self;
    fn tenant_header(self, slug_or_id: &str) -> Self;
}

impl RequestExt for RequestBuilder {
    fn host(self, host: &str) -> Self {
        self.header(header::HOST, host)
    }

    fn tenant_header(self, slug_or_id: &str) -> Self {
        self.header("X-Tenant-ID", slug_or_id)
    }
}

/// Asserts the status and returns the JSON body, showing the body when the status is wrong.
pub async fn json_body(response: Response, expected: StatusCode) -> Value {
    let (url, status) = (response.url().clone(), response.status());
    let text = response.text().await.expect("reading the body");
    assert_eq!(status, expected, "{url}: expected {expected}, got {status}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: body is not JSON ({e}): {text}"))
}

/// Asserts an RFC 9457 problem with this status and code, and returns it.
pub async fn assert_problem(response: Response, expected: StatusCode, code: &str) -> Value {
    let (url, status) = (response.url().clone(), response.status());
    let content_type = content_type(&response);
    let text = response.text().await.expect("reading the body");
    assert_eq!(status, expected, "{url}: expected {expected} `{code}`, got {status}: {text}");
    assert!(
        content_type.starts_with("application/problem+json"),
        "{url}: a {status} must be application/problem+json, was `{content_type}`: {text}"
    );
    let problem: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: problem is not JSON ({e}): {text}"));
    assert_eq!(problem["code"], code, "{url}: wrong code in {problem}");
    assert_eq!(problem["status"], expected.as_u16(), "{url}: `status` member in {problem}");
    assert!(problem["type"].is_string(), "{url}: no `type` in {problem}");
    assert!(problem["title"].is_string(), "{url}: no `title` in {problem}");
    problem
}

/// Asserts a 422 `validation_failed` with an entry in `errors` for `field` (and `code`, if given).
pub async fn assert_field_error(response: Response, field: &str, code: Option<&str>) -> Value {
    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let errors = problem["errors"].as_array().unwrap_or_else(|| panic!("no errors[] in {problem}"));
    let found = errors.iter().any(|error| {
        error["field"]
            .as_str()
            .is_some_and(|f| f == field || f.starts_with(&format!("{field}[")) || f.starts_with(&format!("{field}.")))
            && code.is_none_or(|code| error["code"] == code)
            && error["message"].is_string()
    });
    assert!(found, "expected an error on `{field}` with code {code:?} in {problem}");
    problem
}

pub fn content_type(response: &Response) -> String {
    response.headers().get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or_default().to_string()
}

/// The `data` member of a tenant response, typed.
pub fn tenant_from(body: Value) -> Tenant {
    serde_json::from_value(body["data"].clone()).unwrap_or_else(|e| panic!("not a tenant ({e}): {body}"))
}

/// A client for the app; `redirect` is `none()` except for tests that follow on purpose.
pub fn client(redirect: reqwest::redirect::Policy) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(redirect)
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("building the HTTP client")
}

/// Polls `check` every 100 ms until it returns `Some`, failing after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The whole error: its message, its sources, and its debug form.
fn error_text(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    format!("{text} ({error:?})")
}

/// The tracing filter `TEST_LOG` asks for: its value, or `debug` for `TEST_LOG=1`/`true`.
fn test_log_filter() -> Option<String> {
    let value = std::env::var("TEST_LOG").ok()?;
    Some(match value.as_str() {
        "" | "1" | "true" | "yes" => "debug".to_string(),
        _ => value,
    })
}

/// Test output stays quiet unless `TEST_LOG` is set.
fn init_test_logging() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        if let Some(filter) = test_log_filter() {
            // The app may install its own subscriber; whichever comes first wins.
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_test_writer()
                .try_init();
        }
    });
}
