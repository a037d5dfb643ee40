//! Who may do what inside a tenant (SECURITY.md items 1, 2 and 18): the role matrix of the user
//! routes, and tenant B's admin attacking tenant A's users.

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    RequestExt, TenantAdmin, TestApp, assert_problem, json_body, spawn_app, tenant_host,
    users::{MEMBER_PASSWORD, User, ids, user_from, users_from},
};

/// Every `/api/users` management route, aimed at `target`, with a body an admin would get
/// accepted.
fn management_routes(target: Uuid) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (Method::GET, "/api/users".into(), None),
        (Method::GET, "/api/users?meta=total_count".into(), None),
        (
            Method::POST,
            "/api/users".into(),
            Some(json!({"email": "intruder@acme.test", "password": MEMBER_PASSWORD, "role": "admin"})),
        ),
        (Method::GET, format!("/api/users/{target}"), None),
        (Method::PATCH, format!("/api/users/{target}"), Some(json!({"role": "admin", "name": "Escalated"}))),
        (Method::DELETE, format!("/api/users/{target}"), None),
    ]
}

fn request(app: &TestApp, (method, path, body): &(Method, String, Option<Value>)) -> RequestBuilder {
    let request = app.request(method.clone(), path);
    match body {
        Some(body) => request.json(body),
        None => request,
    }
}

/// The tenant's users as its admin sees them, sorted by email.
async fn snapshot(app: &TestApp, admin: &TenantAdmin) -> Vec<User> {
    app.users(admin).all().await
}

#[tokio::test]
async fn viewers_and_editors_get_403_forbidden_on_every_user_management_route() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let viewer = app.member(&acme, "viewer").await;
    let editor = app.member(&acme, "editor").await;
    let before = snapshot(&app, &acme).await;
    let admin = before.iter().find(|user| user.email == acme.email).unwrap().id;

    let mut allowed = Vec::new();
    for member in [&viewer, &editor] {
        // Their own record (a self-promotion), each other's, and the admin's.
        for target in [viewer.user.id, editor.user.id, admin] {
            for route in management_routes(target) {
                let response =
                    request(&app, &route).bearer_auth(member.token()).host(&tenant_host("acme")).send().await.unwrap();

                let (status, body) = (response.status(), response.text().await.unwrap());
                if !(status == StatusCode::FORBIDDEN && body.contains("\"forbidden\"")) {
                    allowed.push(format!("{} on {target}: {} {}: {status} {body}", member.user.role, route.0, route.1));
                }
            }
        }
    }
    assert!(allowed.is_empty(), "expected 403 forbidden on:\n{}", allowed.join("\n"));
    assert_eq!(snapshot(&app, &acme).await, before, "nothing changed");
}

#[tokio::test]
async fn anonymous_callers_get_401_unauthenticated_on_every_user_route() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let viewer = app.users(&acme).create_user("viewer@acme.test", "viewer").await;
    let before = snapshot(&app, &acme).await;

    let mut routes = management_routes(viewer.id);
    routes.push((Method::GET, "/api/users/me".into(), None));
    for route in routes {
        let on_host = request(&app, &route).host(&tenant_host("acme")).send().await.unwrap();
        let by_header = request(&app, &route).tenant_header("acme").send().await.unwrap();

        assert_problem(on_host, StatusCode::UNAUTHORIZED, "unauthenticated").await;
        assert_problem(by_header, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }
    assert_eq!(snapshot(&app, &acme).await, before, "nothing changed");
}

#[tokio::test]
async fn tenant_admins_and_platform_admins_are_allowed_on_every_user_management_route() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let platform = app.platform_token().await;

    for token in [acme.token.clone(), platform] {
        let target = app.users(&acme).create_user("target@acme.test", "viewer").await;
        for route in management_routes(target.id) {
            let response = request(&app, &route).bearer_auth(&token).host(&tenant_host("acme")).send().await.unwrap();

            let status = response.status();
            assert!(status.is_success(), "{} {}: {status} {}", route.0, route.1, response.text().await.unwrap());
        }
        // Clean up the intruder the POST created, so the next caller's POST succeeds too.
        let intruder = snapshot(&app, &acme).await.into_iter().find(|user| user.email == "intruder@acme.test");
        app.users(&acme).delete(intruder.expect("POST created it").id).await;
    }
}

#[tokio::test]
async fn a_viewer_reads_its_tenant_and_itself() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let viewer = app.member(&acme, "viewer").await;

    let tenant = app.get("/api/tenant").bearer_auth(viewer.token()).host(&tenant_host("acme")).send().await.unwrap();
    let me = app.users_as("acme", viewer.token()).me().await;

    assert_eq!(json_body(tenant, StatusCode::OK).await["data"]["id"], acme.tenant.id.to_string());
    assert_eq!(user_from(json_body(me, StatusCode::OK).await), viewer.user);
}

#[tokio::test]
async fn viewers_and_editors_cannot_replace_the_tenant_settings() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let viewer = app.member(&acme, "viewer").await;
    let editor = app.member(&acme, "editor").await;
    let put = |token: &str| {
        app.put("/api/tenant/settings").bearer_auth(token).host(&tenant_host("acme")).json(&json!({"owned": true}))
    };

    for member in [&viewer, &editor] {
        assert_problem(put(member.token()).send().await.unwrap(), StatusCode::FORBIDDEN, "forbidden").await;
    }
    let unchanged = app.get("/api/tenant").bearer_auth(&acme.token).host(&tenant_host("acme")).send().await.unwrap();
    assert_eq!(json_body(unchanged, StatusCode::OK).await["data"]["settings"], json!({}));
    json_body(put(&acme.token).send().await.unwrap(), StatusCode::OK).await;
}

#[tokio::test]
async fn a_token_from_tenant_a_on_tenant_b_is_401_token_tenant_mismatch_on_the_user_routes() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let globex = app.tenant_admin("globex").await;
    let globex_user = app.users(&globex).create_user("viewer@globex.test", "viewer").await;
    let before = snapshot(&app, &globex).await;

    let mut routes = management_routes(globex_user.id);
    routes.push((Method::GET, "/api/users/me".into(), None));
    for route in routes {
        let by_host = request(&app, &route).bearer_auth(&acme.token).host(&tenant_host("globex")).send().await.unwrap();
        let by_slug = request(&app, &route).bearer_auth(&acme.token).tenant_header("globex").send().await.unwrap();
        let by_id = request(&app, &route)
            .bearer_auth(&acme.token)
            .tenant_header(&globex.tenant.id.to_string())
            .send()
            .await
            .unwrap();

        assert_problem(by_host, StatusCode::UNAUTHORIZED, "token_tenant_mismatch").await;
        assert_problem(by_slug, StatusCode::UNAUTHORIZED, "token_tenant_mismatch").await;
        assert_problem(by_id, StatusCode::UNAUTHORIZED, "token_tenant_mismatch").await;
    }
    assert_eq!(snapshot(&app, &globex).await, before, "nothing changed");
}

/// The three ways a caller can name its tenant.
#[derive(Debug, Clone, Copy)]
enum Naming {
    Host,
    Header,
    TokenOnly,
}

/// `request` with `admin`'s token, naming the admin's own tenant the given way.
fn as_admin(request: RequestBuilder, admin: &TenantAdmin, naming: Naming) -> RequestBuilder {
    let request = request.bearer_auth(&admin.token);
    match naming {
        Naming::Host => request.host(&tenant_host(admin.slug())),
        Naming::Header => request.tenant_header(&admin.tenant.id.to_string()),
        Naming::TokenOnly => request,
    }
}

#[tokio::test]
async fn tenant_b_admin_cannot_read_change_or_delete_tenant_a_users_by_any_means() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let acme_viewer = app.users(&acme).create_user("viewer@acme.test", "viewer").await;
    let acme_admin_id = user_from(json_body(app.users(&acme).me().await, StatusCode::OK).await).id;
    let globex = app.tenant_admin("globex").await;
    let globex_own = snapshot(&app, &globex).await;
    let acme_before = snapshot(&app, &acme).await;

    for how in [Naming::Host, Naming::Header, Naming::TokenOnly] {
        let name = |request| as_admin(request, &globex, how);
        for target in [acme_viewer.id, acme_admin_id] {
            let get = name(app.get(&format!("/api/users/{target}"))).send().await.unwrap();
            let patch = name(app.patch(&format!("/api/users/{target}")))
                .json(&json!({"role": "admin", "status": "disabled", "email": "stolen@globex.test"}))
                .send()
                .await
                .unwrap();
            let password = name(app.patch(&format!("/api/users/{target}")))
                .json(&json!({"password": "Taken-Over-Pass-6628"}))
                .send()
                .await
                .unwrap();
            let delete = name(app.delete(&format!("/api/users/{target}"))).send().await.unwrap();

            for (what, response) in [("GET", get), ("PATCH", patch), ("PATCH password", password), ("DELETE", delete)] {
                let (status, body) = (response.status(), response.text().await.unwrap());
                assert!(
                    status == StatusCode::NOT_FOUND && body.contains("\"user_not_found\""),
                    "{what} of acme's {target} {how:?}: expected 404 user_not_found, got {status} {body}"
                );
                assert!(!body.contains("acme.test"), "{what} {how:?} leaked acme's data: {body}");
            }
        }
        let list = json_body(name(app.get("/api/users?meta=total_count")).send().await.unwrap(), StatusCode::OK).await;
        let listed = users_from(&list);
        assert_eq!(ids(&listed), ids(&globex_own), "{how:?}: only globex's own users");
        assert_eq!(list["meta"]["total_count"], globex_own.len(), "{how:?}: {list}");
        assert!(!list.to_string().contains("acme.test"), "{how:?}: {list}");
    }
    assert_eq!(snapshot(&app, &acme).await, acme_before, "acme's users are untouched");
    app.access_token(Some("acme"), "viewer@acme.test", MEMBER_PASSWORD).await;
}

#[tokio::test]
async fn a_user_created_by_tenant_b_lands_in_tenant_b_only() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let globex = app.tenant_admin("globex").await;

    let created = app.users(&globex).create_user("new@globex.test", "viewer").await;

    assert_problem(app.users(&acme).get(created.id).await, StatusCode::NOT_FOUND, "user_not_found").await;
    assert!(snapshot(&app, &acme).await.iter().all(|user| user.id != created.id));
    let on_acme = app.login(Some("acme"), "new@globex.test", MEMBER_PASSWORD).await;
    assert_problem(on_acme, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

#[tokio::test]
async fn a_platform_admin_on_tenant_b_does_not_see_tenant_a_users() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let acme_viewer = app.users(&acme).create_user("viewer@acme.test", "viewer").await;
    let globex = app.tenant_admin("globex").await;
    let platform = app.platform_token().await;

    let on_globex = app.users_as("globex", &platform);
    let listed = on_globex.all().await;
    let fetched = on_globex.get(acme_viewer.id).await;

    assert_eq!(ids(&listed), ids(&snapshot(&app, &globex).await));
    assert_problem(fetched, StatusCode::NOT_FOUND, "user_not_found").await;
}
