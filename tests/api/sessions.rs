//! Sessions (API.md "Authentication", SECURITY.md item 13): refresh rotation with reuse detection,
//! logout, and the sessions a change to a user ends.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{
    PLATFORM_ADMIN_EMAIL, PLATFORM_ADMIN_PASSWORD, RequestExt, TENANT_ADMIN_PASSWORD, TestApp, assert_problem,
    eventually, json_body, spawn_app, tenant_host,
    tokens::decode_claims,
    users::{MEMBER_PASSWORD, Member, TokenPair, guessed_refresh_token, pair_from, user_from},
};

/// Asserts the access token is refused with 401 `invalid_token` on `/api/users/me` and on
/// `/api/tenant` of its tenant.
async fn assert_access_refused(app: &TestApp, slug: &str, access_token: &str) {
    let me = app.users_as(slug, access_token).me().await;
    let tenant = app.get("/api/tenant").bearer_auth(access_token).host(&tenant_host(slug)).send().await.unwrap();

    assert_problem(me, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_problem(tenant, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

/// Asserts the access token still works on `/api/users/me` and names this email.
async fn assert_access_works(app: &TestApp, slug: &str, access_token: &str, email: &str) {
    let me = user_from(json_body(app.users_as(slug, access_token).me().await, StatusCode::OK).await);
    assert_eq!(me.email, email);
}

#[tokio::test]
async fn a_tenant_login_returns_an_access_token_and_an_opaque_refresh_token() {
    let app = spawn_app().await;
    let acme = app.create_tenant_with_admin("acme", "admin@acme.test", TENANT_ADMIN_PASSWORD).await;

    let pair = app.login_pair(Some("acme"), "admin@acme.test", TENANT_ADMIN_PASSWORD).await;

    assert_eq!(pair.expires_in, 900);
    assert_eq!(decode_claims(&pair.access_token)["tid"], acme.id.to_string());
    assert!(
        jsonwebtoken::decode_header(&pair.refresh_token).is_err(),
        "a refresh token is opaque, not a JWT: {}",
        pair.refresh_token
    );
    assert!(pair.refresh_token.len() >= 32, "a refresh token carries enough randomness: {}", pair.refresh_token);
}

#[tokio::test]
async fn a_platform_admin_gets_a_refresh_token_that_refreshes_with_no_tenant() {
    let app = spawn_app().await;
    let login = app.login_pair(None, PLATFORM_ADMIN_EMAIL, PLATFORM_ADMIN_PASSWORD).await;

    let refreshed = app.refreshed(None, &login.refresh_token).await;

    let claims = decode_claims(&refreshed.access_token);
    assert_eq!(claims["role"], "platform_admin");
    assert_eq!(claims["sub"], decode_claims(&login.access_token)["sub"]);
    let platform = app.get("/api/tenants").bearer_auth(&refreshed.access_token).send().await.unwrap();
    json_body(platform, StatusCode::OK).await;
}

#[tokio::test]
async fn refresh_returns_a_new_pair_for_the_same_user_and_tenant() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let editor = app.member(&acme, "editor").await;

    let refreshed = app.refreshed(Some("acme"), &editor.tokens.refresh_token).await;

    assert_ne!(refreshed.refresh_token, editor.tokens.refresh_token, "the refresh token rotates");
    assert_ne!(refreshed.access_token, editor.tokens.access_token);
    assert_eq!(refreshed.expires_in, 900);
    let (old, new) = (decode_claims(&editor.tokens.access_token), decode_claims(&refreshed.access_token));
    assert_eq!((&new["sub"], &new["tid"], &new["role"]), (&old["sub"], &old["tid"], &old["role"]));
    assert_eq!(new["sub"], editor.user.id.to_string());
    assert_ne!(new["jti"], old["jti"]);
    assert_access_works(&app, "acme", &refreshed.access_token, &editor.email).await;
}

#[tokio::test]
async fn login_refresh_refresh_then_reusing_the_first_refresh_token_revokes_the_whole_family() {
    let app = spawn_app().await;
    app.create_tenant_with_admin("acme", "admin@acme.test", TENANT_ADMIN_PASSWORD).await;

    let first = app.login_pair(Some("acme"), "admin@acme.test", TENANT_ADMIN_PASSWORD).await;
    let second = app.refreshed(Some("acme"), &first.refresh_token).await;
    let third = app.refreshed(Some("acme"), &second.refresh_token).await;

    let reused = app.refresh(Some("acme"), &first.refresh_token).await;
    assert_problem(reused, StatusCode::UNAUTHORIZED, "refresh_token_reused").await;
    let latest = app.refresh(Some("acme"), &third.refresh_token).await;
    assert_problem(latest, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let middle = app.refresh(Some("acme"), &second.refresh_token).await;
    assert_eq!(middle.status(), StatusCode::UNAUTHORIZED, "a spent token of a revoked family is refused too");
}

#[tokio::test]
async fn a_spent_refresh_token_presented_again_is_401_refresh_token_reused() {
    let app = spawn_app().await;
    let login = app.login_pair(None, PLATFORM_ADMIN_EMAIL, PLATFORM_ADMIN_PASSWORD).await;
    let rotated = app.refreshed(None, &login.refresh_token).await;

    let reused = app.refresh(None, &login.refresh_token).await;

    assert_problem(reused, StatusCode::UNAUTHORIZED, "refresh_token_reused").await;
    let newest = app.refresh(None, &rotated.refresh_token).await;
    assert_problem(newest, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn two_concurrent_refreshes_with_one_token_cannot_both_succeed() {
    let app = spawn_app().await;

    for round in 0..4 {
        let login = app.login_pair(None, PLATFORM_ADMIN_EMAIL, PLATFORM_ADMIN_PASSWORD).await;

        let (first, second) =
            tokio::join!(app.refresh(None, &login.refresh_token), app.refresh(None, &login.refresh_token));

        let mut statuses = [first.status(), second.status()];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::OK, StatusCode::UNAUTHORIZED], "round {round}: one wins, one is a reuse");
        let (winner, loser) = if first.status() == StatusCode::OK { (first, second) } else { (second, first) };
        let winner = pair_from(json_body(winner, StatusCode::OK).await);
        assert_problem(loser, StatusCode::UNAUTHORIZED, "refresh_token_reused").await;
        // The reuse revoked the family, the winner's new token included.
        assert_problem(app.refresh(None, &winner.refresh_token).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
}

#[tokio::test]
async fn unknown_and_malformed_refresh_tokens_are_401_invalid_token() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let real = app.login_pair(Some("acme"), &acme.email, TENANT_ADMIN_PASSWORD).await.refresh_token;
    let guessed = guessed_refresh_token(&real, 1);
    let other_tenant = format!("{}.{}", Uuid::new_v4().simple(), "A".repeat(43));

    for token in ["garbage", "x", &"y".repeat(4096), &guessed, &format!("{real}x"), &real[..real.len() - 1]] {
        for tenant in [None, Some("acme")] {
            let response = app.refresh(tenant, token).await;

            assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
        }
    }
    // A token of our form naming a tenant that does not exist is just as unknown.
    assert_problem(app.refresh(None, &other_tenant).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    // None of that spent or revoked the real one.
    app.refreshed(Some("acme"), &real).await;
}

#[tokio::test]
async fn an_expired_refresh_token_is_401_invalid_token() {
    // `TB_REFRESH_TOKEN_TTL` (seconds) bounds a session's life.
    let app = TestApp::builder().var("TB_REFRESH_TOKEN_TTL", "1").spawn().await;
    let login = app.login_pair(None, PLATFORM_ADMIN_EMAIL, PLATFORM_ADMIN_PASSWORD).await;

    tokio::time::sleep(Duration::from_millis(2100)).await;

    let expired = app.refresh(None, &login.refresh_token).await;
    assert_problem(expired, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn an_access_token_is_not_a_refresh_token_and_a_refresh_token_is_not_an_access_token() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let pair = app.login_pair(Some("acme"), &acme.email, TENANT_ADMIN_PASSWORD).await;

    let access_as_refresh = app.refresh(Some("acme"), &pair.access_token).await;
    let refresh_as_access = app.users_as("acme", &pair.refresh_token).me().await;

    assert_problem(access_as_refresh, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_problem(refresh_as_access, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn a_tenant_users_refresh_token_on_another_tenant_is_401_token_tenant_mismatch() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let globex = app.create_tenant("globex").await;
    let pair = app.login_pair(Some("acme"), &acme.email, TENANT_ADMIN_PASSWORD).await;
    let body = json!({"refresh_token": pair.refresh_token});

    let by_host = app.refresh(Some("globex"), &pair.refresh_token).await;
    let by_slug_header = app.post("/api/auth/refresh").tenant_header("globex").json(&body).send().await.unwrap();
    let by_id_header =
        app.post("/api/auth/refresh").tenant_header(&globex.id.to_string()).json(&body).send().await.unwrap();

    assert_problem(by_host, StatusCode::UNAUTHORIZED, "token_tenant_mismatch").await;
    assert_problem(by_slug_header, StatusCode::UNAUTHORIZED, "token_tenant_mismatch").await;
    assert_problem(by_id_header, StatusCode::UNAUTHORIZED, "token_tenant_mismatch").await;
}

#[tokio::test]
async fn logout_with_another_tenants_refresh_token_is_401_token_tenant_mismatch_and_revokes_nothing() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let globex = app.create_tenant("globex").await;
    let pair = app.login_pair(Some("acme"), &acme.email, TENANT_ADMIN_PASSWORD).await;
    let body = json!({"refresh_token": pair.refresh_token});

    let by_host = app.logout(Some("globex"), &pair.refresh_token).await;
    let by_header =
        app.post("/api/auth/logout").tenant_header(&globex.id.to_string()).json(&body).send().await.unwrap();

    assert_problem(by_host, StatusCode::UNAUTHORIZED, "token_tenant_mismatch").await;
    assert_problem(by_header, StatusCode::UNAUTHORIZED, "token_tenant_mismatch").await;
    app.refreshed(Some("acme"), &pair.refresh_token).await;
}

#[tokio::test]
async fn logout_is_204_and_revokes_the_session() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let pair = app.login_pair(Some("acme"), &acme.email, TENANT_ADMIN_PASSWORD).await;
    let other_session = app.login_pair(Some("acme"), &acme.email, TENANT_ADMIN_PASSWORD).await;

    let logout = app.logout(Some("acme"), &pair.refresh_token).await;

    assert_eq!(logout.status(), StatusCode::NO_CONTENT, "{}", logout.text().await.unwrap());
    let after = app.refresh(Some("acme"), &pair.refresh_token).await;
    assert_problem(after, StatusCode::UNAUTHORIZED, "invalid_token").await;
    // Logging out ends that session, not the user's other ones.
    app.refreshed(Some("acme"), &other_session.refresh_token).await;
}

#[tokio::test]
async fn logout_after_a_refresh_revokes_the_rotated_session() {
    let app = spawn_app().await;
    let login = app.login_pair(None, PLATFORM_ADMIN_EMAIL, PLATFORM_ADMIN_PASSWORD).await;
    let rotated = app.refreshed(None, &login.refresh_token).await;

    let logout = app.logout(None, &rotated.refresh_token).await;

    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    assert_problem(app.refresh(None, &rotated.refresh_token).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn logout_with_an_unknown_refresh_token_is_204() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;

    for tenant in [None, Some("acme")] {
        let response = app.logout(tenant, "no-such-refresh-token-0123456789abcdef").await;

        assert_eq!(response.status(), StatusCode::NO_CONTENT, "{tenant:?}: {}", response.text().await.unwrap());
    }
}

/// Acme with its admin and a viewer who has just logged in.
async fn acme_with_viewer(app: &TestApp) -> (crate::helpers::TenantAdmin, Member) {
    let acme = app.tenant_admin("acme").await;
    let viewer = app.member(&acme, "viewer").await;
    (acme, viewer)
}

#[tokio::test]
async fn a_disabled_users_access_token_refresh_token_and_login_are_refused() {
    let app = spawn_app().await;
    let (acme, viewer) = acme_with_viewer(&app).await;
    // The token is known good (and whatever caches the user's status is warm).
    assert_access_works(&app, "acme", viewer.token(), &viewer.email).await;

    let disabled = app.users(&acme).patched(viewer.user.id, &json!({"status": "disabled"})).await;

    assert_eq!(disabled.status, "disabled");
    assert_access_refused(&app, "acme", viewer.token()).await;
    let refresh = app.refresh(Some("acme"), &viewer.tokens.refresh_token).await;
    assert_problem(refresh, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let login = app.login(Some("acme"), &viewer.email, MEMBER_PASSWORD).await;
    assert_problem(login, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

#[tokio::test]
async fn a_user_disabled_on_one_instance_is_refused_on_another() {
    let first = spawn_app().await;
    let second = first.second_instance().spawn().await;
    let (acme, viewer) = acme_with_viewer(&first).await;
    assert_access_works(&second, "acme", viewer.token(), &viewer.email).await;

    first.users(&acme).patched(viewer.user.id, &json!({"status": "disabled"})).await;

    eventually(Duration::from_secs(2), "the second instance to refuse the disabled user", || async {
        let status = second.users_as("acme", viewer.token()).me().await.status();
        (status == StatusCode::UNAUTHORIZED).then_some(())
    })
    .await;
    assert_access_refused(&second, "acme", viewer.token()).await;
}

#[tokio::test]
async fn re_enabling_a_disabled_user_lets_them_log_in_again() {
    let app = spawn_app().await;
    let (acme, viewer) = acme_with_viewer(&app).await;
    app.users(&acme).patched(viewer.user.id, &json!({"status": "disabled"})).await;

    let enabled = app.users(&acme).patched(viewer.user.id, &json!({"status": "active"})).await;

    assert_eq!(enabled.status, "active");
    let pair = app.login_pair(Some("acme"), &viewer.email, MEMBER_PASSWORD).await;
    assert_access_works(&app, "acme", &pair.access_token, &viewer.email).await;
}

/// Waits past the second the tokens were issued in, so a change is strictly later than them.
async fn past_the_issuing_second() {
    tokio::time::sleep(Duration::from_millis(1100)).await;
}

#[tokio::test]
async fn changing_a_users_password_ends_their_sessions_and_only_the_new_password_logs_in() {
    let app = spawn_app().await;
    let (acme, viewer) = acme_with_viewer(&app).await;
    past_the_issuing_second().await;

    app.users(&acme).patched(viewer.user.id, &json!({"password": "A-Brand-New-Pass-3382"})).await;

    assert_access_refused(&app, "acme", viewer.token()).await;
    let refresh = app.refresh(Some("acme"), &viewer.tokens.refresh_token).await;
    assert_problem(refresh, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let old_password = app.login(Some("acme"), &viewer.email, MEMBER_PASSWORD).await;
    assert_problem(old_password, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let pair = app.login_pair(Some("acme"), &viewer.email, "A-Brand-New-Pass-3382").await;
    assert_access_works(&app, "acme", &pair.access_token, &viewer.email).await;
}

#[tokio::test]
async fn changing_a_users_role_ends_their_sessions_and_the_next_login_carries_the_new_role() {
    let app = spawn_app().await;
    let (acme, viewer) = acme_with_viewer(&app).await;
    past_the_issuing_second().await;

    let promoted = app.users(&acme).patched(viewer.user.id, &json!({"role": "editor"})).await;

    assert_eq!(promoted.role, "editor");
    assert_access_refused(&app, "acme", viewer.token()).await;
    let refresh = app.refresh(Some("acme"), &viewer.tokens.refresh_token).await;
    assert_problem(refresh, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let pair: TokenPair = app.login_pair(Some("acme"), &viewer.email, MEMBER_PASSWORD).await;
    assert_eq!(decode_claims(&pair.access_token)["role"], "editor");
    let me = user_from(json_body(app.users_as("acme", &pair.access_token).me().await, StatusCode::OK).await);
    assert_eq!(me.role, "editor");
}

#[tokio::test]
async fn changing_one_users_password_leaves_other_users_sessions_alone() {
    let app = spawn_app().await;
    let (acme, viewer) = acme_with_viewer(&app).await;
    let editor = app.member(&acme, "editor").await;
    past_the_issuing_second().await;

    app.users(&acme).patched(viewer.user.id, &json!({"password": "A-Brand-New-Pass-3382"})).await;

    assert_access_works(&app, "acme", editor.token(), &editor.email).await;
    app.refreshed(Some("acme"), &editor.tokens.refresh_token).await;
}

#[tokio::test]
async fn a_deleted_users_access_token_and_refresh_token_are_refused() {
    let app = spawn_app().await;
    let (acme, viewer) = acme_with_viewer(&app).await;
    assert_access_works(&app, "acme", viewer.token(), &viewer.email).await;

    let deleted = app.users(&acme).delete(viewer.user.id).await;

    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_access_refused(&app, "acme", viewer.token()).await;
    let refresh = app.refresh(Some("acme"), &viewer.tokens.refresh_token).await;
    assert_problem(refresh, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn a_token_issued_just_before_a_password_change_is_refused_and_one_issued_just_after_works() {
    let app = spawn_app().await;
    for round in 0..5 {
        let (acme, viewer) = if round == 0 {
            acme_with_viewer(&app).await
        } else {
            let acme = app.tenant_admin(&format!("acme{round}")).await;
            let viewer = app.member(&acme, "viewer").await;
            (acme, viewer)
        };
        let slug = acme.slug().to_string();
        // No waiting: the change lands within milliseconds of the token, usually in its second.
        let new_password = format!("A-Brand-New-Pass-338{round}");
        app.users(&acme).patched(viewer.user.id, &json!({"password": new_password})).await;

        assert_access_refused(&app, &slug, viewer.token()).await;
        let pair = app.login_pair(Some(&slug), &viewer.email, &new_password).await;
        assert_access_works(&app, &slug, &pair.access_token, &viewer.email).await;
    }
}

#[tokio::test]
async fn a_token_issued_just_before_a_role_change_is_refused() {
    let app = spawn_app().await;
    let (acme, viewer) = acme_with_viewer(&app).await;

    app.users(&acme).patched(viewer.user.id, &json!({"role": "editor"})).await;

    assert_access_refused(&app, "acme", viewer.token()).await;
    let pair = app.login_pair(Some("acme"), &viewer.email, MEMBER_PASSWORD).await;
    assert_eq!(decode_claims(&pair.access_token)["role"], "editor");
    assert_access_works(&app, "acme", &pair.access_token, &viewer.email).await;
}
