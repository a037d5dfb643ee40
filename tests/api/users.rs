//! Tenant users (API.md "Tenant users"): `/api/users…` as the tenant's admin, `/api/users/me`,
//! the last-admin rule, password rules, and what a user JSON may carry.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    PLATFORM_ADMIN_EMAIL, PLATFORM_ADMIN_PASSWORD, TENANT_ADMIN_PASSWORD, TestApp, assert_field_error, assert_problem,
    json_body, spawn_app,
    tokens::decode_claims,
    users::{MEMBER_PASSWORD, USER_MEMBERS, ids, user_from, users_from},
};

#[tokio::test]
async fn an_admin_creates_a_user_who_logs_in_on_the_tenant() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;

    let response = app
        .users(&acme)
        .create(&json!({"email": "ed@acme.test", "password": MEMBER_PASSWORD, "role": "editor", "name": "Ed Itor"}))
        .await;

    let body = json_body(response, StatusCode::CREATED).await;
    let mut members: Vec<&str> = body["data"].as_object().unwrap().keys().map(String::as_str).collect();
    members.sort();
    assert_eq!(members, USER_MEMBERS, "a user JSON has exactly API.md's members: {body}");
    let user = user_from(body);
    assert_eq!(
        (user.email.as_str(), user.name.as_deref(), user.role.as_str(), user.status.as_str()),
        ("ed@acme.test", Some("Ed Itor"), "editor", "active")
    );
    assert!(matches!(user.id.get_version_num(), 4 | 7), "a random UUID: {}", user.id);
    assert!(user.updated_at >= user.created_at);
    let token = app.access_token(Some("acme"), "ed@acme.test", MEMBER_PASSWORD).await;
    let claims = decode_claims(&token);
    assert_eq!(claims["sub"], user.id.to_string());
    assert_eq!(claims["tid"], acme.tenant.id.to_string());
    assert_eq!(claims["role"], "editor");
}

#[tokio::test]
async fn a_user_created_without_a_name_has_a_null_name() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;

    let user = app.users(&acme).create_user("viewer@acme.test", "viewer").await;

    assert_eq!(user.name, None);
}

#[tokio::test]
async fn a_created_user_is_fetched_by_id_and_listed() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let created = app.users(&acme).create_user("viewer@acme.test", "viewer").await;

    let fetched = user_from(json_body(app.users(&acme).get(created.id).await, StatusCode::OK).await);
    let listed = app.users(&acme).all().await;

    assert_eq!(fetched, created, "what was returned is what was stored");
    let emails: Vec<&str> = listed.iter().map(|user| user.email.as_str()).collect();
    assert_eq!(emails, ["admin@acme.test", "viewer@acme.test"]);
    assert_eq!(listed.iter().find(|user| user.id == created.id), Some(&created));
    let admin = listed.iter().find(|user| user.email == "admin@acme.test").unwrap();
    assert_eq!((admin.role.as_str(), admin.status.as_str()), ("admin", "active"), "the tenant's first admin");
}

#[tokio::test]
async fn every_role_is_accepted() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;

    for role in ["admin", "editor", "viewer"] {
        let user = app.users(&acme).create_user(&format!("new-{role}@acme.test"), role).await;

        assert_eq!(user.role, role);
    }
}

#[tokio::test]
async fn an_unknown_role_is_422_and_creates_nothing() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;

    for role in ["owner", "platform_admin", "ADMIN", ""] {
        let body = json!({"email": "x@acme.test", "password": MEMBER_PASSWORD, "role": role});

        let response = app.users(&acme).create(&body).await;

        assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }
    assert_eq!(app.users(&acme).all().await.len(), 1, "only the admin");
}

#[tokio::test]
async fn an_unknown_role_in_a_patch_is_422_and_changes_nothing() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let viewer = app.users(&acme).create_user("viewer@acme.test", "viewer").await;

    let response = app.users(&acme).patch(viewer.id, &json!({"role": "platform_admin"})).await;

    assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let after = user_from(json_body(app.users(&acme).get(viewer.id).await, StatusCode::OK).await);
    assert_eq!(after, viewer);
}

#[tokio::test]
async fn a_missing_email_password_or_role_is_422() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let full = json!({"email": "x@acme.test", "password": MEMBER_PASSWORD, "role": "viewer"});

    for missing in ["email", "password", "role"] {
        let mut body = full.clone();
        body.as_object_mut().unwrap().remove(missing);

        assert_field_error(app.users(&acme).create(&body).await, missing, None).await;
    }
    assert_eq!(app.users(&acme).all().await.len(), 1, "only the admin");
}

#[tokio::test]
async fn a_duplicate_email_in_the_same_tenant_is_409_user_exists() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let original = app.users(&acme).create_user("viewer@acme.test", "viewer").await;

    let again = json!({"email": "viewer@acme.test", "password": "Another-Pass-1120", "role": "admin"});
    let response = app.users(&acme).create(&again).await;

    assert_problem(response, StatusCode::CONFLICT, "user_exists").await;
    let after = user_from(json_body(app.users(&acme).get(original.id).await, StatusCode::OK).await);
    assert_eq!(after, original);
    app.access_token(Some("acme"), "viewer@acme.test", MEMBER_PASSWORD).await;
    let with_new_password = app.login(Some("acme"), "viewer@acme.test", "Another-Pass-1120").await;
    assert_problem(with_new_password, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

#[tokio::test]
async fn changing_an_email_to_one_already_taken_is_409_user_exists() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let viewer = app.users(&acme).create_user("viewer@acme.test", "viewer").await;

    let response = app.users(&acme).patch(viewer.id, &json!({"email": "admin@acme.test"})).await;

    assert_problem(response, StatusCode::CONFLICT, "user_exists").await;
    let after = user_from(json_body(app.users(&acme).get(viewer.id).await, StatusCode::OK).await);
    assert_eq!(after.email, "viewer@acme.test");
}

#[tokio::test]
async fn the_same_email_in_two_tenants_is_two_users_each_logging_in_only_on_its_own_tenant() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let globex = app.tenant_admin("globex").await;
    let email = "pat@shared.test";

    let in_acme = json!({"email": email, "password": "Acme-Side-Pass-7710", "role": "viewer"});
    let in_globex = json!({"email": email, "password": "Globex-Side-Pass-8821", "role": "editor"});
    let acme_user = user_from(json_body(app.users(&acme).create(&in_acme).await, StatusCode::CREATED).await);
    let globex_user = user_from(json_body(app.users(&globex).create(&in_globex).await, StatusCode::CREATED).await);

    assert_ne!(acme_user.id, globex_user.id);
    let on_acme = decode_claims(&app.access_token(Some("acme"), email, "Acme-Side-Pass-7710").await);
    let on_globex = decode_claims(&app.access_token(Some("globex"), email, "Globex-Side-Pass-8821").await);
    assert_eq!((&on_acme["sub"], &on_acme["tid"]), (&json!(acme_user.id), &json!(acme.tenant.id)));
    assert_eq!((&on_globex["sub"], &on_globex["tid"]), (&json!(globex_user.id), &json!(globex.tenant.id)));
    assert_eq!((&on_acme["role"], &on_globex["role"]), (&json!("viewer"), &json!("editor")));
    for (tenant, password) in [("acme", "Globex-Side-Pass-8821"), ("globex", "Acme-Side-Pass-7710")] {
        let crossed = app.login(Some(tenant), email, password).await;
        assert_problem(crossed, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
    let no_tenant = app.login(None, email, "Acme-Side-Pass-7710").await;
    assert_problem(no_tenant, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

#[tokio::test]
async fn patch_changes_email_name_role_and_status_and_leaves_the_rest() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let viewer = app.users(&acme).create_user("viewer@acme.test", "viewer").await;

    let renamed = app.users(&acme).patched(viewer.id, &json!({"name": "Vera Viewer"})).await;
    let changed = app
        .users(&acme)
        .patched(viewer.id, &json!({"email": "vera@acme.test", "role": "editor", "status": "disabled"}))
        .await;

    assert_eq!(renamed.name.as_deref(), Some("Vera Viewer"));
    assert_eq!((renamed.email.as_str(), renamed.role.as_str()), ("viewer@acme.test", "viewer"));
    assert_eq!(
        (changed.email.as_str(), changed.name.as_deref(), changed.role.as_str(), changed.status.as_str()),
        ("vera@acme.test", Some("Vera Viewer"), "editor", "disabled")
    );
    assert_eq!((changed.id, changed.created_at), (viewer.id, viewer.created_at));
    assert!(changed.updated_at > viewer.updated_at, "updated_at moves on a change");
    let fetched = user_from(json_body(app.users(&acme).get(viewer.id).await, StatusCode::OK).await);
    assert_eq!(fetched, changed);
}

#[tokio::test]
async fn a_user_logs_in_with_the_email_it_was_changed_to() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let viewer = app.users(&acme).create_user("viewer@acme.test", "viewer").await;

    app.users(&acme).patched(viewer.id, &json!({"email": "vera@acme.test"})).await;

    app.access_token(Some("acme"), "vera@acme.test", MEMBER_PASSWORD).await;
    let old_email = app.login(Some("acme"), "viewer@acme.test", MEMBER_PASSWORD).await;
    assert_problem(old_email, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

#[tokio::test]
async fn an_unknown_status_is_422() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let viewer = app.users(&acme).create_user("viewer@acme.test", "viewer").await;

    for status in ["deleted", "suspended", "ACTIVE"] {
        let response = app.users(&acme).patch(viewer.id, &json!({"status": status})).await;

        assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }
    let after = user_from(json_body(app.users(&acme).get(viewer.id).await, StatusCode::OK).await);
    assert_eq!(after.status, "active");
}

#[tokio::test]
async fn unknown_fields_are_422_on_create_and_on_patch_and_change_nothing() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let globex = app.create_tenant("globex").await;
    let viewer = app.users(&acme).create_user("viewer@acme.test", "viewer").await;
    let base = json!({"email": "new@acme.test", "password": MEMBER_PASSWORD, "role": "viewer"});
    let extras = [
        ("tenant_id", json!(globex.id)),
        ("id", json!(Uuid::new_v4())),
        ("password_hash", json!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA")),
        ("created_at", json!("2000-01-01T00:00:00Z")),
    ];

    for (field, value) in &extras {
        let mut create = base.clone();
        create[field] = value.clone();

        assert_field_error(app.users(&acme).create(&create).await, field, None).await;
        assert_field_error(app.users(&acme).patch(viewer.id, &json!({ *field: value })).await, field, None).await;
    }
    let users = app.users(&acme).all().await;
    assert_eq!(
        users.iter().map(|user| user.email.as_str()).collect::<Vec<_>>(),
        ["admin@acme.test", "viewer@acme.test"]
    );
    assert_eq!(users.iter().find(|user| user.id == viewer.id), Some(&viewer));
}

#[tokio::test]
async fn an_unknown_user_id_is_404_user_not_found() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let unknown = Uuid::new_v4();

    let get = app.users(&acme).get(unknown).await;
    let patch = app.users(&acme).patch(unknown, &json!({"name": "Ghost"})).await;
    let delete = app.users(&acme).delete(unknown).await;

    assert_problem(get, StatusCode::NOT_FOUND, "user_not_found").await;
    assert_problem(patch, StatusCode::NOT_FOUND, "user_not_found").await;
    assert_problem(delete, StatusCode::NOT_FOUND, "user_not_found").await;
}

#[tokio::test]
async fn deleting_a_user_is_204_and_they_are_gone() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let viewer = app.users(&acme).create_user("viewer@acme.test", "viewer").await;

    let response = app.users(&acme).delete(viewer.id).await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT, "{}", response.text().await.unwrap());
    assert_problem(app.users(&acme).get(viewer.id).await, StatusCode::NOT_FOUND, "user_not_found").await;
    assert_problem(app.users(&acme).delete(viewer.id).await, StatusCode::NOT_FOUND, "user_not_found").await;
    assert_eq!(app.users(&acme).all().await.len(), 1);
    let login = app.login(Some("acme"), "viewer@acme.test", MEMBER_PASSWORD).await;
    assert_problem(login, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    // The email is free again.
    app.users(&acme).create_user("viewer@acme.test", "editor").await;
}

/// `GET /api/users{query}` as the admin, expecting 200.
async fn page(app: &TestApp, admin: &crate::helpers::TenantAdmin, query: &str) -> Value {
    json_body(app.users(admin).list(query).await, StatusCode::OK).await
}

#[tokio::test]
async fn listing_pages_with_limit_and_offset_and_counts_with_meta_total_count() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    for name in ["a", "b", "c"] {
        app.users(&acme).create_user(&format!("{name}@acme.test"), "viewer").await;
    }

    let mut seen = Vec::new();
    for offset in 0..4 {
        let users = users_from(&page(&app, &acme, &format!("?limit=1&offset={offset}")).await);
        assert_eq!(users.len(), 1, "offset {offset}");
        seen.extend(users);
    }
    let past_the_end = users_from(&page(&app, &acme, "?limit=1&offset=4").await);
    let counted = page(&app, &acme, "?meta=total_count&limit=2").await;

    assert_eq!(ids(&seen), ids(&app.users(&acme).all().await), "pages are disjoint and cover everything");
    assert!(past_the_end.is_empty());
    assert_eq!(users_from(&counted).len(), 2);
    assert_eq!(counted["meta"]["total_count"], 4, "{counted}");
}

#[tokio::test]
async fn a_limit_above_1000_or_a_negative_limit_or_offset_is_400_invalid_query() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;

    for query in ["?limit=1001", "?limit=-1", "?offset=-1", "?limit=many"] {
        assert_problem(app.users(&acme).list(query).await, StatusCode::BAD_REQUEST, "invalid_query").await;
    }
    for query in ["?limit=1000", "?limit=0", "?offset=0"] {
        json_body(app.users(&acme).list(query).await, StatusCode::OK).await;
    }
}

#[tokio::test]
async fn me_is_the_calling_tenant_user() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let viewer = app.member(&acme, "viewer").await;

    let on_host = user_from(json_body(app.users_as("acme", viewer.token()).me().await, StatusCode::OK).await);
    let by_token = user_from(json_body(app.users_by_token(viewer.token()).me().await, StatusCode::OK).await);
    let admin = user_from(json_body(app.users(&acme).me().await, StatusCode::OK).await);

    assert_eq!(on_host, viewer.user);
    assert_eq!(by_token, viewer.user);
    assert_eq!((admin.email.as_str(), admin.role.as_str()), ("admin@acme.test", "admin"));
}

#[tokio::test]
async fn me_is_the_platform_admin_with_the_platform_admin_role() {
    let app = spawn_app().await;
    let token = app.platform_token().await;

    let response = app.get("/api/users/me").bearer_auth(&token).send().await.unwrap();

    let body = json_body(response, StatusCode::OK).await;
    assert_eq!(body["data"]["email"], PLATFORM_ADMIN_EMAIL, "{body}");
    assert_eq!(body["data"]["role"], "platform_admin", "{body}");
    assert_eq!(body["data"]["id"], decode_claims(&token)["sub"], "{body}");
    let text = body.to_string();
    assert!(!text.contains("$argon2") && !text.contains("password"), "{body}");
}

#[tokio::test]
async fn me_without_a_token_is_401_unauthenticated() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;

    let on_tenant = app.users_anonymous("acme").me().await;
    let no_tenant = app.get("/api/users/me").send().await.unwrap();

    assert_problem(on_tenant, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    assert_problem(no_tenant, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

#[tokio::test]
async fn a_platform_admin_manages_a_tenants_users_as_its_admin() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let platform = app.platform_token().await;
    let as_platform = app.users_as("acme", &platform);

    let created = user_from(
        json_body(
            as_platform.create(&json!({"email": "ed@acme.test", "password": MEMBER_PASSWORD, "role": "editor"})).await,
            StatusCode::CREATED,
        )
        .await,
    );
    let listed = users_from(&json_body(as_platform.list("").await, StatusCode::OK).await);
    let patched = as_platform.patched(created.id, &json!({"role": "viewer"})).await;
    let deleted = as_platform.delete(created.id).await;

    assert_eq!(listed.len(), 2);
    assert!(listed.iter().any(|user| user.id == created.id));
    assert_eq!(patched.role, "viewer");
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_problem(app.users(&acme).get(created.id).await, StatusCode::NOT_FOUND, "user_not_found").await;
}

// The last-admin rule.

#[tokio::test]
async fn the_last_active_admin_cannot_be_deleted_disabled_or_demoted() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    app.users(&acme).create_user("editor@acme.test", "editor").await;
    let admin_id = own_id(&app, &acme).await;

    let delete = app.users(&acme).delete(admin_id).await;
    let disable = app.users(&acme).patch(admin_id, &json!({"status": "disabled"})).await;
    let demote = app.users(&acme).patch(admin_id, &json!({"role": "editor"})).await;

    assert_problem(delete, StatusCode::CONFLICT, "last_admin").await;
    assert_problem(disable, StatusCode::CONFLICT, "last_admin").await;
    assert_problem(demote, StatusCode::CONFLICT, "last_admin").await;
    let me = user_from(json_body(app.users(&acme).me().await, StatusCode::OK).await);
    assert_eq!((me.role.as_str(), me.status.as_str()), ("admin", "active"));
}

#[tokio::test]
async fn the_last_admin_rule_holds_for_a_platform_admin_too() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let admin_id = own_id(&app, &acme).await;
    let as_platform = app.users_as("acme", &app.platform_token().await);

    assert_problem(as_platform.delete(admin_id).await, StatusCode::CONFLICT, "last_admin").await;
    let demote = as_platform.patch(admin_id, &json!({"role": "viewer"})).await;
    assert_problem(demote, StatusCode::CONFLICT, "last_admin").await;
}

#[tokio::test]
async fn with_a_second_active_admin_the_first_can_be_demoted_and_then_the_second_is_the_last() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let first = own_id(&app, &acme).await;
    let second = app.users(&acme).create_user("second@acme.test", "admin").await;

    let demoted = app.users(&acme).patched(first, &json!({"role": "editor"})).await;

    assert_eq!(demoted.role, "editor");
    let second_token = app.access_token(Some("acme"), "second@acme.test", MEMBER_PASSWORD).await;
    let as_second = app.users_as("acme", &second_token);
    assert_problem(as_second.delete(second.id).await, StatusCode::CONFLICT, "last_admin").await;
    let disable = as_second.patch(second.id, &json!({"status": "disabled"})).await;
    assert_problem(disable, StatusCode::CONFLICT, "last_admin").await;
    // Deleting a non-admin is fine.
    assert_eq!(as_second.delete(first).await.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_disabled_admin_does_not_count_towards_the_last_admin_rule() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let first = own_id(&app, &acme).await;
    let second = app.users(&acme).create_user("second@acme.test", "admin").await;
    app.users(&acme).patched(second.id, &json!({"status": "disabled"})).await;

    let delete_first = app.users(&acme).delete(first).await;
    let demote_first = app.users(&acme).patch(first, &json!({"role": "viewer"})).await;

    assert_problem(delete_first, StatusCode::CONFLICT, "last_admin").await;
    assert_problem(demote_first, StatusCode::CONFLICT, "last_admin").await;
    // The disabled admin itself can go: it is not an active admin.
    assert_eq!(app.users(&acme).delete(second.id).await.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn an_admin_may_delete_itself_while_another_active_admin_remains() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let first = own_id(&app, &acme).await;
    let second = app.users(&acme).create_user("second@acme.test", "admin").await;

    let response = app.users(&acme).delete(first).await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT, "{}", response.text().await.unwrap());
    let platform = app.platform_token().await;
    let remaining = app.users_as("acme", &platform).all().await;
    assert_eq!(ids(&remaining), [second.id]);
}

/// The id of the admin behind `admin.token`, from `/api/users/me`.
async fn own_id(app: &TestApp, admin: &crate::helpers::TenantAdmin) -> Uuid {
    user_from(json_body(app.users(admin).me().await, StatusCode::OK).await).id
}

// Passwords (SECURITY.md items 14 and 15).

#[tokio::test]
async fn passwords_under_8_characters_are_422_too_short() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let viewer = app.users(&acme).create_user("viewer@acme.test", "viewer").await;

    // Seven characters, even when they take more than eight bytes.
    for password in ["", "a", "Xk7#pQ2", "ünïcöd€"] {
        let create = json!({"email": "new@acme.test", "password": password, "role": "viewer"});

        assert_field_error(app.users(&acme).create(&create).await, "password", Some("too_short")).await;
        let patch = app.users(&acme).patch(viewer.id, &json!({"password": password})).await;
        assert_field_error(patch, "password", Some("too_short")).await;
    }
    assert_eq!(app.users(&acme).all().await.len(), 2);
    app.access_token(Some("acme"), "viewer@acme.test", MEMBER_PASSWORD).await;
}

#[tokio::test]
async fn passwords_over_1024_bytes_are_422_too_long() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let viewer = app.users(&acme).create_user("viewer@acme.test", "viewer").await;

    // 1025 bytes in 513 characters: the limit is on bytes.
    let multibyte = format!("{}a", "é".repeat(512));
    assert_eq!(multibyte.len(), 1025);
    for password in ["x".repeat(1025), multibyte, "y".repeat(100_000)] {
        let create = json!({"email": "new@acme.test", "password": password, "role": "viewer"});

        assert_field_error(app.users(&acme).create(&create).await, "password", Some("too_long")).await;
        let patch = app.users(&acme).patch(viewer.id, &json!({"password": password})).await;
        assert_field_error(patch, "password", Some("too_long")).await;
    }
    assert_eq!(app.users(&acme).all().await.len(), 2);
}

#[tokio::test]
async fn very_common_passwords_are_422_too_common() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let viewer = app.users(&acme).create_user("viewer@acme.test", "viewer").await;

    for password in ["password123", "12345678", "qwerty123", "iloveyou"] {
        let create = json!({"email": "new@acme.test", "password": password, "role": "viewer"});

        assert_field_error(app.users(&acme).create(&create).await, "password", Some("too_common")).await;
        let patch = app.users(&acme).patch(viewer.id, &json!({"password": password})).await;
        assert_field_error(patch, "password", Some("too_common")).await;
    }
    assert_eq!(app.users(&acme).all().await.len(), 2);
}

#[tokio::test]
async fn long_non_ascii_and_exactly_1024_byte_passwords_are_accepted_and_log_in() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let sixty_four = "correct horse battery staple, and then some more words to reach!".to_string();
    assert_eq!(sixty_four.len(), 64);
    let passwords = [
        ("long@acme.test", sixty_four),
        ("unicode@acme.test", "ünïcödé-pässwörd-密码-🔑".to_string()),
        ("eight@acme.test", "ünïcödé!".to_string()),
        ("max@acme.test", "z".repeat(1024)),
    ];

    for (email, password) in &passwords {
        let create = json!({"email": email, "password": password, "role": "viewer"});
        json_body(app.users(&acme).create(&create).await, StatusCode::CREATED).await;

        app.access_token(Some("acme"), email, password).await;
    }
    // No truncation: a prefix of the long password is not the password.
    let prefix = app.login(Some("acme"), "max@acme.test", &"z".repeat(1023)).await;
    assert_problem(prefix, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

#[tokio::test]
async fn stored_password_hashes_are_argon2id_with_owasp_parameters() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let viewer = app.users(&acme).create_user("viewer@acme.test", "viewer").await;
    app.users(&acme).patched(viewer.id, &json!({"password": "A-Brand-New-Pass-3382"})).await;

    let hashes = app
        .database
        .as_ref()
        .unwrap()
        .query_json("SELECT json_build_object('email', email, 'hash', password_hash)::text FROM users ORDER BY email")
        .await;

    assert_eq!(hashes.len(), 2, "{hashes:?}");
    for row in &hashes {
        let hash = row["hash"].as_str().unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{}: {hash}", row["email"]);
        assert!(!hash.contains(MEMBER_PASSWORD) && !hash.contains(TENANT_ADMIN_PASSWORD));
    }
    assert_ne!(hashes[0]["hash"], hashes[1]["hash"]);
}

/// The body of `response`, after asserting its status.
async fn checked(response: reqwest::Response, expected: StatusCode) -> String {
    let (url, status) = (response.url().clone(), response.status());
    let body = response.text().await.unwrap();
    assert_eq!(status, expected, "{url}: {body}");
    body
}

#[tokio::test]
async fn no_users_or_auth_response_contains_a_password_or_its_hash() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let platform = app.platform_token().await;
    let admin_id = own_id(&app, &acme).await;
    let new_password = "A-Brand-New-Pass-3382";
    let users = app.users(&acme);
    let as_platform = app.users_as("acme", &platform);
    let mut bodies: Vec<(&str, String)> = Vec::new();

    let ed = json!({"email": "ed@acme.test", "password": MEMBER_PASSWORD, "role": "editor"});
    let created = checked(users.create(&ed).await, StatusCode::CREATED).await;
    let ed_id =
        Uuid::parse_str(serde_json::from_str::<Value>(&created).unwrap()["data"]["id"].as_str().unwrap()).unwrap();
    bodies.push(("POST /api/users", created));
    bodies.push(("POST /api/users (409)", checked(users.create(&ed).await, StatusCode::CONFLICT).await));
    let too_common = json!({"email": "x@acme.test", "password": "password123", "role": "editor"});
    let rejected = checked(users.create(&too_common).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    bodies.push(("POST /api/users (422)", rejected));
    bodies.push(("GET /api/users", checked(users.list("").await, StatusCode::OK).await));
    bodies.push(("GET /api/users?meta", checked(users.list("?meta=total_count").await, StatusCode::OK).await));
    bodies.push(("GET /api/users/{id}", checked(users.get(ed_id).await, StatusCode::OK).await));
    bodies.push(("GET /api/users/me", checked(users.me().await, StatusCode::OK).await));
    let platform_me = app.get("/api/users/me").bearer_auth(&platform).send().await.unwrap();
    bodies.push(("GET /api/users/me (platform)", checked(platform_me, StatusCode::OK).await));
    bodies.push(("GET /api/users (platform)", checked(as_platform.list("").await, StatusCode::OK).await));
    let patch = users.patch(ed_id, &json!({"password": new_password, "name": "Ed"})).await;
    bodies.push(("PATCH /api/users/{id}", checked(patch, StatusCode::OK).await));
    let demote = users.patch(admin_id, &json!({"role": "viewer"})).await;
    bodies.push(("PATCH (last admin)", checked(demote, StatusCode::CONFLICT).await));
    bodies.push(("DELETE (last admin)", checked(users.delete(admin_id).await, StatusCode::CONFLICT).await));
    let login = checked(app.login(Some("acme"), "ed@acme.test", new_password).await, StatusCode::OK).await;
    let refresh_token =
        serde_json::from_str::<Value>(&login).unwrap()["data"]["refresh_token"].as_str().unwrap().to_string();
    bodies.push(("POST /api/auth/login", login));
    let refused = app.login(Some("acme"), "ed@acme.test", MEMBER_PASSWORD).await;
    bodies.push(("POST /api/auth/login (401)", checked(refused, StatusCode::UNAUTHORIZED).await));
    let refreshed = app.refresh(Some("acme"), &refresh_token).await;
    bodies.push(("POST /api/auth/refresh", checked(refreshed, StatusCode::OK).await));
    let reused = app.refresh(Some("acme"), &refresh_token).await;
    bodies.push(("POST /api/auth/refresh (reused)", checked(reused, StatusCode::UNAUTHORIZED).await));
    let logout = app.logout(Some("acme"), &refresh_token).await;
    bodies.push(("POST /api/auth/logout", checked(logout, StatusCode::NO_CONTENT).await));
    bodies.push(("DELETE /api/users/{id}", checked(users.delete(ed_id).await, StatusCode::NO_CONTENT).await));

    for (what, body) in &bodies {
        for secret in
            ["$argon2", "password_hash", MEMBER_PASSWORD, new_password, TENANT_ADMIN_PASSWORD, PLATFORM_ADMIN_PASSWORD]
        {
            assert!(!body.contains(secret), "{what} leaks `{secret}`: {body}");
        }
    }
}

/// Tenant users' JSON, as `GET /api/users/{id}` returns it, carries exactly API.md's members.
#[tokio::test]
async fn fetched_and_listed_users_carry_exactly_the_documented_members() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let viewer = app.users(&acme).create_user("viewer@acme.test", "viewer").await;

    let fetched = json_body(app.users(&acme).get(viewer.id).await, StatusCode::OK).await;
    let listed = json_body(app.users(&acme).list("").await, StatusCode::OK).await;

    let mut objects = vec![fetched["data"].clone()];
    objects.extend(listed["data"].as_array().unwrap().iter().cloned());
    for object in objects {
        let mut members: Vec<&str> = object.as_object().unwrap().keys().map(String::as_str).collect();
        members.sort();
        assert_eq!(members, USER_MEMBERS, "{object}");
    }
}

#[tokio::test]
async fn a_tenant_user_cannot_log_in_as_a_platform_admin_nor_a_platform_admin_as_a_tenant_user() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    app.users(&acme).create_user(PLATFORM_ADMIN_EMAIL, "admin").await;

    // The same email on the tenant is a different account, with a different password.
    let tenant_side = app.login(Some("acme"), PLATFORM_ADMIN_EMAIL, PLATFORM_ADMIN_PASSWORD).await;
    let platform_side = app.login(None, PLATFORM_ADMIN_EMAIL, MEMBER_PASSWORD).await;

    assert_problem(tenant_side, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    assert_problem(platform_side, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let tenant_token = app.access_token(Some("acme"), PLATFORM_ADMIN_EMAIL, MEMBER_PASSWORD).await;
    assert_eq!(decode_claims(&tenant_token)["role"], "admin");
    let platform_route = app.request(Method::GET, "/api/tenants").bearer_auth(&tenant_token).send().await.unwrap();
    assert_problem(platform_route, StatusCode::FORBIDDEN, "forbidden").await;
}
