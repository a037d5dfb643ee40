//! The query cache (docs/caching.md): warm answers stay each tenant's and each role's own, a
//! write or a definition change is visible on the very next read, cached answers are the same
//! bytes and `ETag` as fresh ones, `If-None-Match` answers 304, and read hooks are never bypassed.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tenantbase::{auth::Role, hooks::Register};

use crate::helpers::{
    TenantAdmin, TestApp,
    items::{DataApi, articles_collection},
    json_body,
};

async fn tenant_with_articles(app: &TestApp, slug: &str, titles: &[&str]) -> TenantAdmin {
    let admin = app.tenant_admin(slug).await;
    let data = app.data(&admin);
    data.collection(&articles_collection()).await;
    let bodies: Vec<Value> = titles.iter().map(|t| json!({"title": t, "body": format!("{t} body")})).collect();
    data.items("articles", &bodies).await;
    admin
}

fn titles(list: &Value) -> Vec<String> {
    let mut titles: Vec<String> =
        list["data"].as_array().unwrap().iter().map(|i| i["title"].as_str().unwrap().to_string()).collect();
    titles.sort();
    titles
}

async fn bytes_and_etag(response: Response) -> (StatusCode, Vec<u8>, String) {
    let etag = response.headers().get("etag").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (response.status(), response.bytes().await.unwrap().to_vec(), etag)
}

const QUERY: &[(&str, &str)] = &[("filter", r#"{"status":{"_eq":"draft"}}"#), ("sort", "title"), ("limit", "20")];

#[tokio::test]
async fn a_warm_cache_answers_each_tenant_with_its_own_data() {
    let app = TestApp::builder().spawn().await;
    let a = tenant_with_articles(&app, "alpha", &["a1", "a2"]).await;
    let b = tenant_with_articles(&app, "beta", &["b1"]).await;
    for _ in 0..3 {
        assert_eq!(titles(&app.data(&a).listed("articles", QUERY).await), ["a1", "a2"]);
        assert_eq!(titles(&app.data(&b).listed("articles", QUERY).await), ["b1"]);
    }
    // An item id of A, read warm on A, is still nothing on B.
    let id = app.data(&a).listed("articles", QUERY).await["data"][0]["id"].as_str().unwrap().to_string();
    for _ in 0..2 {
        assert_eq!(app.data(&a).get("articles", &id).await.status(), StatusCode::OK);
        let guessed = app.data(&b).get("articles", &id).await;
        assert_eq!(json_body(guessed, StatusCode::NOT_FOUND).await["code"], "item_not_found");
    }
    // A's token on B's host: refused, however warm A's answers are.
    let crossed = DataApi::new(&app, crate::helpers::items::Naming::Host("beta".into()), Some(&a.token));
    assert_ne!(crossed.list("articles", QUERY).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn roles_a_read_hook_treats_differently_never_share_an_answer() {
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    let app = TestApp::builder()
        .hooks(move |hooks| {
            hooks.filter("articles.items.read", move |ctx, payload| {
                counted.fetch_add(1, Ordering::Relaxed);
                let viewer = ctx.caller().is_some_and(|c| c.role == Role::Viewer);
                Box::pin(async move {
                    let redact = |mut item: Value| {
                        if viewer {
                            item["body"] = Value::Null;
                        }
                        item
                    };
                    Ok(match payload {
                        Value::Array(items) => Value::Array(items.into_iter().map(redact).collect()),
                        item => redact(item),
                    })
                })
            });
        })
        .spawn()
        .await;
    let admin = tenant_with_articles(&app, "acme", &["secret plans"]).await;
    let viewer = app.member(&admin, "viewer").await;
    let as_viewer = app.data_as(crate::helpers::items::Naming::Host("acme".into()), Some(viewer.token()));
    for _ in 0..2 {
        let seen_by_admin = app.data(&admin).listed("articles", QUERY).await;
        assert_eq!(seen_by_admin["data"][0]["body"], "secret plans body");
        let seen_by_viewer = as_viewer.listed("articles", QUERY).await;
        assert_eq!(seen_by_viewer["data"][0]["body"], Value::Null, "the viewer never gets the admin's answer");
    }
    assert_eq!(runs.load(Ordering::Relaxed), 4, "the hook ran for every read: nothing it filters is cached");
}

#[tokio::test]
async fn every_write_and_definition_change_is_visible_on_the_very_next_read() {
    let app = TestApp::builder().spawn().await;
    let admin = tenant_with_articles(&app, "acme", &["first"]).await;
    let data = app.data(&admin);
    assert_eq!(titles(&data.listed("articles", QUERY).await), ["first"]);
    let created = data.item("articles", &json!({"title": "second"})).await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(titles(&data.listed("articles", QUERY).await), ["first", "second"]);
    json_body(data.get("articles", id).await, StatusCode::OK).await;
    let patched = data.patch("articles", id, &json!({"title": "renamed"})).await;
    assert_eq!(patched.status(), StatusCode::OK);
    assert_eq!(json_body(data.get("articles", id).await, StatusCode::OK).await["data"]["title"], "renamed");
    assert_eq!(titles(&data.listed("articles", QUERY).await), ["first", "renamed"]);
    assert_eq!(data.delete("articles", id).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(json_body(data.get("articles", id).await, StatusCode::NOT_FOUND).await["code"], "item_not_found");
    assert_eq!(titles(&data.listed("articles", QUERY).await), ["first"]);

    let added = data.patch_collection("articles", &json!({"fields": [{"name": "rating", "type": "integer"}]})).await;
    assert_eq!(added.status(), StatusCode::OK);
    let listed = data.listed("articles", QUERY).await;
    assert!(listed["data"][0].as_object().unwrap().contains_key("rating"), "{listed}");
}

#[tokio::test]
async fn cached_answers_are_the_same_bytes_and_etag_and_answer_304_when_unchanged() {
    let app = TestApp::builder().spawn().await;
    let admin = tenant_with_articles(&app, "acme", &["one", "two"]).await;
    let data = app.data(&admin);
    let (status, fresh, etag) = bytes_and_etag(data.list("articles", QUERY).await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(etag.starts_with('"') && etag.len() > 10, "{etag}");
    let (_, warm, warm_etag) = bytes_and_etag(data.list("articles", QUERY).await).await;
    assert_eq!((warm, warm_etag.clone()), (fresh.clone(), etag.clone()));

    let conditional = data.request(reqwest::Method::GET, "/api/items/articles").query(QUERY);
    let unchanged = conditional.header("if-none-match", etag.clone()).send().await.unwrap();
    assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(unchanged.headers()["etag"], etag.as_str());
    assert!(unchanged.bytes().await.unwrap().is_empty());

    data.item("articles", &json!({"title": "three"})).await;
    let changed =
        data.request(reqwest::Method::GET, "/api/items/articles").query(QUERY).header("if-none-match", etag.clone());
    let (status, _, new_etag) = bytes_and_etag(changed.send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(new_etag, etag);

    // A read's ETag is its version, cached or not, and If-None-Match with it answers 304.
    let id = data.listed("articles", QUERY).await["data"][0]["id"].as_str().unwrap().to_string();
    let (_, first, version) = bytes_and_etag(data.get("articles", &id).await).await;
    let (_, second, again) = bytes_and_etag(data.get("articles", &id).await).await;
    assert_eq!((first, version.as_str()), (second, "\"1\""));
    assert_eq!(again, version);
    let path = format!("/api/items/articles/{id}");
    let not_modified =
        data.request(reqwest::Method::GET, &path).header("if-none-match", "W/\"1\"").send().await.unwrap();
    assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn with_the_cache_off_answers_are_shaped_the_same() {
    let app = TestApp::builder().var("TB_CACHE", "false").spawn().await;
    let admin = tenant_with_articles(&app, "acme", &["one"]).await;
    let data = app.data(&admin);
    let (status, body, etag) = bytes_and_etag(data.list("articles", QUERY).await).await;
    assert_eq!(status, StatusCode::OK);
    let (_, again, same) = bytes_and_etag(data.list("articles", QUERY).await).await;
    assert_eq!((body, etag.clone()), (again, same));
    let unchanged =
        data.request(reqwest::Method::GET, "/api/items/articles").query(QUERY).header("if-none-match", etag);
    assert_eq!(unchanged.send().await.unwrap().status(), StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn on_the_embedded_database_a_write_is_visible_on_the_next_read_too() {
    let app = crate::helpers::spawn_sqlite_app().await;
    let admin = tenant_with_articles(&app, "acme", &["first"]).await;
    let data = app.data(&admin);
    assert_eq!(titles(&data.listed("articles", QUERY).await), ["first"]);
    assert_eq!(titles(&data.listed("articles", QUERY).await), ["first"]);
    data.item("articles", &json!({"title": "second"})).await;
    assert_eq!(titles(&data.listed("articles", QUERY).await), ["first", "second"]);
}
