//! Tenant users and their sessions: typed bodies and the requests the user and session suites
//! make again and again.

use chrono::{DateTime, Utc};
use reqwest::{Method, RequestBuilder, Response, StatusCode, header};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{RequestExt, TenantAdmin, TestApp, assert_problem, json_body, tenant_host};

/// The password `TestApp::member` gives the users it creates.
pub const MEMBER_PASSWORD: &str = "Member-Pass-5820-kestrel";

/// A tenant user as the API returns it; every member of API.md's user JSON, nothing else read.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub name: Option<String>,
    pub role: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The members a user JSON has, and the only ones it may have.
pub const USER_MEMBERS: [&str; 7] = ["created_at", "email", "id", "name", "role", "status", "updated_at"];

/// What login and refresh answer.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: String,
    pub expires_in: u64,
}

/// A user of a tenant, created by its admin and logged in on its subdomain.
pub struct Member {
    pub user: User,
    pub slug: String,
    pub email: String,
    pub password: String,
    pub tokens: TokenPair,
}

impl Member {
    pub fn token(&self) -> &str {
        &self.tokens.access_token
    }
}

impl TenantAdmin {
    pub fn slug(&self) -> &str {
        &self.tenant.slug
    }
}

/// `/api/users…` as one caller on one tenant's subdomain.
pub struct UsersApi<'a> {
    app: &'a TestApp,
    slug: Option<String>,
    token: Option<String>,
}

impl UsersApi<'_> {
    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let mut request = self.app.request(method, path);
        if let Some(slug) = &self.slug {
            request = request.host(&tenant_host(slug));
        }
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        request
    }

    /// `GET /api/users{query}`.
    pub async fn list(&self, query: &str) -> Response {
        self.request(Method::GET, &format!("/api/users{query}")).send().await.unwrap()
    }

    /// `GET /api/users`, expecting 200; the users sorted by email.
    pub async fn all(&self) -> Vec<User> {
        let mut users = users_from(&json_body(self.list("").await, StatusCode::OK).await);
        users.sort_by(|a, b| a.email.cmp(&b.email));
        users
    }

    pub async fn create(&self, body: &Value) -> Response {
        self.request(Method::POST, "/api/users").json(body).send().await.unwrap()
    }

    /// `POST /api/users` with `MEMBER_PASSWORD`, expecting 201.
    pub async fn create_user(&self, email: &str, role: &str) -> User {
        let body = json!({"email": email, "password": MEMBER_PASSWORD, "role": role});
        user_from(json_body(self.create(&body).await, StatusCode::CREATED).await)
    }

    pub async fn get(&self, id: Uuid) -> Response {
        self.request(Method::GET, &format!("/api/users/{id}")).send().await.unwrap()
    }

    pub async fn patch(&self, id: Uuid, body: &Value) -> Response {
        self.request(Method::PATCH, &format!("/api/users/{id}")).json(body).send().await.unwrap()
    }

    /// `PATCH /api/users/{id}`, expecting 200.
    pub async fn patched(&self, id: Uuid, body: &Value) -> User {
        user_from(json_body(self.patch(id, body).await, StatusCode::OK).await)
    }

    pub async fn delete(&self, id: Uuid) -> Response {
        self.request(Method::DELETE, &format!("/api/users/{id}")).send().await.unwrap()
    }

    /// `GET /api/users/me`.
    pub async fn me(&self) -> Response {
        self.request(Method::GET, "/api/users/me").send().await.unwrap()
    }
}

impl TestApp {
    /// `/api/users…` on `slug`'s subdomain with `token`.
    pub fn users_as(&self, slug: &str, token: &str) -> UsersApi<'_> {
        UsersApi { app: self, slug: Some(slug.to_string()), token: Some(token.to_string()) }
    }

    /// `/api/users…` as this tenant admin on its subdomain.
    pub fn users(&self, admin: &TenantAdmin) -> UsersApi<'_> {
        self.users_as(admin.slug(), &admin.token)
    }

    /// `/api/users…` with a token and no host or header naming a tenant.
    pub fn users_by_token(&self, token: &str) -> UsersApi<'_> {
        UsersApi { app: self, slug: None, token: Some(token.to_string()) }
    }

    /// `/api/users…` on `slug`'s subdomain with no token at all.
    pub fn users_anonymous(&self, slug: &str) -> UsersApi<'_> {
        UsersApi { app: self, slug: Some(slug.to_string()), token: None }
    }

    /// Logs in, expects 200 with a full token pair, and returns it.
    pub async fn login_pair(&self, tenant_slug: Option<&str>, email: &str, password: &str) -> TokenPair {
        pair_from(json_body(self.login(tenant_slug, email, password).await, StatusCode::OK).await)
    }

    /// `POST /api/auth/refresh`, on the tenant's subdomain when a slug is given, no bearer token.
    pub async fn refresh(&self, tenant_slug: Option<&str>, refresh_token: &str) -> Response {
        let mut request = self.post("/api/auth/refresh").json(&json!({"refresh_token": refresh_token}));
        if let Some(slug) = tenant_slug {
            request = request.host(&tenant_host(slug));
        }
        request.send().await.expect("refresh request")
    }

    /// Refreshes, expects 200 with a full token pair, and returns it.
    pub async fn refreshed(&self, tenant_slug: Option<&str>, refresh_token: &str) -> TokenPair {
        pair_from(json_body(self.refresh(tenant_slug, refresh_token).await, StatusCode::OK).await)
    }

    /// `POST /api/auth/logout`, on the tenant's subdomain when a slug is given, no bearer token.
    pub async fn logout(&self, tenant_slug: Option<&str>, refresh_token: &str) -> Response {
        let mut request = self.post("/api/auth/logout").json(&json!({"refresh_token": refresh_token}));
        if let Some(slug) = tenant_slug {
            request = request.host(&tenant_host(slug));
        }
        request.send().await.expect("logout request")
    }

    /// A new user `{role}@{slug}.test` with `MEMBER_PASSWORD`, created by `admin` and logged in.
    pub async fn member(&self, admin: &TenantAdmin, role: &str) -> Member {
        self.member_named(admin, &format!("{role}@{}.test", admin.slug()), role).await
    }

    pub async fn member_named(&self, admin: &TenantAdmin, email: &str, role: &str) -> Member {
        let user = self.users(admin).create_user(email, role).await;
        let tokens = self.login_pair(Some(admin.slug()), email, MEMBER_PASSWORD).await;
        Member {
            user,
            slug: admin.slug().to_string(),
            email: email.to_string(),
            password: MEMBER_PASSWORD.to_string(),
            tokens,
        }
    }
}

/// The `data` member of a user response, typed; fails on a hash or password member.
pub fn user_from(body: Value) -> User {
    assert_no_secret_members(&body["data"]);
    serde_json::from_value(body["data"].clone()).unwrap_or_else(|e| panic!("not a user ({e}): {body}"))
}

/// The `data` list of a users response, typed.
pub fn users_from(body: &Value) -> Vec<User> {
    let list = body["data"].as_array().unwrap_or_else(|| panic!("data is not a list: {body}"));
    list.iter()
        .map(|user| {
            assert_no_secret_members(user);
            serde_json::from_value(user.clone()).unwrap_or_else(|e| panic!("not a user ({e}): {user}"))
        })
        .collect()
}

/// The ids of a users list response, sorted.
pub fn ids(users: &[User]) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = users.iter().map(|user| user.id).collect();
    ids.sort();
    ids
}

fn assert_no_secret_members(user: &Value) {
    if let Some(object) = user.as_object() {
        for key in object.keys() {
            assert!(!key.contains("password") && !key.contains("hash"), "a user carries `{key}`: {user}");
        }
    }
}

/// The `data` member of a login or refresh response, typed, with the shape API.md gives it.
pub fn pair_from(body: Value) -> TokenPair {
    let pair: TokenPair =
        serde_json::from_value(body["data"].clone()).unwrap_or_else(|e| panic!("not a token pair ({e}): {body}"));
    assert_eq!(pair.token_type, "Bearer", "{body}");
    assert!(!pair.refresh_token.is_empty(), "an empty refresh token: {body}");
    assert_ne!(pair.refresh_token, pair.access_token, "{body}");
    pair
}

/// Asserts a 429 `rate_limited` whose `Retry-After` is a whole number of seconds, at least 1.
pub async fn assert_rate_limited(response: Response) -> u64 {
    let retry_after = response.headers().get(header::RETRY_AFTER).map(|value| value.to_str().unwrap().to_string());
    let problem = assert_problem(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    let retry_after = retry_after.unwrap_or_else(|| panic!("a 429 carries Retry-After: {problem}"));
    let seconds: u64 =
        retry_after.parse().unwrap_or_else(|_| panic!("Retry-After is whole seconds, was `{retry_after}`"));
    assert!(seconds >= 1, "Retry-After is at least 1 second, was {seconds}");
    seconds
}

/// A refresh token of the same form and length as `real` that was never issued: its last 12
/// characters replaced by `n`'s digits, as someone guessing tokens would.
pub fn guessed_refresh_token(real: &str, n: usize) -> String {
    let guess = format!("{}{n:0>12}", &real[..real.len() - 12]);
    assert_ne!(guess, real);
    guess
}
