//! Logging in and the access tokens that come out of it.

use jsonwebtoken::Algorithm;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    PLATFORM_ADMIN_EMAIL, PLATFORM_ADMIN_PASSWORD, RequestExt, TENANT_ADMIN_PASSWORD, TEST_JWT_SECRET, TestApp,
    assert_problem, json_body, spawn_app,
    tokens::{self, AUDIENCE, ISSUER, decode_claims, refreshed, sign, sign_with, unsigned, with_payload},
    users::pair_from,
};

/// Asserts the login response shape of API.md and returns the access token.
async fn assert_token_response(response: reqwest::Response) -> String {
    let pair = pair_from(json_body(response, StatusCode::OK).await);
    assert_eq!(pair.expires_in, 900, "the default access-token lifetime");
    pair.access_token
}

#[tokio::test]
async fn a_platform_admin_logs_in_with_no_tenant() {
    let app = spawn_app().await;

    let response = app.login(None, PLATFORM_ADMIN_EMAIL, PLATFORM_ADMIN_PASSWORD).await;

    let token = assert_token_response(response).await;
    let claims = decode_claims(&token);
    assert_eq!(claims["role"], "platform_admin");
    assert!(claims.get("tid").is_none_or(Value::is_null), "a platform admin has no tid: {claims}");
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["aud"], AUDIENCE);
    assert!(claims["sub"].as_str().is_some_and(|sub| uuid::Uuid::parse_str(sub).is_ok()), "{claims}");
    assert!(claims["jti"].is_string(), "{claims}");
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 900);
    let platform = app.get("/api/tenants").bearer_auth(&token).send().await.unwrap();
    json_body(platform, StatusCode::OK).await;
}

#[tokio::test]
async fn the_access_token_lifetime_follows_the_configuration() {
    let app = TestApp::builder().var("TB_ACCESS_TOKEN_TTL", "60").spawn().await;

    let response = app.login(None, PLATFORM_ADMIN_EMAIL, PLATFORM_ADMIN_PASSWORD).await;

    let body = json_body(response, StatusCode::OK).await;
    assert_eq!(body["data"]["expires_in"], 60, "{body}");
    let claims = decode_claims(body["data"]["access_token"].as_str().unwrap());
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 60);
}

#[tokio::test]
async fn a_tenant_admin_logs_in_on_its_tenant() {
    let app = spawn_app().await;
    let acme = app.create_tenant_with_admin("acme", "admin@acme.test", TENANT_ADMIN_PASSWORD).await;

    let response = app.login(Some("acme"), "admin@acme.test", TENANT_ADMIN_PASSWORD).await;

    let token = assert_token_response(response).await;
    let claims = decode_claims(&token);
    assert_eq!(claims["tid"], acme.id.to_string());
    assert_eq!(claims["role"], "admin");
    let own = app.get("/api/tenant").bearer_auth(&token).host("acme.localhost").send().await.unwrap();
    assert_eq!(json_body(own, StatusCode::OK).await["data"]["id"], acme.id.to_string());
}

#[tokio::test]
async fn a_tenant_admin_logs_in_with_the_tenant_header() {
    let app = spawn_app().await;
    let acme = app.create_tenant_with_admin("acme", "admin@acme.test", TENANT_ADMIN_PASSWORD).await;

    let response = app.login_by_header(&acme.id.to_string(), "admin@acme.test", TENANT_ADMIN_PASSWORD).await;

    let token = assert_token_response(response).await;
    assert_eq!(decode_claims(&token)["tid"], acme.id.to_string());
}

/// The problem body without the members that differ per request by design.
fn comparable(mut problem: Value) -> Value {
    for member in ["request_id", "instance"] {
        problem.as_object_mut().unwrap().remove(member);
    }
    problem
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_get_the_identical_401_body() {
    let app = spawn_app().await;
    app.create_tenant_with_admin("acme", "admin@acme.test", TENANT_ADMIN_PASSWORD).await;

    for tenant in [Some("acme"), None] {
        let known = if tenant.is_some() { "admin@acme.test" } else { PLATFORM_ADMIN_EMAIL };
        let wrong_password = app.login(tenant, known, "Not-The-Password-1").await;
        let unknown_email = app.login(tenant, "nobody@acme.test", "Not-The-Password-1").await;

        let wrong_password = assert_problem(wrong_password, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
        let unknown_email = assert_problem(unknown_email, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
        assert_eq!(comparable(wrong_password), comparable(unknown_email), "tenant {tenant:?}");
    }
}

#[tokio::test]
async fn a_tenant_admin_cannot_log_in_without_a_tenant() {
    let app = spawn_app().await;
    app.create_tenant_with_admin("acme", "admin@acme.test", TENANT_ADMIN_PASSWORD).await;

    let response = app.login(None, "admin@acme.test", TENANT_ADMIN_PASSWORD).await;

    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

#[tokio::test]
async fn a_platform_admin_cannot_log_in_on_a_tenant() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;

    let response = app.login(Some("acme"), PLATFORM_ADMIN_EMAIL, PLATFORM_ADMIN_PASSWORD).await;

    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

#[tokio::test]
async fn a_tenant_admin_cannot_log_in_on_another_tenant() {
    let app = spawn_app().await;
    app.create_tenant_with_admin("acme", "admin@acme.test", TENANT_ADMIN_PASSWORD).await;
    app.create_tenant("globex").await;

    let response = app.login(Some("globex"), "admin@acme.test", TENANT_ADMIN_PASSWORD).await;

    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

#[tokio::test]
async fn a_suspended_tenants_admin_cannot_log_in() {
    let app = spawn_app().await;
    let acme = app.create_tenant_with_admin("acme", "admin@acme.test", TENANT_ADMIN_PASSWORD).await;
    app.suspend(&acme).await;

    let response = app.login(Some("acme"), "admin@acme.test", TENANT_ADMIN_PASSWORD).await;

    assert_problem(response, StatusCode::FORBIDDEN, "tenant_suspended").await;
}

#[tokio::test]
async fn a_common_or_short_password_for_a_tenant_admin_is_422() {
    let app = spawn_app().await;

    for password in ["password123", "short", ""] {
        let response = app
            .as_platform(Method::POST, "/api/tenants")
            .await
            .json(&json!({"slug": "acme", "name": "Acme", "admin": {"email": "admin@acme.test", "password": password}}))
            .send()
            .await
            .unwrap();

        let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let on_password = problem["errors"]
            .as_array()
            .is_some_and(|errors| errors.iter().any(|e| e["field"].as_str().is_some_and(|f| f.contains("password"))));
        assert!(on_password, "the error names the password field: {problem}");
    }
    assert_problem(app.fetch_tenant("acme").await, StatusCode::NOT_FOUND, "tenant_not_found").await;
}

#[tokio::test]
async fn no_response_ever_contains_a_password_or_its_hash() {
    let app = spawn_app().await;
    let password = TENANT_ADMIN_PASSWORD;
    let mut bodies = Vec::new();

    let created = app
        .as_platform(Method::POST, "/api/tenants")
        .await
        .json(&json!({"slug": "acme", "name": "Acme", "admin": {"email": "admin@acme.test", "password": password}}))
        .send()
        .await
        .unwrap();
    bodies.push(created.text().await.unwrap());
    let login = app.login(Some("acme"), "admin@acme.test", password).await;
    let token = json_body(login, StatusCode::OK).await["data"]["access_token"].as_str().unwrap().to_string();
    for path in ["/api/tenants", "/api/tenants/acme", "/api/tenants?meta=total_count"] {
        bodies.push(app.as_platform(Method::GET, path).await.send().await.unwrap().text().await.unwrap());
    }
    let acme_id = serde_json::from_str::<Value>(&bodies[0]).unwrap()["data"]["id"].as_str().unwrap().to_string();
    let usage = app.as_platform(Method::GET, &format!("/api/tenants/{acme_id}/usage")).await.send().await.unwrap();
    bodies.push(usage.text().await.unwrap());
    for path in ["/api/tenant", "/api/users/me"] {
        let response = app.get(path).bearer_auth(&token).host("acme.localhost").send().await.unwrap();
        bodies.push(response.text().await.unwrap());
    }
    bodies.push(app.login(Some("acme"), "admin@acme.test", "Not-The-Password-1").await.text().await.unwrap());

    for body in &bodies {
        assert!(!body.contains("$argon2"), "a hash leaked: {body}");
        assert!(!body.contains(password), "a password leaked: {body}");
        assert!(!body.contains("password_hash"), "a hash field leaked: {body}");
    }
}

/// Asserts `token` is refused with 401 `invalid_token` on a platform route and a tenant route.
async fn assert_token_rejected(app: &TestApp, token: &str) {
    let platform = app.get("/api/tenants").bearer_auth(token).send().await.unwrap();
    let tenant = app.get("/api/tenant").bearer_auth(token).host("acme.localhost").send().await.unwrap();

    assert_problem(platform, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_problem(tenant, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

/// An app with tenant acme and the platform admin's real claims, ready to forge from.
async fn app_and_platform_claims() -> (TestApp, Value) {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let claims = decode_claims(&app.platform_token().await);
    (app, claims)
}

#[tokio::test]
async fn a_re_signed_copy_of_a_valid_token_is_accepted() {
    // The control for the forgeries below: with the right key and claims, the forging works.
    let (app, claims) = app_and_platform_claims().await;
    let token = sign(&refreshed(&claims), TEST_JWT_SECRET.as_bytes());

    let platform = app.get("/api/tenants").bearer_auth(&token).send().await.unwrap();
    let tenant = app.get("/api/tenant").bearer_auth(&token).host("acme.localhost").send().await.unwrap();

    json_body(platform, StatusCode::OK).await;
    json_body(tenant, StatusCode::OK).await;
}

#[tokio::test]
async fn an_expired_token_is_401_invalid_token() {
    let (app, claims) = app_and_platform_claims().await;
    let mut expired = refreshed(&claims);
    expired["iat"] = json!(tokens::now() - 3600);
    expired["nbf"] = json!(tokens::now() - 3600);
    expired["exp"] = json!(tokens::now() - 600);

    assert_token_rejected(&app, &sign(&expired, TEST_JWT_SECRET.as_bytes())).await;
}

#[tokio::test]
async fn a_token_not_valid_before_a_future_time_is_401_invalid_token() {
    let (app, claims) = app_and_platform_claims().await;
    let mut early = refreshed(&claims);
    early["nbf"] = json!(tokens::now() + 600);
    early["exp"] = json!(tokens::now() + 1200);

    assert_token_rejected(&app, &sign(&early, TEST_JWT_SECRET.as_bytes())).await;
}

#[tokio::test]
async fn an_alg_none_token_is_401_invalid_token() {
    let (app, claims) = app_and_platform_claims().await;

    assert_token_rejected(&app, &unsigned(&refreshed(&claims))).await;
}

#[tokio::test]
async fn a_token_with_the_wrong_audience_is_401_invalid_token() {
    let (app, claims) = app_and_platform_claims().await;
    let mut wrong = refreshed(&claims);
    wrong["aud"] = json!("someone-else");

    assert_token_rejected(&app, &sign(&wrong, TEST_JWT_SECRET.as_bytes())).await;
}

#[tokio::test]
async fn a_token_with_the_wrong_issuer_is_401_invalid_token() {
    let (app, claims) = app_and_platform_claims().await;
    let mut wrong = refreshed(&claims);
    wrong["iss"] = json!("evil-issuer");

    assert_token_rejected(&app, &sign(&wrong, TEST_JWT_SECRET.as_bytes())).await;
}

#[tokio::test]
async fn a_token_without_exp_iss_aud_or_sub_is_401_invalid_token() {
    let (app, claims) = app_and_platform_claims().await;

    for missing in ["exp", "iss", "aud", "sub"] {
        let mut partial = refreshed(&claims);
        partial.as_object_mut().unwrap().remove(missing);

        assert_token_rejected(&app, &sign(&partial, TEST_JWT_SECRET.as_bytes())).await;
    }
}

#[tokio::test]
async fn a_token_signed_with_another_key_is_401_invalid_token() {
    let (app, claims) = app_and_platform_claims().await;

    let forged = sign(&refreshed(&claims), b"an-attackers-secret-that-is-long-enough-0123456789");

    assert_token_rejected(&app, &forged).await;
}

#[tokio::test]
async fn a_token_signed_with_another_algorithm_is_401_invalid_token() {
    let (app, claims) = app_and_platform_claims().await;

    let forged = sign_with(Algorithm::HS512, &refreshed(&claims), TEST_JWT_SECRET.as_bytes());

    assert_token_rejected(&app, &forged).await;
}

#[tokio::test]
async fn a_tampered_payload_is_401_invalid_token() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let mut claims = decode_claims(&acme.token);
    claims["role"] = json!("platform_admin");
    claims.as_object_mut().unwrap().remove("tid");

    let tampered = with_payload(&acme.token, &claims);

    assert_token_rejected(&app, &tampered).await;
}

#[tokio::test]
async fn garbage_bearer_tokens_are_401_invalid_token() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;

    for token in ["garbage", "a.b.c", "..", "eyJhbGciOiJIUzI1NiJ9", &"x".repeat(10_000)] {
        assert_token_rejected(&app, token).await;
    }
}

#[tokio::test]
async fn a_missing_token_on_a_tenant_route_is_401_unauthenticated() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;

    let response = app.get("/api/tenant").host("acme.localhost").send().await.unwrap();

    assert_problem(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}
