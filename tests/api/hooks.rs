//! Hooks (docs/hooks.md): filter hooks in order, rejections and rollbacks, actions after commit,
//! per-tenant extensions, confinement to the event's tenant, the loop guard, panics and
//! deadlines, error hooks, composition, query/read hooks, the `article_stats` example, the other
//! events, and init/routes hooks. Every hook here is registered by the test on its own app.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tenantbase::{
    error::{Code, Error},
    hooks::{HookError, InitStage, Register, chain, filter_fn, unless, when},
    services::item_query::ListParams,
};
use uuid::Uuid;

use crate::helpers::{
    Tenant, TenantAdmin, TestApp, TestAppBuilder, assert_field_error, assert_problem, eventually,
    items::{DataApi, articles_collection},
    json_body,
    users::USER_MEMBERS,
};

/// What hooks observed, shared between the hooks and the test.
type Seen<T> = Arc<Mutex<Vec<T>>>;

fn seen<T>() -> Seen<T> {
    Arc::new(Mutex::new(Vec::new()))
}

fn snapshot<T: Clone>(seen: &Seen<T>) -> Vec<T> {
    seen.lock().unwrap().clone()
}

/// An app whose action hook on `event` records each call's tenant and payload.
async fn app_recording_actions(event: &'static str) -> (TestApp, Seen<(Option<Uuid>, Value)>) {
    let fired: Seen<(Option<Uuid>, Value)> = seen();
    let recorder = fired.clone();
    let app = TestApp::builder()
        .hooks(move |hooks| {
            hooks.action(event, move |ctx, payload| {
                let recorder = recorder.clone();
                async move {
                    recorder.lock().unwrap().push((ctx.tenant_id(), payload));
                    Ok(())
                }
            });
        })
        .spawn()
        .await;
    (app, fired)
}

/// A second collection, for hooks that write elsewhere and requests that avoid the hooked path.
fn logs_collection() -> Value {
    json!({"name": "logs", "fields": [{"name": "message", "type": "string"}]})
}

/// A tenant `slug` with its logged-in admin, the articles and the logs collections.
async fn tenant_with_articles(app: &TestApp, slug: &str) -> TenantAdmin {
    let admin = app.tenant_admin(slug).await;
    app.data(&admin).collection(&articles_collection()).await;
    app.data(&admin).collection(&logs_collection()).await;
    admin
}

/// `PUT /api/tenants/{id}/settings` as the platform admin, expecting 200.
async fn put_settings(app: &TestApp, tenant: &Tenant, settings: Value) {
    let path = format!("/api/tenants/{}/settings", tenant.id);
    let response = app.as_platform(Method::PUT, &path).await.json(&settings).send().await.unwrap();
    json_body(response, StatusCode::OK).await;
}

/// Every item of the collection (up to 1000).
async fn all(data: &DataApi<'_>, collection: &str) -> Vec<Value> {
    data.listed(collection, &[("limit", "1000")]).await["data"].as_array().expect("a list").clone()
}

fn id_of(item: &Value) -> String {
    item["id"].as_str().unwrap_or_else(|| panic!("no id in {item}")).to_string()
}

fn titles(items: &[Value]) -> Vec<String> {
    items.iter().map(|item| item["title"].as_str().unwrap_or_default().to_string()).collect()
}

/// Every object key anywhere in `value`, lower-cased.
fn all_keys(value: &Value) -> Vec<String> {
    match value {
        Value::Object(map) => {
            map.iter().flat_map(|(key, value)| std::iter::once(key.to_lowercase()).chain(all_keys(value))).collect()
        }
        Value::Array(values) => values.iter().flat_map(all_keys).collect(),
        _ => Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// Filter hooks: order, changed payloads, both event forms
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn filter_hooks_run_in_registration_order_each_seeing_the_previous_payload_and_the_result_is_stored() {
    let order: Seen<String> = seen();
    let recorded = order.clone();
    let app = TestApp::builder()
        .hooks(move |hooks| {
            let first = recorded.clone();
            hooks.filter("articles.items.create", move |_, mut item| {
                let first = first.clone();
                Box::pin(async move {
                    first.lock().unwrap().push(format!("first saw body {}", item["body"]));
                    item["body"] = "from first".into();
                    Ok(item)
                })
            });
            let second = recorded.clone();
            hooks.filter("items.create", move |ctx, mut item| {
                let second = second.clone();
                let collection = ctx.collection().map(str::to_string);
                Box::pin(async move {
                    second.lock().unwrap().push(format!("second ({collection:?}) saw body {}", item["body"]));
                    item["views"] = 7.into();
                    Ok(item)
                })
            });
            let third = recorded;
            hooks.filter("articles.items.create", move |_, item| {
                let third = third.clone();
                Box::pin(async move {
                    third.lock().unwrap().push(format!("third saw views {}", item["views"]));
                    Ok(item)
                })
            });
        })
        .spawn()
        .await;
    let acme = tenant_with_articles(&app, "acme").await;

    let created = app.data(&acme).item("articles", &json!({"title": "Ordered"})).await;

    assert_eq!(
        snapshot(&order),
        [
            "first saw body null".to_string(),
            "second (Some(\"articles\")) saw body \"from first\"".to_string(),
            "third saw views 7".to_string(),
        ],
        "the collection and the generic hooks run once each, in registration order"
    );
    assert_eq!((&created["body"], &created["views"]), (&json!("from first"), &json!(7)), "{created}");
    let stored =
        json_body(app.data(&acme).get("articles", &id_of(&created)).await, StatusCode::OK).await["data"].clone();
    assert_eq!((&stored["body"], &stored["views"]), (&json!("from first"), &json!(7)), "stored as changed: {stored}");
    assert_eq!(stored["title"], "Ordered");
}

#[tokio::test]
async fn a_filter_hook_runs_once_per_object_of_an_array() {
    let count = Arc::new(AtomicUsize::new(0));
    let counted = count.clone();
    let app = TestApp::builder()
        .hooks(move |hooks| {
            hooks.filter("articles.items.create", move |_, mut item| {
                let n = counted.fetch_add(1, Ordering::SeqCst);
                Box::pin(async move {
                    item["views"] = (n as i64 + 1).into();
                    Ok(item)
                })
            });
        })
        .spawn()
        .await;
    let acme = tenant_with_articles(&app, "acme").await;

    let created = app.data(&acme).items("articles", &[json!({"title": "a"}), json!({"title": "b"})]).await;

    assert_eq!(count.load(Ordering::SeqCst), 2);
    let views: Vec<&Value> = created.iter().map(|item| &item["views"]).collect();
    assert_eq!(views, [&json!(1), &json!(2)]);
}

#[tokio::test]
async fn create_filters_run_before_validation() {
    let app = TestApp::builder()
        .hooks(|hooks| {
            hooks.filter("articles.items.create", |_, mut item| {
                Box::pin(async move {
                    if item.get("title").is_none() {
                        item["title"] = "Supplied by a hook".into();
                    }
                    if item["title"] == "bad" {
                        item["nope"] = 1.into();
                    }
                    Ok(item)
                })
            });
        })
        .spawn()
        .await;
    let acme = tenant_with_articles(&app, "acme").await;

    let supplied = app.data(&acme).item("articles", &json!({"body": "no title given"})).await;
    let broken = app.data(&acme).create("articles", &json!({"title": "bad"})).await;

    assert_eq!(supplied["title"], "Supplied by a hook", "the required field came from the hook: {supplied}");
    assert_field_error(broken, "nope", Some("unknown_field")).await;
}

#[tokio::test]
async fn update_and_delete_filters_see_the_item_key_and_a_rejected_delete_keeps_the_item() {
    // (event, ctx.key(), payload)
    let seen_by_hooks: Seen<(String, Option<Uuid>, Value)> = seen();
    let (on_update, on_delete) = (seen_by_hooks.clone(), seen_by_hooks.clone());
    let deleted: Seen<Value> = seen();
    let on_deleted = deleted.clone();
    let app = TestApp::builder()
        .hooks(move |hooks| {
            hooks.filter("articles.items.update", move |ctx, mut patch| {
                on_update.lock().unwrap().push((ctx.event().to_string(), ctx.key(), patch.clone()));
                Box::pin(async move {
                    patch["views"] = 99.into();
                    Ok(patch)
                })
            });
            hooks.filter("articles.items.delete", move |ctx, payload| {
                on_delete.lock().unwrap().push((ctx.event().to_string(), ctx.key(), payload.clone()));
                let keep = payload["key"].is_string() && ctx.key().is_some();
                Box::pin(async move {
                    if keep {
                        return Err(HookError::new(409, "kept_by_hook", "This article is kept."));
                    }
                    Ok(payload)
                })
            });
            hooks.action("articles.items.delete", move |_, payload| {
                let on_deleted = on_deleted.clone();
                async move {
                    on_deleted.lock().unwrap().push(payload);
                    Ok(())
                }
            });
        })
        .spawn()
        .await;
    let acme = tenant_with_articles(&app, "acme").await;
    let data = app.data(&acme);
    let created = data.item("articles", &json!({"title": "Keep me"})).await;
    let id = id_of(&created);
    let key: Uuid = id.parse().unwrap();

    let patched = json_body(data.patch("articles", &id, &json!({"title": "Kept"})).await, StatusCode::OK).await;
    let refused = data.delete("articles", &id).await;

    assert_eq!((&patched["data"]["title"], &patched["data"]["views"]), (&json!("Kept"), &json!(99)), "{patched}");
    assert_problem(refused, StatusCode::CONFLICT, "kept_by_hook").await;
    let still = json_body(data.get("articles", &id).await, StatusCode::OK).await["data"].clone();
    assert_eq!(still["title"], "Kept", "the rejected delete kept the item");
    let seen_by_hooks = snapshot(&seen_by_hooks);
    assert_eq!(
        seen_by_hooks,
        [
            ("items.update".to_string(), Some(key), json!({"title": "Kept"})),
            ("items.delete".to_string(), Some(key), json!({"key": id})),
        ],
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(snapshot(&deleted), Vec::<Value>::new(), "a refused delete fires no action");
}

// ---------------------------------------------------------------------------------------------
// Rejections
// ---------------------------------------------------------------------------------------------

fn no_drafts(builder: TestAppBuilder) -> TestAppBuilder {
    builder.hooks(|hooks| {
        hooks.filter("articles.items.create", |_, item| {
            Box::pin(async move {
                match item["status"].as_str() {
                    Some("draft") => Err(HookError::invalid("no_drafts", "Drafts are not accepted here.")),
                    Some("secret") => Err(HookError::forbidden("top_secret", "Secrets are not for you.")),
                    _ => Ok(item),
                }
            })
        });
    })
}

#[tokio::test]
async fn a_rejecting_filter_is_a_422_with_its_code_and_message_and_nothing_is_created() {
    let app = no_drafts(TestApp::builder()).spawn().await;
    let acme = tenant_with_articles(&app, "acme").await;

    let response = app.data(&acme).create("articles", &json!({"title": "Draft", "status": "draft"})).await;

    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "no_drafts").await;
    assert_eq!(problem["detail"], "Drafts are not accepted here.", "{problem}");
    assert_eq!(all(&app.data(&acme), "articles").await, Vec::<Value>::new());
}

#[tokio::test]
async fn a_forbidding_filter_is_a_403_with_its_code() {
    let app = no_drafts(TestApp::builder()).spawn().await;
    let acme = tenant_with_articles(&app, "acme").await;

    let response = app.data(&acme).create("articles", &json!({"title": "Psst", "status": "secret"})).await;

    let problem = assert_problem(response, StatusCode::FORBIDDEN, "top_secret").await;
    assert_eq!(problem["detail"], "Secrets are not for you.", "{problem}");
    assert_eq!(all(&app.data(&acme), "articles").await, Vec::<Value>::new());
}

async fn rejecting_the_third_object_of_an_array_creates_nothing(app: TestApp) {
    let acme = tenant_with_articles(&app, "acme").await;
    let bodies = json!([
        {"title": "one", "status": "published"},
        {"title": "two", "status": "published"},
        {"title": "three", "status": "draft"},
    ]);

    let response = app.data(&acme).create("articles", &bodies).await;

    assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "no_drafts").await;
    assert_eq!(all(&app.data(&acme), "articles").await, Vec::<Value>::new(), "all or nothing");
    let fine = app.data(&acme).items("articles", &[json!({"title": "ok", "status": "published"})]).await;
    assert_eq!(titles(&fine), ["ok"], "the collection still takes what the hook accepts");
}

#[tokio::test]
async fn a_filter_rejecting_the_third_object_of_an_array_creates_none_of_them() {
    rejecting_the_third_object_of_an_array_creates_nothing(no_drafts(TestApp::builder()).spawn().await).await;
}

#[tokio::test]
async fn a_filter_rejecting_the_third_object_of_an_array_creates_none_of_them_on_sqlite() {
    rejecting_the_third_object_of_an_array_creates_nothing(no_drafts(TestApp::builder().sqlite()).spawn().await).await;
}

// ---------------------------------------------------------------------------------------------
// Nested writes roll back with the request
// ---------------------------------------------------------------------------------------------

/// A filter that logs every article to `logs` through the transaction, then rejects `reject`.
fn logging_then_rejecting(builder: TestAppBuilder) -> TestAppBuilder {
    builder.hooks(|hooks| {
        hooks.filter("articles.items.create", |ctx, item| {
            Box::pin(async move {
                let title = item["title"].as_str().unwrap_or_default().to_string();
                ctx.items("logs").create(json!({"message": format!("creating {title}")})).await?;
                if title == "reject" {
                    return Err(HookError::invalid("rejected_after_log", "Rejected after writing a log."));
                }
                Ok(item)
            })
        });
    })
}

async fn nested_writes_follow_the_request(app: TestApp) {
    let acme = tenant_with_articles(&app, "acme").await;
    let data = app.data(&acme);

    let rejected = data.create("articles", &json!({"title": "reject"})).await;

    assert_problem(rejected, StatusCode::UNPROCESSABLE_ENTITY, "rejected_after_log").await;
    assert_eq!(all(&data, "articles").await, Vec::<Value>::new(), "the article is not there");
    assert_eq!(all(&data, "logs").await, Vec::<Value>::new(), "the log written by the hook rolled back too");

    let accepted = data.item("articles", &json!({"title": "accept"})).await;

    assert_eq!(all(&data, "articles").await, vec![accepted]);
    let logs = all(&data, "logs").await;
    let messages: Vec<&Value> = logs.iter().map(|log| &log["message"]).collect();
    assert_eq!(messages, [&json!("creating accept")], "the hook's write is committed with the request");
}

#[tokio::test]
async fn a_rejection_rolls_back_what_the_hook_wrote_through_the_transaction() {
    nested_writes_follow_the_request(logging_then_rejecting(TestApp::builder()).spawn().await).await;
}

#[tokio::test]
async fn a_rejection_rolls_back_what_the_hook_wrote_through_the_transaction_on_sqlite() {
    nested_writes_follow_the_request(logging_then_rejecting(TestApp::builder().sqlite()).spawn().await).await;
}

#[tokio::test]
async fn a_problem_from_an_operation_a_hook_runs_passes_through_as_its_rejection() {
    let app = TestApp::builder()
        .hooks(|hooks| {
            hooks.filter("logs.items.create", |_, item| {
                Box::pin(async move {
                    if item["message"] == "refused" {
                        return Err(HookError::invalid("no_such_logs", "Logs like this are refused."));
                    }
                    Ok(item)
                })
            });
            hooks.filter("articles.items.create", |ctx, item| {
                Box::pin(async move {
                    match item["title"].as_str() {
                        Some("invalid log") => {
                            ctx.items("logs").create(json!({"nope": 1})).await?;
                        }
                        Some("missing item") => {
                            ctx.items("logs").get(Uuid::now_v7()).await?;
                        }
                        Some("refused log") => {
                            ctx.items("logs").create(json!({"message": "refused"})).await?;
                        }
                        _ => {}
                    }
                    Ok(item)
                })
            });
        })
        .spawn()
        .await;
    let acme = tenant_with_articles(&app, "acme").await;
    let data = app.data(&acme);

    let invalid = data.create("articles", &json!({"title": "invalid log"})).await;
    assert_problem(invalid, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let missing = data.create("articles", &json!({"title": "missing item"})).await;
    assert_problem(missing, StatusCode::NOT_FOUND, "item_not_found").await;
    let refused = data.create("articles", &json!({"title": "refused log"})).await;
    let problem = assert_problem(refused, StatusCode::UNPROCESSABLE_ENTITY, "no_such_logs").await;
    assert_eq!(problem["detail"], "Logs like this are refused.", "{problem}");

    assert_eq!(all(&data, "articles").await, Vec::<Value>::new());
    assert_eq!(all(&data, "logs").await, Vec::<Value>::new());
}

// ---------------------------------------------------------------------------------------------
// Actions
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_action_runs_after_commit_with_the_payload_and_reads_the_committed_item() {
    // (payload, what the action read back)
    let fired: Seen<(Value, Result<Value, String>)> = seen();
    let recorder = fired.clone();
    let app = TestApp::builder()
        .hooks(move |hooks| {
            hooks.filter("articles.items.create", |_, item| {
                Box::pin(async move {
                    if item["title"] == "reject" {
                        return Err(HookError::invalid("rejected", "No."));
                    }
                    Ok(item)
                })
            });
            hooks.action("items.create", move |ctx, payload| {
                let recorder = recorder.clone();
                async move {
                    let collection = ctx.collection.clone().unwrap_or_default();
                    let key: Uuid = payload["key"].as_str().and_then(|k| k.parse().ok()).unwrap_or_default();
                    let read = ctx.items(&collection).get(key).await.map_err(|e| e.to_string());
                    recorder.lock().unwrap().push((payload, read));
                    Ok(())
                }
            });
        })
        .spawn()
        .await;
    let acme = tenant_with_articles(&app, "acme").await;
    let data = app.data(&acme);

    let invalid = data.create("articles", &json!({"body": "no title"})).await;
    assert_problem(invalid, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let rejected = data.create("articles", &json!({"title": "reject"})).await;
    assert_problem(rejected, StatusCode::UNPROCESSABLE_ENTITY, "rejected").await;
    let created = data.item("articles", &json!({"title": "Kept", "views": 3})).await;

    let (payload, read) = eventually(Duration::from_secs(5), "the action on items.create", || {
        let fired = fired.clone();
        async move { snapshot(&fired).into_iter().next() }
    })
    .await;
    assert_eq!(payload["key"], created["id"], "{payload}");
    assert_eq!(payload["item"], created, "the action sees the created item: {payload}");
    assert_eq!(payload["delta"]["title"], "Kept", "{payload}");
    assert_eq!(payload["delta"]["views"], 3, "{payload}");
    assert_eq!(read, Ok(created.clone()), "the action reads the committed item");

    tokio::time::sleep(Duration::from_millis(500)).await;
    let all_fired = snapshot(&fired);
    assert_eq!(all_fired.len(), 1, "failed requests fire no action: {all_fired:?}");
}

#[tokio::test]
async fn a_failing_or_panicking_action_does_not_change_the_response() {
    let fired: Seen<Value> = seen();
    let recorder = fired.clone();
    let app = TestApp::builder()
        .hooks(move |hooks| {
            hooks.action("articles.items.create", |_, _| async move {
                Err(HookError::invalid("action_failed", "This action always fails."))
            });
            hooks.action("articles.items.create", |_, payload| async move {
                if payload["key"].is_string() {
                    panic!("an action hook panics on purpose");
                }
                Ok(())
            });
            hooks.action("articles.items.create", move |_, payload| {
                let recorder = recorder.clone();
                async move {
                    recorder.lock().unwrap().push(payload);
                    Ok(())
                }
            });
        })
        .spawn()
        .await;
    let acme = tenant_with_articles(&app, "acme").await;
    let data = app.data(&acme);

    let response = data.create("articles", &json!({"title": "Still fine"})).await;

    let created = json_body(response, StatusCode::CREATED).await["data"].clone();
    assert_eq!(created["title"], "Still fine");
    eventually(Duration::from_secs(5), "the third action despite the others failing", || {
        let fired = fired.clone();
        async move { (!snapshot(&fired).is_empty()).then_some(()) }
    })
    .await;
    let second = data.item("articles", &json!({"title": "Again"})).await;
    assert_eq!(titles(&all(&data, "articles").await), ["Still fine", "Again"], "{second}");
}

#[tokio::test]
async fn an_action_runs_item_operations_for_its_own_tenant_in_a_new_transaction() {
    let app = TestApp::builder()
        .hooks(|hooks| {
            hooks.action("articles.items.create", |ctx, payload| async move {
                let message = format!("created {}", payload["item"]["title"].as_str().unwrap_or_default());
                ctx.items("logs").create(json!({"message": message})).await?;
                Ok(())
            });
        })
        .spawn()
        .await;
    let acme = tenant_with_articles(&app, "acme").await;
    let beta = tenant_with_articles(&app, "beta").await;

    app.data(&acme).item("articles", &json!({"title": "First"})).await;

    let logs = eventually(Duration::from_secs(5), "the log the action writes", || {
        let data = app.data(&acme);
        async move {
            let logs = all(&data, "logs").await;
            (!logs.is_empty()).then_some(logs)
        }
    })
    .await;
    let messages: Vec<&Value> = logs.iter().map(|log| &log["message"]).collect();
    assert_eq!(messages, [&json!("created First")]);
    assert_eq!(all(&app.data(&beta), "logs").await, Vec::<Value>::new(), "written for acme only");
}

// ---------------------------------------------------------------------------------------------
// Per-tenant extensions
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn extension_hooks_run_only_for_tenants_that_enable_them() {
    let shouty_ran_for: Seen<Uuid> = seen();
    let recorder = shouty_ran_for.clone();
    let app = TestApp::builder()
        .hooks(move |hooks| {
            hooks.extension("shouty", false).filter("articles.items.create", move |ctx, mut item| {
                recorder.lock().unwrap().push(ctx.tenant_id());
                Box::pin(async move {
                    let loud = item["title"].as_str().unwrap_or_default().to_uppercase();
                    item["title"] = loud.into();
                    Ok(item)
                })
            });
            hooks.extension("stamp", true).filter("articles.items.create", |_, mut item| {
                Box::pin(async move {
                    item["views"] = 42.into();
                    Ok(item)
                })
            });
        })
        .spawn()
        .await;
    let acme = tenant_with_articles(&app, "acme").await;
    let beta = tenant_with_articles(&app, "beta").await;

    let before = app.data(&acme).item("articles", &json!({"title": "quiet"})).await;
    assert_eq!((&before["title"], &before["views"]), (&json!("quiet"), &json!(42)), "off by default, stamp on");

    put_settings(&app, &acme.tenant, json!({"extensions": {"shouty": true}})).await;
    put_settings(&app, &beta.tenant, json!({"extensions": {"stamp": false}})).await;

    let loud = app.data(&acme).item("articles", &json!({"title": "hello"})).await;
    let plain = app.data(&beta).item("articles", &json!({"title": "hello"})).await;

    assert_eq!((&loud["title"], &loud["views"]), (&json!("HELLO"), &json!(42)), "acme enabled shouty: {loud}");
    assert_eq!((&plain["title"], &plain["views"]), (&json!("hello"), &json!(0)), "beta: neither runs: {plain}");
    assert_eq!(snapshot(&shouty_ran_for), [acme.tenant.id], "shouty ran once, for acme, never for beta");

    put_settings(&app, &acme.tenant, json!({"extensions": {"shouty": false}})).await;
    let off_again = app.data(&acme).item("articles", &json!({"title": "soft"})).await;
    assert_eq!(off_again["title"], "soft", "turned off again: {off_again}");
}

// ---------------------------------------------------------------------------------------------
// Confinement
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Probe {
    tenant_id: Uuid,
    slug: String,
    listed: Vec<String>,
    filtered: Result<usize, String>,
    other_tenants_item: Result<Value, String>,
}

#[tokio::test]
async fn a_hook_sees_only_its_own_tenants_items() {
    let probes: Seen<Probe> = seen();
    let foreign: Arc<Mutex<Option<Uuid>>> = Arc::new(Mutex::new(None));
    let (recorder, foreign_id) = (probes.clone(), foreign.clone());
    let app = TestApp::builder()
        .hooks(move |hooks| {
            hooks.filter("articles.items.create", move |ctx, item| {
                let (recorder, foreign_id) = (recorder.clone(), *foreign_id.lock().unwrap());
                Box::pin(async move {
                    if item["title"] != "probe" {
                        return Ok(item);
                    }
                    let listed = ctx.items("articles").list(Default::default()).await?;
                    let marked = ListParams {
                        filter: Some(r#"{"title":{"_eq":"secret-of-acme"}}"#.into()),
                        ..Default::default()
                    };
                    let filtered = ctx.items("articles").list(marked).await.map(|l| l.len()).map_err(|e| e.to_string());
                    let other_tenants_item = match foreign_id {
                        Some(id) => ctx.items("articles").get(id).await.map_err(|e| e.code().to_string()),
                        None => Err("no foreign id".into()),
                    };
                    recorder.lock().unwrap().push(Probe {
                        tenant_id: ctx.tenant_id(),
                        slug: ctx.tenant().slug.clone(),
                        listed: titles(&listed),
                        filtered,
                        other_tenants_item,
                    });
                    Ok(item)
                })
            });
        })
        .spawn()
        .await;
    let acme = tenant_with_articles(&app, "acme").await;
    let beta = tenant_with_articles(&app, "beta").await;
    let secrets = app
        .data(&acme)
        .items("articles", &[json!({"title": "secret-of-acme"}), json!({"title": "secret-of-acme"})])
        .await;
    *foreign.lock().unwrap() = Some(id_of(&secrets[0]).parse().unwrap());
    app.data(&beta).item("articles", &json!({"title": "beta-own"})).await;

    app.data(&beta).item("articles", &json!({"title": "probe"})).await;

    let probes = snapshot(&probes);
    assert_eq!(probes.len(), 1, "{probes:?}");
    let probe = &probes[0];
    assert_eq!(probe.tenant_id, beta.tenant.id, "the hook's tenant is beta: {probe:?}");
    assert_eq!(probe.slug, "beta");
    assert_eq!(probe.listed, ["beta-own"], "only beta's items, never acme's: {probe:?}");
    assert_eq!(probe.filtered, Ok(0), "acme's marker is not found from beta: {probe:?}");
    assert_eq!(probe.other_tenants_item, Err("item_not_found".to_string()), "{probe:?}");
}

// ---------------------------------------------------------------------------------------------
// Loop guard, panics, deadlines
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_hook_that_recurses_through_its_own_event_fails_with_508_and_creates_nothing() {
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    let app = TestApp::builder()
        .hooks(move |hooks| {
            hooks.filter("articles.items.create", move |ctx, item| {
                counted.fetch_add(1, Ordering::SeqCst);
                Box::pin(async move {
                    ctx.items("articles").create(json!({"title": "again"})).await?;
                    Ok(item)
                })
            });
        })
        .spawn()
        .await;
    let acme = tenant_with_articles(&app, "acme").await;

    let response = app.data(&acme).create("articles", &json!({"title": "start"})).await;

    assert_problem(response, StatusCode::LOOP_DETECTED, "hook_depth_exceeded").await;
    assert_eq!(all(&app.data(&acme), "articles").await, Vec::<Value>::new(), "nothing at any level");
    let runs = runs.load(Ordering::SeqCst);
    assert!((2..=20).contains(&runs), "the hook nested a bounded number of times: {runs}");
}

#[tokio::test]
async fn a_panicking_filter_is_a_500_hook_failed_creates_nothing_and_the_app_keeps_serving() {
    let app = TestApp::builder()
        .hooks(|hooks| {
            hooks.filter("articles.items.create", |_, item| {
                Box::pin(async move {
                    if item["title"].is_string() {
                        panic!("a filter hook panics on purpose");
                    }
                    Ok(item)
                })
            });
        })
        .spawn()
        .await;
    let acme = tenant_with_articles(&app, "acme").await;
    let data = app.data(&acme);

    let response = data.create("articles", &json!({"title": "boom"})).await;
    assert_problem(response, StatusCode::INTERNAL_SERVER_ERROR, "hook_failed").await;
    let again = data.create("articles", &json!({"title": "boom again"})).await;
    assert_problem(again, StatusCode::INTERNAL_SERVER_ERROR, "hook_failed").await;

    assert_eq!(all(&data, "articles").await, Vec::<Value>::new());
    let log = data.item("logs", &json!({"message": "still serving"})).await;
    assert_eq!(log["message"], "still serving");
}

#[tokio::test]
async fn a_filter_running_past_the_deadline_is_a_504_hook_timeout_answered_in_time_and_creates_nothing() {
    let app = TestApp::builder()
        .var("TB_HOOK_TIMEOUT_MS", "300")
        .hooks(|hooks| {
            hooks.filter("articles.items.create", |_, item| {
                Box::pin(async move {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    Ok(item)
                })
            });
        })
        .spawn()
        .await;
    let acme = tenant_with_articles(&app, "acme").await;
    let data = app.data(&acme);

    let started = Instant::now();
    let response = data.create("articles", &json!({"title": "slow"})).await;
    let elapsed = started.elapsed();

    assert_problem(response, StatusCode::GATEWAY_TIMEOUT, "hook_timeout").await;
    assert!(elapsed < Duration::from_millis(2000), "cut off at the deadline, not after the hook: {elapsed:?}");
    assert_eq!(all(&data, "articles").await, Vec::<Value>::new());
    data.item("logs", &json!({"message": "fast"})).await;
}

// ---------------------------------------------------------------------------------------------
// Error hooks
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_error_hook_sees_the_operations_error_and_can_replace_it() {
    // (event, collection, tenant slug, code seen)
    let errors: Seen<(String, Option<String>, Option<String>, Code)> = seen();
    let recorder = errors.clone();
    let app = TestApp::builder()
        .hooks(move |hooks| {
            hooks.error("items.create", move |event, error| {
                recorder.lock().unwrap().push((
                    event.event.to_string(),
                    event.collection.map(str::to_string),
                    event.tenant.map(|t| t.slug.clone()),
                    error.code(),
                ));
                if error.code() == Code::ValidationFailed {
                    Error::new(Code::Forbidden, "Replaced by an error hook.")
                } else {
                    error
                }
            });
        })
        .spawn()
        .await;
    let acme = tenant_with_articles(&app, "acme").await;
    let data = app.data(&acme);

    let fine = data.create("articles", &json!({"title": "fine"})).await;
    json_body(fine, StatusCode::CREATED).await;
    assert_eq!(snapshot(&errors), [], "a success passes no error hook");

    let response = data.create("articles", &json!({"body": "no title"})).await;

    let problem = assert_problem(response, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(problem["detail"], "Replaced by an error hook.", "{problem}");
    assert_eq!(
        snapshot(&errors),
        [("items.create".to_string(), Some("articles".to_string()), Some("acme".to_string()), Code::ValidationFailed)],
        "the hook saw the 422 with its event, collection and tenant"
    );
    assert_eq!(titles(&all(&data, "articles").await), ["fine"]);
}

// ---------------------------------------------------------------------------------------------
// Composition
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn when_unless_and_chain_compose_filter_hooks() {
    let app = TestApp::builder()
        .hooks(|hooks| {
            hooks.filter(
                "articles.items.create",
                when(
                    |_, item| item["status"] == "published",
                    |_, mut item| {
                        Box::pin(async move {
                            item["views"] = 100.into();
                            Ok(item)
                        })
                    },
                ),
            );
            hooks.filter(
                "articles.items.create",
                unless(
                    |_, item| item["status"] == "published",
                    |_, mut item| {
                        Box::pin(async move {
                            item["body"] = "not published".into();
                            Ok(item)
                        })
                    },
                ),
            );
            hooks.filter(
                "articles.items.create",
                chain(vec![
                    filter_fn(|_, mut item| {
                        Box::pin(async move {
                            item["title"] = format!("{}-a", item["title"].as_str().unwrap_or_default()).into();
                            Ok(item)
                        })
                    }),
                    filter_fn(|_, mut item| {
                        Box::pin(async move {
                            item["title"] = format!("{}-b", item["title"].as_str().unwrap_or_default()).into();
                            Ok(item)
                        })
                    }),
                ]),
            );
        })
        .spawn()
        .await;
    let acme = tenant_with_articles(&app, "acme").await;
    let data = app.data(&acme);

    let published = data.item("articles", &json!({"title": "x", "status": "published"})).await;
    let draft = data.item("articles", &json!({"title": "y"})).await;

    assert_eq!(published["views"], 100, "`when` ran: {published}");
    assert_eq!(published["body"], Value::Null, "`unless` did not: {published}");
    assert_eq!(published["title"], "x-a-b", "the chain ran both, in order: {published}");
    assert_eq!(draft["views"], 0, "`when` did not run: {draft}");
    assert_eq!(draft["body"], "not published", "`unless` ran: {draft}");
    assert_eq!(draft["title"], "y-a-b");
}

#[tokio::test]
async fn a_chain_stops_at_the_first_rejection() {
    let later = Arc::new(AtomicUsize::new(0));
    let counted = later.clone();
    let app = TestApp::builder()
        .hooks(move |hooks| {
            hooks.filter(
                "articles.items.create",
                chain(vec![
                    filter_fn(|_, _| Box::pin(async move { Err(HookError::invalid("first_says_no", "No.")) })),
                    filter_fn(move |_, item| {
                        counted.fetch_add(1, Ordering::SeqCst);
                        Box::pin(async move { Ok(item) })
                    }),
                ]),
            );
        })
        .spawn()
        .await;
    let acme = tenant_with_articles(&app, "acme").await;

    let response = app.data(&acme).create("articles", &json!({"title": "t"})).await;

    assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "first_says_no").await;
    assert_eq!(later.load(Ordering::SeqCst), 0);
}

// ---------------------------------------------------------------------------------------------
// items.query and items.read
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_items_query_filter_adding_a_condition_changes_what_lists_return() {
    let payloads: Seen<Value> = seen();
    let recorder = payloads.clone();
    let app = TestApp::builder()
        .hooks(move |hooks| {
            hooks.filter("articles.items.query", move |_, mut query| {
                recorder.lock().unwrap().push(query.clone());
                Box::pin(async move {
                    let published = json!({"status": {"_eq": "published"}});
                    query["filter"] = match query["filter"].take() {
                        Value::Null => published,
                        given => json!({"_and": [given, published]}),
                    };
                    Ok(query)
                })
            });
        })
        .spawn()
        .await;
    let acme = tenant_with_articles(&app, "acme").await;
    let data = app.data(&acme);
    data.items(
        "articles",
        &[
            json!({"title": "a", "status": "published"}),
            json!({"title": "b"}),
            json!({"title": "c", "status": "published"}),
        ],
    )
    .await;

    assert_eq!(titles(&all(&data, "articles").await), ["a", "c"], "drafts are filtered out by the hook");
    let only_b = data.listed("articles", &[("filter", r#"{"title":{"_eq":"b"}}"#)]).await;
    assert_eq!(only_b["data"], json!([]), "the hook's condition holds alongside the caller's");
    let only_a = data.listed("articles", &[("filter", r#"{"title":{"_eq":"a"}}"#), ("sort", "-title")]).await;
    assert_eq!(titles(only_a["data"].as_array().unwrap()), ["a"]);
    let counted = data.listed("articles", &[("meta", "total_count")]).await;
    assert_eq!(counted["meta"]["total_count"], 2, "{counted}");

    let payloads = snapshot(&payloads);
    let with_filter = payloads.iter().find(|p| p["sort"] == "-title").unwrap_or_else(|| panic!("{payloads:?}"));
    assert_eq!(with_filter["filter"], json!({"title": {"_eq": "a"}}), "the filter arrives parsed: {with_filter}");
    for member in ["filter", "sort", "limit", "offset", "fields", "search", "meta"] {
        assert!(with_filter.get(member).is_some(), "`{member}` in {with_filter}");
    }
    assert_eq!(all(&data, "logs").await, Vec::<Value>::new(), "other collections are not filtered");
}

fn without_body(mut item: Value) -> Value {
    if let Some(object) = item.as_object_mut() {
        object.remove("body");
    }
    item
}

#[tokio::test]
async fn an_items_read_filter_can_hide_members_from_get_and_from_lists() {
    let app = TestApp::builder()
        .hooks(|hooks| {
            hooks.filter("articles.items.read", |_, payload| {
                Box::pin(async move {
                    Ok(match payload {
                        Value::Array(items) => Value::Array(
                            items.into_iter().filter(|item| item["title"] != "hidden").map(without_body).collect(),
                        ),
                        item => without_body(item),
                    })
                })
            });
        })
        .spawn()
        .await;
    let acme = tenant_with_articles(&app, "acme").await;
    let data = app.data(&acme);
    let created = data
        .items("articles", &[json!({"title": "shown", "body": "private"}), json!({"title": "hidden", "body": "x"})])
        .await;

    let fetched = json_body(data.get("articles", &id_of(&created[0])).await, StatusCode::OK).await["data"].clone();
    let listed = all(&data, "articles").await;

    assert!(fetched.get("body").is_none(), "GET hides `body`: {fetched}");
    assert_eq!(fetched["title"], "shown");
    assert_eq!(titles(&listed), ["shown"], "the list hides the hidden item");
    assert!(listed.iter().all(|item| item.get("body").is_none()), "lists hide `body`: {listed:?}");
}

// ---------------------------------------------------------------------------------------------
// The example extension
// ---------------------------------------------------------------------------------------------

fn stats_articles() -> Value {
    json!({"name": "articles", "fields": [
        {"name": "title", "type": "string"},
        {"name": "body", "type": "text"},
        {"name": "slug", "type": "string"},
        {"name": "word_count", "type": "integer"},
    ]})
}

async fn article_stats_keeps_slug_and_word_count(app: TestApp) {
    let acme = app.tenant_admin("acme").await;
    let beta = app.tenant_admin("beta").await;
    app.data(&acme).collection(&stats_articles()).await;
    app.data(&beta).collection(&stats_articles()).await;
    put_settings(&app, &acme.tenant, json!({"extensions": {"article_stats": true}})).await;
    let body = json!({"title": "Hello, World 2", "body": "one two three"});

    let created = app.data(&acme).item("articles", &body).await;
    let untouched = app.data(&beta).item("articles", &body).await;

    assert_eq!((&created["slug"], &created["word_count"]), (&json!("hello-world-2"), &json!(3)), "{created}");
    let id = id_of(&created);
    let stored = json_body(app.data(&acme).get("articles", &id).await, StatusCode::OK).await["data"].clone();
    assert_eq!((&stored["slug"], &stored["word_count"]), (&json!("hello-world-2"), &json!(3)), "{stored}");
    assert_eq!(
        (&untouched["slug"], &untouched["word_count"]),
        (&Value::Null, &Value::Null),
        "not enabled: {untouched}"
    );

    let patched = app.data(&acme).patch("articles", &id, &json!({"title": "Second Take!"})).await;
    let patched = json_body(patched, StatusCode::OK).await["data"].clone();
    assert_eq!((&patched["slug"], &patched["word_count"]), (&json!("second-take"), &json!(3)), "{patched}");
    let patched = app.data(&acme).patch("articles", &id, &json!({"body": "just two"})).await;
    let patched = json_body(patched, StatusCode::OK).await["data"].clone();
    assert_eq!((&patched["slug"], &patched["word_count"]), (&json!("second-take"), &json!(2)), "{patched}");

    let untitled = app.data(&acme).create("articles", &json!({"title": "!!!"})).await;
    assert_problem(untitled, StatusCode::UNPROCESSABLE_ENTITY, "title_without_words").await;
}

#[tokio::test]
async fn the_article_stats_extension_derives_slug_and_word_count_once_enabled() {
    article_stats_keeps_slug_and_word_count(TestApp::builder().spawn().await).await;
}

#[tokio::test]
async fn the_article_stats_extension_derives_slug_and_word_count_once_enabled_on_sqlite() {
    article_stats_keeps_slug_and_word_count(TestApp::builder().sqlite().spawn().await).await;
}

// ---------------------------------------------------------------------------------------------
// Users, logins and tenants fire actions
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn creating_a_user_fires_users_create_with_the_user_and_never_a_password_or_hash() {
    let (app, fired) = app_recording_actions("users.create").await;
    let acme = app.tenant_admin("acme").await;

    let user = app.users(&acme).create_user("member@acme.test", "viewer").await;

    let (tenant_id, payload) = eventually(Duration::from_secs(5), "the users.create action", || {
        let fired = fired.clone();
        async move { snapshot(&fired).into_iter().find(|(_, p)| p["email"] == "member@acme.test") }
    })
    .await;
    assert_eq!(tenant_id, Some(acme.tenant.id));
    assert_eq!(payload["id"], user.id.to_string(), "{payload}");
    let keys = all_keys(&payload);
    assert!(!keys.iter().any(|k| k.contains("password") || k.contains("hash")), "no secret members: {payload}");
    let mut members: Vec<&str> = payload.as_object().unwrap().keys().map(String::as_str).collect();
    members.sort();
    assert_eq!(members, USER_MEMBERS, "the user as the API shows it: {payload}");
}

#[tokio::test]
async fn logging_in_fires_auth_login_with_the_user_as_caller() {
    // (tenant, caller, payload)
    let fired: Seen<(Option<Uuid>, Option<Uuid>, Value)> = seen();
    let recorder = fired.clone();
    let app = TestApp::builder()
        .hooks(move |hooks| {
            hooks.action("auth.login", move |ctx, payload| {
                let recorder = recorder.clone();
                async move {
                    recorder.lock().unwrap().push((ctx.tenant_id(), ctx.caller().map(|c| c.id), payload));
                    Ok(())
                }
            });
        })
        .spawn()
        .await;
    let acme = app.tenant_admin("acme").await;
    let me = json_body(app.users(&acme).me().await, StatusCode::OK).await;
    let user_id: Uuid = me["data"]["id"].as_str().unwrap().parse().unwrap();

    let (tenant_id, caller, payload) = eventually(Duration::from_secs(5), "the auth.login action", || {
        let fired = fired.clone();
        async move { snapshot(&fired).into_iter().find(|(_, _, p)| p["user"] == user_id.to_string()) }
    })
    .await;

    assert_eq!(tenant_id, Some(acme.tenant.id), "{payload}");
    assert_eq!(caller, Some(user_id), "the caller is the user who logged in");
    assert!(!all_keys(&payload).iter().any(|k| k.contains("password")), "{payload}");
}

#[tokio::test]
async fn creating_a_tenant_fires_tenants_create_in_that_tenants_context() {
    let (app, fired) = app_recording_actions("tenants.create").await;

    let gamma = app.create_tenant("gamma").await;

    let (tenant_id, payload) = eventually(Duration::from_secs(5), "the tenants.create action", || {
        let fired = fired.clone();
        async move { snapshot(&fired).into_iter().find(|(_, p)| p["slug"] == "gamma") }
    })
    .await;
    assert_eq!(tenant_id, Some(gamma.id), "{payload}");
    assert_eq!(payload["id"], gamma.id.to_string(), "{payload}");
    assert_eq!(payload["name"], gamma.name, "{payload}");
}

// ---------------------------------------------------------------------------------------------
// Init and routes hooks
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn init_hooks_have_run_before_and_after_binding_by_the_time_the_app_serves() {
    let stages: Seen<String> = seen();
    let (before, after) = (stages.clone(), stages.clone());
    let app = TestApp::builder()
        .hooks(move |hooks| {
            hooks.init(InitStage::AppBefore, move |event| before.lock().unwrap().push(format!("{:?}", event.stage)));
            hooks.init(InitStage::AppAfter, move |event| after.lock().unwrap().push(format!("{:?}", event.stage)));
        })
        .spawn()
        .await;

    assert_eq!(snapshot(&stages), ["AppBefore", "AppAfter"]);
    let live = app.get("/health/live").send().await.unwrap();
    assert_eq!(live.status(), StatusCode::OK, "the app serves");
}

#[tokio::test]
async fn a_routes_hook_adds_a_working_route() {
    let app = TestApp::builder()
        .hooks(|hooks| {
            hooks.routes(|cfg| {
                cfg.route("/ext/ping", actix_web::web::get().to(|| async { "pong" }));
            });
        })
        .spawn()
        .await;

    let response = app.get("/ext/ping").send().await.unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "pong");
}

#[tokio::test]
async fn an_auth_login_filter_can_refuse_an_attempt_before_the_password_is_checked() {
    let app = TestApp::builder()
        .hooks(|hooks| {
            hooks.filter("auth.login", |_, attempt| {
                Box::pin(async move {
                    if attempt["email"].as_str().is_some_and(|email| email.starts_with("blocked@")) {
                        return Err(HookError::forbidden("login_blocked", "This account may not log in here."));
                    }
                    Ok(attempt)
                })
            });
        })
        .spawn()
        .await;
    let acme = app.tenant_admin("acme").await;
    app.users(&acme).create_user("blocked@acme.test", "viewer").await;

    let refused = app.login(Some("acme"), "blocked@acme.test", crate::helpers::users::MEMBER_PASSWORD).await;
    let wrong_password = app.login(Some("acme"), "blocked@acme.test", "not-the-password-at-all").await;
    let allowed = app.login(Some("acme"), &acme.email, crate::helpers::TENANT_ADMIN_PASSWORD).await;

    let problem = assert_problem(refused, StatusCode::FORBIDDEN, "login_blocked").await;
    assert_eq!(problem["detail"], "This account may not log in here.");
    assert_problem(wrong_password, StatusCode::FORBIDDEN, "login_blocked").await;
    json_body(allowed, StatusCode::OK).await;
}
