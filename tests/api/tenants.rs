//! Platform tenant management: `/api/tenants...` as the platform admin.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    RequestExt, TENANT_ADMIN_PASSWORD, Tenant, TestApp, assert_field_error, assert_problem, eventually,
    items::articles_collection, json_body, spawn_app, tenant_from,
};

async fn post_tenant(app: &TestApp, body: Value) -> reqwest::Response {
    app.as_platform(Method::POST, "/api/tenants").await.json(&body).send().await.unwrap()
}

async fn list(app: &TestApp, query: &str) -> reqwest::Response {
    app.as_platform(Method::GET, &format!("/api/tenants{query}")).await.send().await.unwrap()
}

fn slugs(body: &Value) -> Vec<String> {
    let mut slugs: Vec<String> = body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("data is not a list: {body}"))
        .iter()
        .map(|tenant| tenant["slug"].as_str().unwrap().to_string())
        .collect();
    slugs.sort();
    slugs
}

async fn usage(app: &TestApp, tenant: &Tenant) -> Value {
    let path = format!("/api/tenants/{}/usage", tenant.id);
    json_body(app.as_platform(Method::GET, &path).await.send().await.unwrap(), StatusCode::OK).await
}

#[tokio::test]
async fn creating_a_tenant_is_201_with_every_field() {
    let app = spawn_app().await;

    let response = post_tenant(
        &app,
        json!({
            "slug": "acme",
            "name": "Acme Corp",
            "plan": "pro",
            "domains": ["acme.example", "www.acme.example"],
            "settings": {"theme": "dark", "limits": {"seats": 5}},
        }),
    )
    .await;

    let tenant = tenant_from(json_body(response, StatusCode::CREATED).await);
    assert_eq!(tenant.slug, "acme");
    assert_eq!(tenant.name, "Acme Corp");
    assert_eq!(tenant.plan, "pro");
    assert_eq!(tenant.status, "active");
    assert_eq!(tenant.domains, ["acme.example", "www.acme.example"]);
    assert_eq!(tenant.settings, json!({"theme": "dark", "limits": {"seats": 5}}));
    assert!(tenant.updated_at >= tenant.created_at);
    assert_ne!(tenant.id, Uuid::nil());
    let fetched = tenant_from(json_body(app.fetch_tenant(&tenant.id.to_string()).await, StatusCode::OK).await);
    assert_eq!(fetched, tenant, "what was returned is what was stored");
}

#[tokio::test]
async fn a_tenant_created_with_only_slug_and_name_is_free_with_no_domains_or_settings() {
    let app = spawn_app().await;

    let tenant = app.create_tenant_from(json!({"slug": "acme", "name": "Acme"})).await;

    assert_eq!(tenant.plan, "free");
    assert_eq!(tenant.status, "active");
    assert!(tenant.domains.is_empty());
    assert_eq!(tenant.settings, json!({}));
}

#[tokio::test]
async fn tenant_ids_are_random_uuids() {
    let app = spawn_app().await;

    let first = app.create_tenant("acme").await;
    let second = app.create_tenant("globex").await;

    assert_ne!(first.id, second.id);
    assert!(matches!(first.id.get_version_num(), 4 | 7), "a v4 or v7 UUID: {}", first.id);
}

#[tokio::test]
async fn a_duplicate_slug_is_409_tenant_exists() {
    let app = spawn_app().await;
    let original = app.create_tenant("acme").await;

    let response = post_tenant(&app, json!({"slug": "acme", "name": "Another Acme"})).await;

    assert_problem(response, StatusCode::CONFLICT, "tenant_exists").await;
    let unchanged = tenant_from(json_body(app.fetch_tenant("acme").await, StatusCode::OK).await);
    assert_eq!(unchanged, original);
}

#[tokio::test]
async fn a_duplicate_domain_is_409_domain_taken() {
    let app = spawn_app().await;
    app.create_tenant_from(json!({"slug": "acme", "name": "Acme", "domains": ["shared.example"]})).await;
    let globex = app.create_tenant("globex").await;

    let on_create =
        post_tenant(&app, json!({"slug": "initech", "name": "Initech", "domains": ["shared.example"]})).await;
    let on_patch = app
        .as_platform(Method::PATCH, &format!("/api/tenants/{}", globex.id))
        .await
        .json(&json!({"domains": ["shared.example"]}))
        .send()
        .await
        .unwrap();

    assert_problem(on_create, StatusCode::CONFLICT, "domain_taken").await;
    assert_problem(on_patch, StatusCode::CONFLICT, "domain_taken").await;
    assert_problem(app.fetch_tenant("initech").await, StatusCode::NOT_FOUND, "tenant_not_found").await;
}

#[tokio::test]
async fn a_domain_differing_only_in_case_is_not_registered_twice() {
    let app = spawn_app().await;
    app.create_tenant_from(json!({"slug": "acme", "name": "Acme", "domains": ["shared.example"]})).await;

    let response =
        post_tenant(&app, json!({"slug": "initech", "name": "Initech", "domains": ["SHARED.example"]})).await;

    let status = response.status();
    assert!(status == StatusCode::CONFLICT || status == StatusCode::UNPROCESSABLE_ENTITY, "got {status}");
    let host = app.own_tenant_as_platform().await.host("shared.example").send().await.unwrap();
    assert_eq!(json_body(host, StatusCode::OK).await["data"]["slug"], "acme");
}

#[tokio::test]
async fn a_tenant_subdomain_keeps_resolving_to_its_tenant_whatever_domains_others_claim() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;

    // Claiming acme's own subdomain as a custom domain must not hijack acme's host.
    let claim = post_tenant(&app, json!({"slug": "evil", "name": "Evil", "domains": ["acme.localhost"]})).await;

    assert!(!claim.status().is_server_error(), "{}", claim.status());
    let host = app.own_tenant_as_platform().await.host("acme.localhost").send().await.unwrap();
    assert_eq!(json_body(host, StatusCode::OK).await["data"]["slug"], "acme");
}

#[tokio::test]
async fn malformed_slugs_are_422_with_an_error_on_slug() {
    let app = spawn_app().await;
    let too_long = "a".repeat(64);

    for slug in ["", "-acme", "acme-", "Acme", "ac_me", "ac.me", "ac me", "äcme", too_long.as_str()] {
        let response = post_tenant(&app, json!({"slug": slug, "name": "Anything"})).await;

        assert_field_error(response, "slug", None).await;
    }
    let listed = json_body(list(&app, "").await, StatusCode::OK).await;
    assert_eq!(slugs(&listed), Vec::<String>::new(), "nothing was created");
}

#[tokio::test]
async fn a_non_string_slug_is_a_client_error() {
    let app = spawn_app().await;

    for slug in [json!(42), json!(null), json!(["acme"])] {
        let response = post_tenant(&app, json!({"slug": slug, "name": "Anything"})).await;

        assert!(response.status().is_client_error(), "slug {slug}: {}", response.status());
    }
}

#[tokio::test]
async fn reserved_slugs_are_422_reserved() {
    let app = spawn_app().await;

    for slug in ["www", "api", "admin", "app", "static", "assets", "mail", "platform"] {
        let response = post_tenant(&app, json!({"slug": slug, "name": "Anything"})).await;

        assert_field_error(response, "slug", Some("reserved")).await;
    }
}

#[tokio::test]
async fn slugs_of_one_and_of_sixty_three_characters_are_accepted() {
    let app = spawn_app().await;
    let longest = format!("a{}z", "0-".repeat(30) + "9");

    assert_eq!(longest.len(), 63);
    for slug in ["a", "7", "a-b", longest.as_str()] {
        let tenant = app.create_tenant(slug).await;

        assert_eq!(tenant.slug, slug);
    }
}

#[tokio::test]
async fn a_missing_name_is_422_with_an_error_on_name() {
    let app = spawn_app().await;

    let response = post_tenant(&app, json!({"slug": "acme"})).await;

    assert_field_error(response, "name", None).await;
}

#[tokio::test]
async fn an_unknown_plan_is_422_with_an_error_on_plan() {
    let app = spawn_app().await;

    let response = post_tenant(&app, json!({"slug": "acme", "name": "Acme", "plan": "platinum"})).await;

    assert_field_error(response, "plan", None).await;
}

#[tokio::test]
async fn malformed_domains_are_422_with_an_error_on_domains() {
    let app = spawn_app().await;

    for domain in ["not a domain", "http://acme.example", "acme.example/path", "", "acme..example", "-acme.example"] {
        let response = post_tenant(&app, json!({"slug": "acme", "name": "Acme", "domains": [domain]})).await;

        assert_field_error(response, "domains", None).await;
    }
}

#[tokio::test]
async fn every_plan_is_accepted() {
    let app = spawn_app().await;

    for plan in ["free", "pro", "enterprise"] {
        let tenant = app.create_tenant_from(json!({"slug": format!("on-{plan}"), "name": plan, "plan": plan})).await;

        assert_eq!(tenant.plan, plan);
    }
}

/// acme-one and acme-two active, globex suspended.
async fn three_tenants(app: &TestApp) -> [Tenant; 3] {
    let one = app.create_tenant_from(json!({"slug": "acme-one", "name": "Acme One"})).await;
    let two = app.create_tenant_from(json!({"slug": "acme-two", "name": "Acme Two"})).await;
    let globex = app.create_tenant_from(json!({"slug": "globex", "name": "Globex"})).await;
    app.suspend(&globex).await;
    [one, two, globex]
}

#[tokio::test]
async fn listing_filters_by_status() {
    let app = spawn_app().await;
    three_tenants(&app).await;

    let active = json_body(list(&app, "?status=active").await, StatusCode::OK).await;
    let suspended = json_body(list(&app, "?status=suspended").await, StatusCode::OK).await;
    let all = json_body(list(&app, "").await, StatusCode::OK).await;

    assert_eq!(slugs(&active), ["acme-one", "acme-two"]);
    assert_eq!(slugs(&suspended), ["globex"]);
    assert_eq!(slugs(&all), ["acme-one", "acme-two", "globex"]);
}

#[tokio::test]
async fn listing_searches_slug_and_name_with_q() {
    let app = spawn_app().await;
    three_tenants(&app).await;

    let by_slug = json_body(list(&app, "?q=acme").await, StatusCode::OK).await;
    let by_name = json_body(list(&app, "?q=Two").await, StatusCode::OK).await;
    let none = json_body(list(&app, "?q=initech").await, StatusCode::OK).await;
    let combined = json_body(list(&app, "?q=acme&status=suspended").await, StatusCode::OK).await;

    assert_eq!(slugs(&by_slug), ["acme-one", "acme-two"]);
    assert_eq!(slugs(&by_name), ["acme-two"]);
    assert!(slugs(&none).is_empty());
    assert!(slugs(&combined).is_empty());
}

#[tokio::test]
async fn listing_pages_with_limit_and_offset() {
    let app = spawn_app().await;
    three_tenants(&app).await;

    let mut seen = Vec::new();
    for offset in 0..3 {
        let page = json_body(list(&app, &format!("?limit=1&offset={offset}")).await, StatusCode::OK).await;
        let page = slugs(&page);
        assert_eq!(page.len(), 1, "offset {offset}");
        seen.extend(page);
    }
    let past_the_end = json_body(list(&app, "?limit=1&offset=3").await, StatusCode::OK).await;
    let two = json_body(list(&app, "?limit=2").await, StatusCode::OK).await;

    seen.sort();
    assert_eq!(seen, ["acme-one", "acme-two", "globex"], "pages are disjoint and cover everything");
    assert!(slugs(&past_the_end).is_empty());
    assert_eq!(slugs(&two).len(), 2);
}

#[tokio::test]
async fn listing_with_meta_total_count_counts_every_match_not_just_the_page() {
    let app = spawn_app().await;
    three_tenants(&app).await;

    let all = json_body(list(&app, "?meta=total_count&limit=1").await, StatusCode::OK).await;
    let acme = json_body(list(&app, "?meta=total_count&q=acme").await, StatusCode::OK).await;

    assert_eq!(all["meta"]["total_count"], 3, "{all}");
    assert_eq!(slugs(&all).len(), 1);
    assert_eq!(acme["meta"]["total_count"], 2, "{acme}");
}

#[tokio::test]
async fn a_limit_above_1000_or_a_negative_limit_or_offset_is_400_invalid_query() {
    let app = spawn_app().await;

    for query in ["?limit=1001", "?limit=-1", "?offset=-1", "?limit=many"] {
        let response = list(&app, query).await;

        assert_problem(response, StatusCode::BAD_REQUEST, "invalid_query").await;
    }
    for query in ["?limit=1000", "?limit=0", "?offset=0"] {
        json_body(list(&app, query).await, StatusCode::OK).await;
    }
}

#[tokio::test]
async fn a_tenant_is_fetched_by_id_and_by_slug() {
    let app = spawn_app().await;
    let acme = app.create_tenant("acme").await;
    app.create_tenant("globex").await;

    let by_id = tenant_from(json_body(app.fetch_tenant(&acme.id.to_string()).await, StatusCode::OK).await);
    let by_slug = tenant_from(json_body(app.fetch_tenant("acme").await, StatusCode::OK).await);

    assert_eq!(by_id, acme);
    assert_eq!(by_slug, acme);
}

#[tokio::test]
async fn an_unknown_tenant_is_404_tenant_not_found_on_the_platform_routes() {
    let app = spawn_app().await;
    app.create_tenant("acme").await;
    let unknown = Uuid::new_v4();

    assert_problem(app.fetch_tenant(&unknown.to_string()).await, StatusCode::NOT_FOUND, "tenant_not_found").await;
    assert_problem(app.fetch_tenant("ghost").await, StatusCode::NOT_FOUND, "tenant_not_found").await;
    let patch = app
        .as_platform(Method::PATCH, &format!("/api/tenants/{unknown}"))
        .await
        .json(&json!({"name": "Ghost"}))
        .send()
        .await
        .unwrap();
    assert_problem(patch, StatusCode::NOT_FOUND, "tenant_not_found").await;
}

#[tokio::test]
async fn patch_changes_name_plan_and_domains() {
    let app = spawn_app().await;
    let acme = app.create_tenant_from(json!({"slug": "acme", "name": "Acme", "domains": ["old.example"]})).await;

    let response = app
        .as_platform(Method::PATCH, &format!("/api/tenants/{}", acme.id))
        .await
        .json(&json!({"name": "Acme Corporation", "plan": "enterprise", "domains": ["new.example"]}))
        .send()
        .await
        .unwrap();

    let patched = tenant_from(json_body(response, StatusCode::OK).await);
    assert_eq!(patched.name, "Acme Corporation");
    assert_eq!(patched.plan, "enterprise");
    assert_eq!(patched.domains, ["new.example"]);
    assert_eq!((patched.id, &patched.slug, patched.created_at), (acme.id, &acme.slug, acme.created_at));
    assert!(patched.updated_at > acme.updated_at, "updated_at moves on a change");
    let fetched = tenant_from(json_body(app.fetch_tenant("acme").await, StatusCode::OK).await);
    assert_eq!(fetched, patched);
}

#[tokio::test]
async fn patch_leaves_fields_that_are_not_sent_alone() {
    let app = spawn_app().await;
    let acme = app
        .create_tenant_from(json!({"slug": "acme", "name": "Acme", "plan": "pro", "domains": ["acme.example"]}))
        .await;

    let response = app
        .as_platform(Method::PATCH, &format!("/api/tenants/{}", acme.id))
        .await
        .json(&json!({"name": "Renamed"}))
        .send()
        .await
        .unwrap();

    let patched = tenant_from(json_body(response, StatusCode::OK).await);
    assert_eq!(patched.name, "Renamed");
    assert_eq!(patched.plan, "pro");
    assert_eq!(patched.domains, ["acme.example"]);
}

#[tokio::test]
async fn patch_cannot_change_id_slug_or_status() {
    let app = spawn_app().await;
    let acme = app.create_tenant("acme").await;

    let response = app
        .as_platform(Method::PATCH, &format!("/api/tenants/{}", acme.id))
        .await
        .json(&json!({"id": Uuid::new_v4(), "slug": "hijacked", "status": "suspended"}))
        .send()
        .await
        .unwrap();

    assert!(
        response.status() == StatusCode::OK || response.status() == StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        response.status()
    );
    let after = tenant_from(json_body(app.fetch_tenant(&acme.id.to_string()).await, StatusCode::OK).await);
    assert_eq!((after.id, after.slug.as_str(), after.status.as_str()), (acme.id, "acme", "active"));
}

#[tokio::test]
async fn patching_domains_moves_resolution_to_the_new_domain_at_once() {
    let app = spawn_app().await;
    let acme = app.create_tenant_from(json!({"slug": "acme", "name": "Acme", "domains": ["old.example"]})).await;
    let warm = app.own_tenant_as_platform().await.host("old.example").send().await.unwrap();
    json_body(warm, StatusCode::OK).await;

    let response = app
        .as_platform(Method::PATCH, &format!("/api/tenants/{}", acme.id))
        .await
        .json(&json!({"domains": ["new.example"]}))
        .send()
        .await
        .unwrap();
    json_body(response, StatusCode::OK).await;

    let old = app.own_tenant_as_platform().await.host("old.example").send().await.unwrap();
    let new = app.own_tenant_as_platform().await.host("new.example").send().await.unwrap();
    let (old_status, old_body) = (old.status(), old.text().await.unwrap());
    assert!(old_status.is_client_error(), "the dropped domain no longer reaches acme: {old_status} {old_body}");
    assert_eq!(json_body(new, StatusCode::OK).await["data"]["slug"], "acme");
}

#[tokio::test]
async fn patch_with_an_unknown_plan_is_422_and_changes_nothing() {
    let app = spawn_app().await;
    let acme = app.create_tenant("acme").await;

    let response = app
        .as_platform(Method::PATCH, &format!("/api/tenants/{}", acme.id))
        .await
        .json(&json!({"name": "Renamed", "plan": "platinum"}))
        .send()
        .await
        .unwrap();

    assert_field_error(response, "plan", None).await;
    let after = tenant_from(json_body(app.fetch_tenant("acme").await, StatusCode::OK).await);
    assert_eq!(after, acme);
}

#[tokio::test]
async fn put_settings_replaces_the_settings_entirely() {
    let app = spawn_app().await;
    let acme = app
        .create_tenant_from(json!({"slug": "acme", "name": "Acme", "settings": {"theme": "dark", "seats": 5}}))
        .await;
    let replacement = json!({"locale": "fr", "nested": {"list": [1, 2, 3], "flag": true}});

    let response = app
        .as_platform(Method::PUT, &format!("/api/tenants/{}/settings", acme.id))
        .await
        .json(&replacement)
        .send()
        .await
        .unwrap();

    let updated = tenant_from(json_body(response, StatusCode::OK).await);
    assert_eq!(updated.settings, replacement, "replaced, not merged");
    assert_eq!((updated.id, updated.name.as_str()), (acme.id, "Acme"));
    let fetched = tenant_from(json_body(app.fetch_tenant("acme").await, StatusCode::OK).await);
    assert_eq!(fetched.settings, replacement);
    let as_tenant = app.own_tenant_as_platform().await.host("acme.localhost").send().await.unwrap();
    assert_eq!(json_body(as_tenant, StatusCode::OK).await["data"]["settings"], replacement, "the tenant cache saw it");
}

#[tokio::test]
async fn put_settings_with_anything_but_an_object_is_422() {
    let app = spawn_app().await;
    let acme = app.create_tenant_from(json!({"slug": "acme", "name": "Acme", "settings": {"theme": "dark"}})).await;

    for body in [json!([1, 2]), json!("dark"), json!(3), json!(null), json!(true)] {
        let response = app
            .as_platform(Method::PUT, &format!("/api/tenants/{}/settings", acme.id))
            .await
            .json(&body)
            .send()
            .await
            .unwrap();

        assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }
    let after = tenant_from(json_body(app.fetch_tenant("acme").await, StatusCode::OK).await);
    assert_eq!(after.settings, json!({"theme": "dark"}));
}

#[tokio::test]
async fn usage_reports_every_field_and_counts_users() {
    let app = spawn_app().await;
    let with_admin = app.create_tenant_with_admin("acme", "admin@acme.test", TENANT_ADMIN_PASSWORD).await;
    let without = app.create_tenant("globex").await;

    let acme = usage(&app, &with_admin).await;
    let globex = usage(&app, &without).await;

    for field in ["users", "collections", "items", "files", "storage_bytes", "requests_24h", "rate_limited_24h"] {
        assert!(acme["data"][field].is_u64(), "usage.{field} is a count: {acme}");
    }
    assert_eq!(acme["data"]["users"], 1);
    assert_eq!(globex["data"]["users"], 0);
    assert_eq!(acme["data"]["storage_bytes"], 0);
}

#[tokio::test]
async fn suspend_and_resume_change_the_status() {
    let app = spawn_app().await;
    let acme = app.create_tenant("acme").await;

    let suspended = app.suspend(&acme).await;
    let fetched_suspended = tenant_from(json_body(app.fetch_tenant("acme").await, StatusCode::OK).await);
    let resumed = app.resume(&acme).await;
    let fetched_resumed = tenant_from(json_body(app.fetch_tenant("acme").await, StatusCode::OK).await);

    assert_eq!(suspended.status, "suspended");
    assert_eq!(fetched_suspended.status, "suspended");
    assert_eq!(resumed.status, "active");
    assert_eq!(fetched_resumed.status, "active");
}

#[tokio::test]
async fn suspending_twice_and_resuming_an_active_tenant_are_harmless() {
    let app = spawn_app().await;
    let acme = app.create_tenant("acme").await;

    let resumed = app.resume(&acme).await;
    app.suspend(&acme).await;
    let suspended_again = app.suspend(&acme).await;

    assert_eq!(resumed.status, "active");
    assert_eq!(suspended_again.status, "suspended");
}

#[tokio::test]
async fn a_deleted_tenant_is_404_on_every_platform_route() {
    let app = spawn_app().await;
    let acme = app.create_tenant("acme").await;

    app.delete_tenant(&acme).await;

    let id = acme.id;
    let routes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/api/tenants/{id}"), None),
        (Method::GET, "/api/tenants/acme".to_string(), None),
        (Method::PATCH, format!("/api/tenants/{id}"), Some(json!({"name": "Back"}))),
        (Method::PUT, format!("/api/tenants/{id}/settings"), Some(json!({}))),
        (Method::GET, format!("/api/tenants/{id}/usage"), None),
        (Method::POST, format!("/api/tenants/{id}/suspend"), None),
        (Method::POST, format!("/api/tenants/{id}/resume"), None),
        (Method::DELETE, format!("/api/tenants/{id}"), None),
    ];
    let mut reachable = Vec::new();
    for (method, path, body) in routes {
        let mut request = app.as_platform(method.clone(), &path).await;
        if let Some(body) = body {
            request = request.json(&body);
        }

        let response = request.send().await.unwrap();

        let status = response.status();
        let body = response.text().await.unwrap();
        if !(status == StatusCode::NOT_FOUND && body.contains("\"tenant_not_found\"")) {
            reachable.push(format!("{method} {path}: {status} {body}"));
        }
    }
    assert!(reachable.is_empty(), "a deleted tenant must be 404 tenant_not_found on:\n{}", reachable.join("\n"));
    let listed = json_body(list(&app, "").await, StatusCode::OK).await;
    assert!(slugs(&listed).is_empty(), "a deleted tenant is not listed: {listed}");
}

#[tokio::test]
async fn deleting_a_tenant_leaves_other_tenants_untouched() {
    let app = spawn_app().await;
    let acme = app.create_tenant_with_admin("acme", "admin@acme.test", TENANT_ADMIN_PASSWORD).await;
    let globex = app
        .create_tenant_from(json!({
            "slug": "globex",
            "name": "Globex",
            "domains": ["globex.example"],
            "settings": {"theme": "light"},
            "admin": {"email": "admin@acme.test", "password": TENANT_ADMIN_PASSWORD},
        }))
        .await;

    app.delete_tenant(&acme).await;
    // Give the background purge a moment to run before checking on the neighbour.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let after = tenant_from(json_body(app.fetch_tenant("globex").await, StatusCode::OK).await);
    assert_eq!(after, globex);
    let token = app.access_token(Some("globex"), "admin@acme.test", TENANT_ADMIN_PASSWORD).await;
    let own = app.get("/api/tenant").bearer_auth(&token).host("globex.example").send().await.unwrap();
    assert_eq!(json_body(own, StatusCode::OK).await["data"]["slug"], "globex");
    assert_eq!(usage(&app, &globex).await["data"]["users"], 1);
}

#[tokio::test]
async fn a_deleted_tenants_admin_can_no_longer_log_in() {
    let app = spawn_app().await;
    let acme = app.create_tenant_with_admin("acme", "admin@acme.test", TENANT_ADMIN_PASSWORD).await;

    app.delete_tenant(&acme).await;

    let on_its_host = app.login(Some("acme"), "admin@acme.test", TENANT_ADMIN_PASSWORD).await;
    let by_header = app.login_by_header(&acme.id.to_string(), "admin@acme.test", TENANT_ADMIN_PASSWORD).await;
    let as_platform = app.login(None, "admin@acme.test", TENANT_ADMIN_PASSWORD).await;

    assert_problem(on_its_host, StatusCode::NOT_FOUND, "tenant_not_found").await;
    assert_problem(by_header, StatusCode::NOT_FOUND, "tenant_not_found").await;
    assert_problem(as_platform, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

#[tokio::test]
async fn a_deleted_tenants_slug_and_domain_can_be_reused_after_the_purge() {
    let app = spawn_app().await;
    let old = app
        .create_tenant_from(json!({
            "slug": "acme",
            "name": "Old Acme",
            "domains": ["acme.example"],
            "admin": {"email": "admin@acme.test", "password": TENANT_ADMIN_PASSWORD},
        }))
        .await;

    app.delete_tenant(&old).await;

    let app = &app;
    let new = eventually(Duration::from_secs(30), "the purge to free the slug", move || async move {
        let response = post_tenant(app, json!({"slug": "acme", "name": "New Acme", "domains": ["acme.example"]})).await;
        match response.status() {
            StatusCode::CREATED => Some(tenant_from(json_body(response, StatusCode::CREATED).await)),
            StatusCode::CONFLICT => None,
            other => panic!(
                "while the purge runs, re-creating is 201 or 409, got {other}: {}",
                response.text().await.unwrap()
            ),
        }
    })
    .await;
    assert_ne!(new.id, old.id);
    assert_eq!(new.name, "New Acme");
    assert_eq!(usage(app, &new).await["data"]["users"], 0, "nothing of the old tenant remains");
    let old_admin = app.login(Some("acme"), "admin@acme.test", TENANT_ADMIN_PASSWORD).await;
    assert_problem(old_admin, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

#[tokio::test]
async fn settings_the_database_could_not_store_or_read_back_are_422_and_the_tenant_stays_reachable() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    // Raw bodies: a NUL escape, a number at the edge of f64, and nesting 40 deep.
    let deep = format!("{{\"a\":{}1{}}}", "[".repeat(40), "]".repeat(40));
    for body in [r#"{"name":"a\u0000b"}"#.to_string(), r#"{"n":1.7976931348623157e308}"#.to_string(), deep] {
        let response = app
            .put("/api/tenant/settings")
            .tenant_header("acme")
            .bearer_auth(&acme.token)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_field_error(response, "settings", Some("invalid")).await;
    }
    let tenant = json_body(
        app.get("/api/tenant").tenant_header("acme").bearer_auth(&acme.token).send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(tenant["data"]["settings"], json!({}));
    let listed = app.as_platform(Method::GET, "/api/tenants?q=%00").await.send().await.unwrap();
    assert_problem(listed, StatusCode::BAD_REQUEST, "invalid_query").await;
}

#[tokio::test]
async fn usage_counts_collections_and_items_of_that_tenant_only() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let globex = app.tenant_admin("globex").await;
    let data = app.data(&acme);
    data.collection(&articles_collection()).await;
    data.collection(&json!({"name": "notes", "fields": [{"name": "text", "type": "text"}]})).await;
    data.items("articles", &[json!({"title": "a"}), json!({"title": "b"}), json!({"title": "c"})]).await;

    let acme_usage = usage(&app, &acme.tenant).await;
    let globex_usage = usage(&app, &globex.tenant).await;

    assert_eq!((acme_usage["data"]["collections"].clone(), acme_usage["data"]["items"].clone()), (json!(2), json!(3)));
    assert_eq!(
        (globex_usage["data"]["collections"].clone(), globex_usage["data"]["items"].clone()),
        (json!(0), json!(0))
    );
}

#[tokio::test]
async fn purging_a_tenant_removes_its_collections_and_items_and_keeps_its_neighbours() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let globex = app.tenant_admin("globex").await;
    for admin in [&acme, &globex] {
        let data = app.data(admin);
        data.collection(&articles_collection()).await;
        data.items("articles", &[json!({"title": "one"}), json!({"title": "two"})]).await;
    }

    let database = app.database.as_ref().unwrap();
    let sql = format!(
        "SELECT json_build_array((SELECT count(*) FROM items WHERE tenant_id = '{id}'), \
         (SELECT count(*) FROM collections WHERE tenant_id = '{id}'))::text",
        id = acme.tenant.id
    );
    let counts = || database.query_json(&sql);
    let before = counts().await;
    assert!(before[0][0].as_i64() >= Some(2) && before[0][1].as_i64() >= Some(1), "acme has rows: {before:?}");

    app.delete_tenant(&acme.tenant).await;

    let left = eventually(Duration::from_secs(30), "the purge to remove acme's rows", || async {
        let rows = counts().await;
        (rows == [json!([0, 0])]).then_some(rows)
    })
    .await;
    assert_eq!(left, [json!([0, 0])]);
    let globex_items = app.data(&globex).listed("articles", &[("meta", "total_count")]).await;
    assert_eq!(globex_items["meta"]["total_count"], 2, "the neighbour keeps its items");
}
