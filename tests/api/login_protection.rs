//! Login protection (SECURITY.md items 16 and 17): one answer for every failed login, similar
//! timing, and login and refresh attempts limited per account, per client IP and tenant, and per
//! client IP across all tenants.

use std::time::{Duration, Instant};

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    PLATFORM_ADMIN_EMAIL, PLATFORM_ADMIN_PASSWORD, TENANT_ADMIN_PASSWORD, TestApp, assert_problem, json_body,
    spawn_app,
    users::{MEMBER_PASSWORD, assert_rate_limited, guessed_refresh_token},
};

/// Login attempts one account may make per minute, and one client IP per tenant.
const PER_ACCOUNT: usize = 10;
const PER_IP: usize = 30;

/// The problem body without the members that differ per request by design.
async fn comparable(response: Response) -> Value {
    let mut problem = assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    for member in ["request_id", "instance"] {
        problem.as_object_mut().unwrap().remove(member);
    }
    problem
}

/// 429 `rate_limited` (its `Retry-After` has a test of its own).
async fn assert_limited(response: Response) {
    assert_problem(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

#[tokio::test]
async fn unknown_email_wrong_password_and_disabled_user_get_the_identical_401_body() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let viewer = app.users(&acme).create_user("viewer@acme.test", "viewer").await;
    let off = app.users(&acme).create_user("off@acme.test", "viewer").await;
    app.users(&acme).patched(off.id, &json!({"status": "disabled"})).await;

    let wrong_password = comparable(app.login(Some("acme"), &viewer.email, "Not-The-Password-1").await).await;
    let unknown_email = comparable(app.login(Some("acme"), "nobody@acme.test", "Not-The-Password-1").await).await;
    let disabled = comparable(app.login(Some("acme"), "off@acme.test", MEMBER_PASSWORD).await).await;

    assert_eq!(wrong_password, unknown_email);
    assert_eq!(wrong_password, disabled);
}

/// How long one failed login for `email` takes.
async fn failed_login_time(app: &TestApp, email: &str) -> Duration {
    let started = Instant::now();
    let response = app.login(Some("acme"), email, "Not-The-Password-1").await;
    let elapsed = started.elapsed();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    elapsed
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

#[tokio::test]
async fn an_unknown_email_takes_about_as_long_as_a_wrong_password() {
    let app = spawn_app().await;
    app.create_tenant_with_admin("acme", "admin@acme.test", TENANT_ADMIN_PASSWORD).await;
    // Warm up whatever is computed once (a dummy hash, connections).
    app.login(Some("acme"), "warmup@acme.test", "Not-The-Password-1").await;

    // Interleaved, so that a busy moment of the test machine slows both kinds alike.
    let (mut wrong_password, mut unknown_email) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        wrong_password.push(failed_login_time(&app, "admin@acme.test").await);
        unknown_email.push(failed_login_time(&app, "nobody@acme.test").await);
    }
    let (wrong_password, unknown_email) = (median(wrong_password), median(unknown_email));

    // Skipping the hash for an unknown email makes it an order of magnitude faster; a dummy
    // verification keeps the two within noise. The bound is loose for a loaded test machine.
    assert!(
        unknown_email * 3 >= wrong_password,
        "unknown email {unknown_email:?} vs wrong password {wrong_password:?}: the unknown email skips the hash"
    );
}

#[tokio::test]
async fn an_over_long_password_at_login_is_401_invalid_credentials() {
    let app = spawn_app().await;
    app.create_tenant_with_admin("acme", "admin@acme.test", TENANT_ADMIN_PASSWORD).await;

    let huge = "x".repeat(200_000);
    let response = app.login(Some("acme"), "admin@acme.test", &huge).await;

    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

#[tokio::test]
async fn the_eleventh_login_attempt_on_one_account_within_a_minute_is_429_rate_limited() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    app.users(&acme).create_user("viewer@acme.test", "viewer").await;

    for _ in 0..PER_ACCOUNT {
        let response = app.login(Some("acme"), "viewer@acme.test", "Not-The-Password-1").await;

        assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
    // Even the right password is refused now.
    let eleventh = app.login(Some("acme"), "viewer@acme.test", MEMBER_PASSWORD).await;

    assert_limited(eleventh).await;
}

#[tokio::test]
async fn a_rate_limited_login_says_when_to_retry_in_whole_seconds() {
    let app = spawn_app().await;
    app.create_tenant_with_admin("acme", "admin@acme.test", TENANT_ADMIN_PASSWORD).await;
    for _ in 0..PER_ACCOUNT {
        app.login(Some("acme"), "admin@acme.test", "Not-The-Password-1").await;
    }

    let limited = app.login(Some("acme"), "admin@acme.test", TENANT_ADMIN_PASSWORD).await;

    let retry_after = assert_rate_limited(limited).await;
    // 10 a minute refill one attempt every 6 s.
    assert!(retry_after <= 60, "Retry-After {retry_after} s is within the minute window");
}

#[tokio::test]
async fn a_limited_account_leaves_other_accounts_and_the_same_email_on_another_tenant_alone() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let globex = app.tenant_admin("globex").await;
    app.users(&acme).create_user("pat@shared.test", "viewer").await;
    app.users(&globex).create_user("pat@shared.test", "viewer").await;
    app.users(&acme).create_user("other@acme.test", "viewer").await;
    for _ in 0..PER_ACCOUNT {
        app.login(Some("acme"), "pat@shared.test", "Not-The-Password-1").await;
    }
    assert_limited(app.login(Some("acme"), "pat@shared.test", MEMBER_PASSWORD).await).await;

    let other_account = app.login(Some("acme"), "other@acme.test", MEMBER_PASSWORD).await;
    let same_email_on_globex = app.login(Some("globex"), "pat@shared.test", MEMBER_PASSWORD).await;
    let platform_admin = app.login(None, PLATFORM_ADMIN_EMAIL, PLATFORM_ADMIN_PASSWORD).await;

    json_body(other_account, StatusCode::OK).await;
    json_body(same_email_on_globex, StatusCode::OK).await;
    json_body(platform_admin, StatusCode::OK).await;
}

/// Makes `allowed` attempts through `attempt(i)`, none of which may be limited, then asserts that
/// a limit follows within a few more (the bucket refills one attempt every two seconds, so a slow
/// machine may earn an extra one or two while the first ones run).
async fn exhaust_ip_limit<F, Fut>(started: Instant, allowed: usize, mut attempt: F) -> Response
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    for i in 0..allowed {
        let response = attempt(i).await;
        let status = response.status();
        assert_ne!(status, StatusCode::TOO_MANY_REQUESTS, "attempt {} of {allowed} was limited", i + 1);
    }
    let refilled = (started.elapsed().as_secs() / 2) as usize;
    for i in allowed..=allowed + refilled + 1 {
        let response = attempt(i).await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            return response;
        }
    }
    panic!("no 429 after {} attempts from one IP in {:?}", allowed + refilled + 2, started.elapsed());
}

#[tokio::test]
async fn login_attempts_from_one_ip_are_limited_per_tenant_across_accounts() {
    let app = spawn_app().await;
    app.create_tenant_with_admin("acme", "admin@acme.test", TENANT_ADMIN_PASSWORD).await;
    app.create_tenant_with_admin("globex", "admin@globex.test", TENANT_ADMIN_PASSWORD).await;

    // One attempt per account, so only the IP limit can trigger.
    let started = Instant::now();
    let app = &app;
    let limited = exhaust_ip_limit(started, PER_IP, |i| async move {
        app.login(Some("acme"), &format!("nobody{i}@acme.test"), "Not-The-Password-1").await
    })
    .await;

    assert_limited(limited).await;
    let other_tenant = app.login(Some("globex"), "admin@globex.test", TENANT_ADMIN_PASSWORD).await;
    json_body(other_tenant, StatusCode::OK).await;
}

#[tokio::test]
async fn refresh_attempts_from_one_ip_are_limited() {
    let app = spawn_app().await;
    let login = app.login_pair(None, PLATFORM_ADMIN_EMAIL, PLATFORM_ADMIN_PASSWORD).await;

    // Tokens of the right form that were never issued: someone guessing. The login may have
    // counted against the same allowance.
    let started = Instant::now();
    let (app, real) = (&app, login.refresh_token.as_str());
    let guess = |i| async move { app.refresh(None, &guessed_refresh_token(real, i)).await };
    let limited = exhaust_ip_limit(started, PER_IP - 1, guess).await;

    assert_limited(limited).await;
    // The limit is on the IP, whatever the token: a valid one is held back too.
    assert_limited(app.refresh(None, &login.refresh_token).await).await;
}

#[tokio::test]
async fn one_ip_cycling_tenants_by_header_is_cut_off_by_its_budget_across_tenants() {
    const ALL_TENANTS: usize = 12;
    let app = TestApp::builder().var("TB_LOGIN_ATTEMPTS_PER_IP_ALL_TENANTS", ALL_TENANTS.to_string()).spawn().await;
    let slugs = ["t0", "t1", "t2", "t3"];
    for slug in slugs {
        app.create_tenant(slug).await;
    }

    // Each tenant sees only a few attempts, far under its per-IP budget of 30. The platform
    // admin's login that created the tenants counted against the same total.
    let started = Instant::now();
    let app = &app;
    let limited = exhaust_ip_limit(started, ALL_TENANTS - 1, |i| async move {
        app.login_by_header(slugs[i % slugs.len()], &format!("nobody{i}@x.test"), "Not-The-Password-1").await
    })
    .await;

    assert_limited(limited).await;
    // Whichever tenant it names next, the IP is held back.
    for slug in slugs {
        assert_limited(app.login_by_header(slug, "nobody@x.test", "Not-The-Password-1").await).await;
    }
}

#[tokio::test]
async fn a_huge_email_is_refused_like_any_wrong_one() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let huge = format!("{}@acme.test", "a".repeat(500_000));

    for _ in 0..3 {
        let response = app.login(Some("acme"), &huge, "Not-The-Password-1").await;
        comparable(response).await;
    }
}
