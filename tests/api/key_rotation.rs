//! Rotating the JWT signing key without logging everyone out (`TB_JWT_PREVIOUS_SECRETS`, a `kid`
//! header), and forged tokens that name another tenant.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{
    RequestExt, TENANT_ADMIN_PASSWORD, TEST_JWT_SECRET, TestApp, assert_problem, json_body, spawn_app,
    tokens::{decode_claims, kid, refreshed, sign, sign_with_kid, verify_with},
    users::user_from,
};

/// The key the suite's apps start with is S1; these are the keys rotated to.
const S2: &str = "rotated-secret-number-two-0123456789abcdef-0123456789";
const S0: &str = "the-original-secret-number-zero-0123456789abcdef-01234";

/// Asserts `token` works on `/api/users/me` of acme on `app` and names this email.
async fn assert_accepted(app: &TestApp, token: &str, email: &str) {
    let me = user_from(json_body(app.users_as("acme", token).me().await, StatusCode::OK).await);
    assert_eq!(me.email, email);
}

async fn assert_refused(app: &TestApp, token: &str) {
    assert_problem(app.users_as("acme", token).me().await, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn access_tokens_carry_a_kid_that_names_the_key_without_revealing_it() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;

    let tenant_kid = kid(&acme.token).expect("a kid header on a tenant user's token");
    let platform_kid = kid(&app.platform_token().await).expect("a kid header on a platform admin's token");

    assert_eq!(tenant_kid, platform_kid, "one key, one kid");
    assert!(!tenant_kid.is_empty());
    assert!(!TEST_JWT_SECRET.contains(&tenant_kid) && !tenant_kid.contains(TEST_JWT_SECRET), "kid {tenant_kid}");
}

#[tokio::test]
async fn after_rotation_old_tokens_still_work_and_new_ones_are_signed_with_the_new_key() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let old_kid = kid(&acme.token).unwrap();

    let rotated =
        app.second_instance().var("TB_JWT_SECRET", S2).var("TB_JWT_PREVIOUS_SECRETS", TEST_JWT_SECRET).spawn().await;

    assert_accepted(&rotated, &acme.token, &acme.email).await;
    let new_token = rotated.access_token(Some("acme"), &acme.email, TENANT_ADMIN_PASSWORD).await;
    let claims = verify_with(&new_token, S2).expect("a new token verifies with the new key");
    assert_eq!(claims["tid"], acme.tenant.id.to_string());
    assert!(verify_with(&new_token, TEST_JWT_SECRET).is_err(), "a new token is not signed with the old key");
    assert_ne!(kid(&new_token).expect("a kid header"), old_kid, "the kid names the key");
    assert_accepted(&rotated, &new_token, &acme.email).await;
}

#[tokio::test]
async fn an_instance_that_no_longer_lists_the_old_key_refuses_its_tokens() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let rotated =
        app.second_instance().var("TB_JWT_SECRET", S2).var("TB_JWT_PREVIOUS_SECRETS", TEST_JWT_SECRET).spawn().await;
    let new_token = rotated.access_token(Some("acme"), &acme.email, TENANT_ADMIN_PASSWORD).await;

    let s2_only = app.second_instance().var("TB_JWT_SECRET", S2).spawn().await;

    assert_refused(&s2_only, &acme.token).await;
    assert_accepted(&s2_only, &new_token, &acme.email).await;
    // And the instance still on the old key alone does not know the new one.
    assert_refused(&app, &new_token).await;
}

#[tokio::test]
async fn every_listed_previous_key_is_accepted() {
    let first = TestApp::builder().var("TB_JWT_SECRET", S0).spawn().await;
    let acme = first.tenant_admin("acme").await;
    let second = first.second_instance().spawn().await;
    let s1_token = second.access_token(Some("acme"), &acme.email, TENANT_ADMIN_PASSWORD).await;

    let third = first
        .second_instance()
        .var("TB_JWT_SECRET", S2)
        .var("TB_JWT_PREVIOUS_SECRETS", format!("{S0},{TEST_JWT_SECRET}"))
        .spawn()
        .await;

    assert_accepted(&third, &acme.token, &acme.email).await;
    assert_accepted(&third, &s1_token, &acme.email).await;
}

#[tokio::test]
async fn a_session_started_before_rotation_refreshes_into_a_token_signed_with_the_new_key() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let pair = app.login_pair(Some("acme"), &acme.email, TENANT_ADMIN_PASSWORD).await;

    let rotated =
        app.second_instance().var("TB_JWT_SECRET", S2).var("TB_JWT_PREVIOUS_SECRETS", TEST_JWT_SECRET).spawn().await;
    let refreshed = rotated.refreshed(Some("acme"), &pair.refresh_token).await;

    verify_with(&refreshed.access_token, S2).expect("the refreshed token is signed with the new key");
    let s2_only = app.second_instance().var("TB_JWT_SECRET", S2).spawn().await;
    assert_accepted(&s2_only, &refreshed.access_token, &acme.email).await;
}

#[tokio::test]
async fn a_previous_secret_shorter_than_32_bytes_stops_startup() {
    for previous in ["too-short".to_string(), format!("{TEST_JWT_SECRET},short")] {
        let started = TestApp::builder().var("TB_JWT_PREVIOUS_SECRETS", previous.clone()).try_spawn().await;

        let error = started.err().unwrap_or_else(|| panic!("the app started with TB_JWT_PREVIOUS_SECRETS={previous}"));
        assert!(error.to_lowercase().contains("secret"), "the refusal names the secret: {error}");
        assert!(!error.contains("too-short") && !error.contains(",short"), "the refusal echoes the secret: {error}");
    }
}

#[tokio::test]
async fn a_token_forged_with_tenant_b_tid_but_a_wrong_key_is_401_invalid_token() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let globex = app.tenant_admin("globex").await;
    let mut claims = refreshed(&decode_claims(&acme.token));
    claims["tid"] = json!(globex.tenant.id);
    let wrong_key = b"an-attackers-secret-that-is-long-enough-0123456789";
    let real_kid = kid(&acme.token).unwrap();

    for forged in [sign(&claims, wrong_key), sign_with_kid(&claims, wrong_key, &real_kid)] {
        let on_globex = app.users_as("globex", &forged).me().await;
        let list = app.users_as("globex", &forged).list("").await;
        let by_header = app
            .get("/api/users")
            .bearer_auth(&forged)
            .tenant_header(&globex.tenant.id.to_string())
            .send()
            .await
            .unwrap();

        assert_problem(on_globex, StatusCode::UNAUTHORIZED, "invalid_token").await;
        assert_problem(list, StatusCode::UNAUTHORIZED, "invalid_token").await;
        assert_problem(by_header, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
}

#[tokio::test]
async fn a_token_signed_with_a_retired_key_under_the_current_kid_is_401_invalid_token() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let s2_only = app.second_instance().var("TB_JWT_SECRET", S2).spawn().await;
    let current_kid = kid(&s2_only.access_token(Some("acme"), &acme.email, TENANT_ADMIN_PASSWORD).await).unwrap();

    // The old key's signature under the new key's kid: kid picks the key, it proves nothing.
    let forged = sign_with_kid(&refreshed(&decode_claims(&acme.token)), TEST_JWT_SECRET.as_bytes(), &current_kid);

    assert_refused(&s2_only, &forged).await;
}
