//! The activity log (API.md "Activity", docs/hooks.md "Built in"): the built-in `audit` extension
//! records item creates, updates and deletes and logins of a tenant; `GET /api/activity` shows
//! them to the tenant's admins, newest first, with the item list rules, and nothing else can
//! read, change or delete them.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    RequestExt, TENANT_ADMIN_PASSWORD, TenantAdmin, TestApp, assert_problem, eventually,
    items::{DataApi, Naming},
    json_body, spawn_app, spawn_sqlite_app, tenant_host,
    tokens::decode_claims,
    users::MEMBER_PASSWORD,
};

/// The members of an entry, and the only ones it may have.
const ENTRY_MEMBERS: [&str; 7] = ["action", "collection", "delta", "id", "item", "timestamp", "user"];
/// How long an action hook may take to write its entry.
const WAIT: Duration = Duration::from_secs(10);

fn posts_collection() -> Value {
    json!({"name": "posts", "fields": [
        {"name": "title", "type": "string", "required": true, "max_length": 100},
        {"name": "body", "type": "text"},
        {"name": "status", "type": "string", "default": "draft"},
        {"name": "views", "type": "integer", "default": 0},
    ]})
}

/// A tenant with its admin (logged in) and the posts collection.
async fn posts_tenant(app: &TestApp, slug: &str) -> TenantAdmin {
    let admin = app.tenant_admin(slug).await;
    app.data(&admin).collection(&posts_collection()).await;
    admin
}

fn id_of(value: &Value) -> String {
    value["id"].as_str().unwrap_or_else(|| panic!("no id in {value}")).to_string()
}

/// The caller's user id, from `GET /api/users/me`.
async fn me(app: &TestApp, slug: &str, token: &str) -> String {
    let body = json_body(app.users_as(slug, token).me().await, StatusCode::OK).await;
    id_of(&body["data"])
}

fn timestamp(value: &Value) -> DateTime<Utc> {
    let text = value.as_str().unwrap_or_else(|| panic!("a timestamp string, was {value}"));
    DateTime::parse_from_rfc3339(text).unwrap_or_else(|e| panic!("`{text}` is not RFC 3339: {e}")).with_timezone(&Utc)
}

/// `GET /api/activity` as `api`'s caller with these query pairs.
async fn activity_of(api: &DataApi<'_>, query: &[(&str, &str)]) -> Response {
    api.request(Method::GET, "/api/activity").query(query).send().await.unwrap()
}

/// `GET /api/activity` as `api`'s caller, expecting 200; the whole body. Every entry is checked
/// for its shape.
async fn activity_body(api: &DataApi<'_>, query: &[(&str, &str)]) -> Value {
    let body = json_body(activity_of(api, query).await, StatusCode::OK).await;
    for entry in body["data"].as_array().unwrap_or_else(|| panic!("data is not a list: {body}")) {
        assert_entry_shape(entry);
    }
    body
}

/// The entries `api`'s caller sees with these query pairs.
async fn entries_of(api: &DataApi<'_>, query: &[(&str, &str)]) -> Vec<Value> {
    activity_body(api, query).await["data"].as_array().unwrap().clone()
}

/// The tenant admin's entries (on its subdomain).
async fn entries(app: &TestApp, admin: &TenantAdmin, query: &[(&str, &str)]) -> Vec<Value> {
    entries_of(&app.data(admin), query).await
}

/// Polls the admin's (unfiltered, up to 1000) entries until `done` holds for them.
async fn entries_until(app: &TestApp, admin: &TenantAdmin, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    eventually(WAIT, what, || async {
        let list = entries(app, admin, &[("limit", "1000")]).await;
        done(&list).then_some(list)
    })
    .await
}

/// Polls until an entry with this action on this item exists; returns it.
async fn entry_for(app: &TestApp, admin: &TenantAdmin, action: &str, item: &str) -> Value {
    let list = entries_until(app, admin, &format!("the `{action}` entry of {item}"), |list| {
        list.iter().any(|e| e["action"] == action && e["item"] == item)
    })
    .await;
    list.into_iter().find(|e| e["action"] == action && e["item"] == item).unwrap()
}

/// Polls until `count` login entries of `user` exist.
async fn logins_of(app: &TestApp, admin: &TenantAdmin, user: &str, count: usize) -> Vec<Value> {
    let matching = |list: &[Value]| -> Vec<Value> {
        list.iter().filter(|e| e["action"] == "login" && e["user"] == user).cloned().collect()
    };
    let list =
        entries_until(app, admin, &format!("{count} login entries of {user}"), |list| matching(list).len() >= count)
            .await;
    matching(&list)
}

fn assert_entry_shape(entry: &Value) {
    let object = entry.as_object().unwrap_or_else(|| panic!("an entry is an object: {entry}"));
    let mut members: Vec<&str> = object.keys().map(String::as_str).collect();
    members.sort();
    assert_eq!(members, ENTRY_MEMBERS, "an entry has exactly the seven members: {entry}");
    let id = entry["id"].as_str().unwrap_or_else(|| panic!("an entry id is a string: {entry}"));
    id.parse::<Uuid>().unwrap_or_else(|e| panic!("an entry id is a UUID ({e}): {entry}"));
    let action = entry["action"].as_str().unwrap_or_else(|| panic!("action is a string: {entry}"));
    assert!(["create", "update", "delete", "login"].contains(&action), "unknown action in {entry}");
    timestamp(&entry["timestamp"]);
}

fn ids(entries: &[Value]) -> Vec<String> {
    entries.iter().map(id_of).collect()
}

/// The entries about items (not logins, nor changes to users or settings, whose collections
/// are `tb_…`), in the order given.
fn item_entries(entries: &[Value]) -> Vec<Value> {
    let about_items =
        |e: &Value| e["action"] != "login" && !e["collection"].as_str().is_some_and(|c| c.starts_with("tb_"));
    entries.iter().filter(|e| about_items(e)).cloned().collect()
}

fn assert_recent(entry: &Value, before: DateTime<Utc>, after: DateTime<Utc>) {
    let at = timestamp(&entry["timestamp"]);
    let slack = chrono::Duration::seconds(2);
    assert!(at >= before - slack && at <= after + slack, "timestamp {at} is not between {before} and {after}: {entry}");
}

#[tokio::test]
async fn creates_updates_and_deletes_are_recorded_with_the_acting_user_and_the_delta() {
    let app = spawn_app().await;
    let acme = posts_tenant(&app, "acme").await;
    let editor = app.member(&acme, "editor").await;
    let admin_id = me(&app, "acme", &acme.token).await;
    let editor_id = me(&app, "acme", editor.token()).await;
    assert_ne!(admin_id, editor_id);
    let as_editor = app.data_as(Naming::Host("acme".into()), Some(editor.token()));
    let before = Utc::now();

    let first = app.data(&acme).item("posts", &json!({"title": "First", "body": "Hello", "views": 3})).await;
    let first_id = id_of(&first);
    let created = entry_for(&app, &acme, "create", &first_id).await;
    let patched =
        json_body(as_editor.patch("posts", &first_id, &json!({"title": "Second"})).await, StatusCode::OK).await;
    assert_eq!(patched["data"]["title"], "Second");
    let updated = entry_for(&app, &acme, "update", &first_id).await;
    let other = as_editor.item("posts", &json!({"title": "By the editor"})).await;
    let other_id = id_of(&other);
    let other_created = entry_for(&app, &acme, "create", &other_id).await;
    assert_eq!(app.data(&acme).delete("posts", &first_id).await.status(), StatusCode::NO_CONTENT);
    let deleted = entry_for(&app, &acme, "delete", &first_id).await;
    let after = Utc::now();

    assert_eq!(
        (&created["action"], &created["collection"], &created["item"], &created["user"]),
        (&json!("create"), &json!("posts"), &json!(first_id), &json!(admin_id)),
        "the admin's create: {created}"
    );
    let delta = created["delta"].as_object().unwrap_or_else(|| panic!("a create's delta is an object: {created}"));
    for (name, value) in [("title", json!("First")), ("body", json!("Hello")), ("views", json!(3))] {
        assert_eq!(delta.get(name), Some(&value), "a create's delta has the created `{name}`: {created}");
    }
    for (name, value) in delta {
        assert!(
            ["title", "body", "status", "views"].contains(&name.as_str()),
            "a create's delta has `{name}`: {created}"
        );
        assert_eq!(&first[name], value, "the delta's `{name}` is what was created: {created} vs {first}");
    }

    assert_eq!(
        (&updated["action"], &updated["collection"], &updated["item"], &updated["user"]),
        (&json!("update"), &json!("posts"), &json!(first_id), &json!(editor_id)),
        "the editor's update names the editor, not the item's creator: {updated}"
    );
    assert_eq!(updated["delta"], json!({"title": "Second"}), "an update's delta holds only the changed fields");

    assert_eq!(
        (&other_created["action"], &other_created["item"], &other_created["user"]),
        (&json!("create"), &json!(other_id), &json!(editor_id)),
        "the editor's create: {other_created}"
    );
    assert_eq!(other_created["delta"]["title"], "By the editor", "{other_created}");

    assert_eq!(
        (&deleted["action"], &deleted["collection"], &deleted["item"], &deleted["user"], &deleted["delta"]),
        (&json!("delete"), &json!("posts"), &json!(first_id), &json!(admin_id), &Value::Null),
        "the admin's delete, with a null delta: {deleted}"
    );

    for entry in [&created, &updated, &other_created, &deleted] {
        assert_recent(entry, before, after);
    }
    let ids_seen = ids(&[created.clone(), updated.clone(), other_created.clone(), deleted.clone()]);
    let mut distinct = ids_seen.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 4, "each entry has its own id: {ids_seen:?}");

    let listed = item_entries(&entries(&app, &acme, &[]).await);
    assert_eq!(ids(&listed), ids(&[deleted, other_created, updated, created]), "newest first by default");
}

#[tokio::test]
async fn an_update_delta_leaves_out_fields_sent_with_their_current_value() {
    let app = spawn_app().await;
    let acme = posts_tenant(&app, "acme").await;
    let item = app.data(&acme).item("posts", &json!({"title": "Same", "views": 5, "body": "Text"})).await;
    let id = id_of(&item);

    let patch = json!({"title": "Same", "views": 6, "body": "Text"});
    json_body(app.data(&acme).patch("posts", &id, &patch).await, StatusCode::OK).await;

    let updated = entry_for(&app, &acme, "update", &id).await;
    assert_eq!(updated["delta"], json!({"views": 6}), "only `views` changed: {updated}");
}

#[tokio::test]
async fn a_batch_create_records_one_entry_per_item() {
    let app = spawn_app().await;
    // A tenant nobody has logged in to yet: its log is first written by five concurrent entries.
    app.create_tenant_with_admin("acme", "admin@acme.test", TENANT_ADMIN_PASSWORD).await;
    let platform_token = app.platform_token().await;
    let platform_id = decode_claims(&platform_token)["sub"].as_str().unwrap().to_string();
    let as_platform = app.data_as(Naming::Header("acme".into()), Some(&platform_token));
    as_platform.collection(&posts_collection()).await;
    let bodies: Vec<Value> = (1..=5).map(|n| json!({"title": format!("Post {n}"), "views": n})).collect();

    let created = as_platform.items("posts", &bodies).await;

    let mut expected: Vec<String> = created.iter().map(id_of).collect();
    expected.sort();
    let listed = eventually(WAIT, "five create entries", || async {
        let list = entries_of(&as_platform, &[]).await;
        (list.iter().filter(|e| e["action"] == "create").count() >= 5).then_some(list)
    })
    .await;
    let creates: Vec<&Value> = listed.iter().filter(|e| e["action"] == "create").collect();
    let mut recorded: Vec<String> = creates.iter().map(|e| e["item"].as_str().unwrap().to_string()).collect();
    recorded.sort();
    assert_eq!(recorded, expected, "one entry per created item: {listed:?}");
    for entry in creates {
        assert_eq!(entry["collection"], "posts", "{entry}");
        assert_eq!(entry["user"], platform_id.as_str(), "the platform admin acted: {entry}");
        let item = created.iter().find(|c| c["id"] == entry["item"]).unwrap();
        assert_eq!(entry["delta"]["title"], item["title"], "{entry}");
        assert_eq!(entry["delta"]["views"], item["views"], "{entry}");
    }
}

#[tokio::test]
async fn logins_are_recorded_with_the_user() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let admin_id = me(&app, "acme", &acme.token).await;
    let viewer = app.member(&acme, "viewer").await;
    let viewer_id = viewer.user.id.to_string();
    let before = Utc::now();

    app.login_pair(Some("acme"), &viewer.email, MEMBER_PASSWORD).await;
    let after = Utc::now();

    let admin_logins = logins_of(&app, &acme, &admin_id, 1).await;
    assert_eq!(admin_logins.len(), 1, "the admin logged in once: {admin_logins:?}");
    let viewer_logins = logins_of(&app, &acme, &viewer_id, 2).await;
    assert_eq!(viewer_logins.len(), 2, "the viewer logged in twice: {viewer_logins:?}");
    assert_recent(&viewer_logins[0], before, after);
    for entry in admin_logins.iter().chain(&viewer_logins) {
        assert_eq!(entry["action"], "login", "{entry}");
    }
}

#[tokio::test]
async fn entries_are_newest_first_and_sort_by_timestamp() {
    let app = spawn_app().await;
    let acme = posts_tenant(&app, "acme").await;
    let mut created = Vec::new();
    for n in 1..=4 {
        let item = app.data(&acme).item("posts", &json!({"title": format!("Post {n}")})).await;
        created.push(entry_for(&app, &acme, "create", &id_of(&item)).await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let newest_first = entries(&app, &acme, &[]).await;
    let ascending = entries(&app, &acme, &[("sort", "timestamp")]).await;
    let descending = entries(&app, &acme, &[("sort", "-timestamp")]).await;

    let mut expected = ids(&created);
    expected.reverse();
    assert_eq!(ids(&item_entries(&newest_first)), expected, "newest first by default");
    let stamps: Vec<DateTime<Utc>> = newest_first.iter().map(|e| timestamp(&e["timestamp"])).collect();
    assert!(stamps.windows(2).all(|w| w[0] >= w[1]), "timestamps descend by default: {stamps:?}");
    let mut reversed = ids(&newest_first);
    reversed.reverse();
    assert_eq!(ids(&ascending), reversed, "sort=timestamp is oldest first");
    assert_eq!(ids(&descending), ids(&newest_first), "sort=-timestamp is the default order");
}

#[tokio::test]
async fn entries_written_at_once_are_still_newest_first() {
    let app = spawn_app().await;
    let acme = posts_tenant(&app, "acme").await;
    let bodies: Vec<Value> = (1..=20).map(|n| json!({"title": format!("Post {n}")})).collect();
    let created = app.data(&acme).items("posts", &bodies).await;
    entries_until(&app, &acme, "twenty create entries", |list| {
        list.iter().filter(|e| e["action"] == "create").count() == created.len()
    })
    .await;

    let newest_first = entries(&app, &acme, &[("limit", "1000")]).await;
    let by_timestamp = entries(&app, &acme, &[("limit", "1000"), ("sort", "-timestamp")]).await;

    let stamps: Vec<&str> = newest_first.iter().map(|e| e["timestamp"].as_str().unwrap()).collect();
    let out_of_order: Vec<_> = newest_first
        .windows(2)
        .filter(|w| timestamp(&w[0]["timestamp"]) < timestamp(&w[1]["timestamp"]))
        .map(|w| (w[0]["timestamp"].clone(), w[0]["id"].clone(), w[1]["timestamp"].clone(), w[1]["id"].clone()))
        .collect();
    assert!(
        out_of_order.is_empty(),
        "the default order is not newest first, pairs out of order: {out_of_order:#?}\n{stamps:#?}"
    );
    assert_eq!(ids(&newest_first), ids(&by_timestamp), "the default order is sort=-timestamp");
}

/// Three collections' worth of entries by two users, for the query tests.
struct Logged {
    acme: TenantAdmin,
    admin_id: String,
    editor_id: String,
    first_id: String,
    all: Vec<Value>,
}

async fn logged(app: &TestApp) -> Logged {
    let acme = posts_tenant(app, "acme").await;
    app.data(&acme).collection(&json!({"name": "notes", "fields": [{"name": "text", "type": "string"}]})).await;
    let editor = app.member(&acme, "editor").await;
    let admin_id = me(app, "acme", &acme.token).await;
    let editor_id = me(app, "acme", editor.token()).await;
    let as_editor = app.data_as(Naming::Host("acme".into()), Some(editor.token()));

    let first = app.data(&acme).item("posts", &json!({"title": "One"})).await;
    let first_id = id_of(&first);
    entry_for(app, &acme, "create", &first_id).await;
    let note = as_editor.item("notes", &json!({"text": "n"})).await;
    entry_for(app, &acme, "create", &id_of(&note)).await;
    json_body(as_editor.patch("posts", &first_id, &json!({"title": "Two"})).await, StatusCode::OK).await;
    entry_for(app, &acme, "update", &first_id).await;
    let second = as_editor.item("posts", &json!({"title": "Three"})).await;
    entry_for(app, &acme, "create", &id_of(&second)).await;
    assert_eq!(as_editor.delete("notes", &id_of(&note)).await.status(), StatusCode::NO_CONTENT);
    entry_for(app, &acme, "delete", &id_of(&note)).await;

    let all = entries(app, &acme, &[("limit", "1000")]).await;
    // Two logins, the editor's creation (a user), three creates, an update and a delete.
    assert_eq!(all.len(), 8, "{all:?}");
    Logged { acme, admin_id, editor_id, first_id, all }
}

/// The ids of `all` that `keep` selects, in the default order.
fn expected_ids(all: &[Value], keep: impl Fn(&Value) -> bool) -> Vec<String> {
    ids(&all.iter().filter(|e| keep(e)).cloned().collect::<Vec<_>>())
}

#[tokio::test]
async fn filters_on_action_collection_item_user_and_timestamp_select_entries() {
    let app = spawn_app().await;
    let log = logged(&app).await;
    let filtered = async |filter: Value| ids(&entries(&app, &log.acme, &[("filter", &filter.to_string())]).await);

    let updates = filtered(json!({"action": {"_eq": "update"}})).await;
    assert_eq!(updates, expected_ids(&log.all, |e| e["action"] == "update"));
    assert_eq!(updates.len(), 1);

    let not_logins = filtered(json!({"action": {"_in": ["create", "delete"]}})).await;
    assert_eq!(not_logins, expected_ids(&log.all, |e| e["action"] == "create" || e["action"] == "delete"));
    assert_eq!(not_logins.len(), 5, "the editor's creation, three creates and a delete");

    let notes = filtered(json!({"collection": {"_eq": "notes"}})).await;
    assert_eq!(notes, expected_ids(&log.all, |e| e["collection"] == "notes"));
    assert_eq!(notes.len(), 2);

    let about_first = filtered(json!({"item": {"_eq": log.first_id}})).await;
    assert_eq!(about_first, expected_ids(&log.all, |e| e["item"] == log.first_id.as_str()));
    assert_eq!(about_first.len(), 2, "the first post's create and update");

    let by_editor = filtered(json!({"user": {"_eq": log.editor_id}})).await;
    assert_eq!(by_editor, expected_ids(&log.all, |e| e["user"] == log.editor_id.as_str()));
    assert_eq!(by_editor.len(), 5, "the editor's login, create, update, create and delete");
    let by_admin = filtered(json!({"user": {"_eq": log.admin_id}})).await;
    assert_eq!(by_admin.len(), 3, "the admin's login, the editor's creation and a create: {by_admin:?}");

    let cut = log.all[3]["timestamp"].as_str().unwrap().to_string();
    let cut_at = timestamp(&json!(cut));
    let since = filtered(json!({"timestamp": {"_gte": cut}})).await;
    assert_eq!(since, expected_ids(&log.all, |e| timestamp(&e["timestamp"]) >= cut_at));
    let until = filtered(json!({"timestamp": {"_lt": cut}})).await;
    assert_eq!(until, expected_ids(&log.all, |e| timestamp(&e["timestamp"]) < cut_at));
    assert_eq!(since.len() + until.len(), log.all.len());

    let combined =
        filtered(json!({"_and": [{"user": {"_eq": log.editor_id}}, {"collection": {"_eq": "posts"}}]})).await;
    assert_eq!(combined, expected_ids(&log.all, |e| e["user"] == log.editor_id.as_str() && e["collection"] == "posts"));
    assert_eq!(combined.len(), 2);
    let none = filtered(json!({"item": {"_eq": Uuid::now_v7().to_string()}})).await;
    assert!(none.is_empty(), "{none:?}");
}

#[tokio::test]
async fn limit_offset_and_total_count_follow_the_item_rules() {
    let app = spawn_app().await;
    let log = logged(&app).await;
    let all = ids(&log.all);

    let first_two = activity_body(&app.data(&log.acme), &[("limit", "2")]).await;
    let page = activity_body(&app.data(&log.acme), &[("limit", "2"), ("offset", "3"), ("meta", "total_count")]).await;
    let past_end = activity_body(&app.data(&log.acme), &[("offset", "50"), ("meta", "total_count")]).await;
    let none = activity_body(&app.data(&log.acme), &[("limit", "0"), ("meta", "total_count")]).await;
    let filtered = activity_body(
        &app.data(&log.acme),
        &[("filter", r#"{"action":{"_eq":"create"}}"#), ("limit", "1"), ("meta", "total_count")],
    )
    .await;

    assert_eq!(ids(first_two["data"].as_array().unwrap()), all[..2].to_vec());
    assert!(
        first_two.get("meta").is_none_or(|meta| meta.get("total_count").is_none()),
        "no count unasked: {first_two}"
    );
    assert_eq!(ids(page["data"].as_array().unwrap()), all[3..5].to_vec());
    assert_eq!(page["meta"]["total_count"], 8, "{page}");
    assert_eq!(past_end["data"], json!([]));
    assert_eq!(past_end["meta"]["total_count"], 8, "{past_end}");
    assert_eq!(none["data"], json!([]));
    assert_eq!(none["meta"]["total_count"], 8, "{none}");
    assert_eq!(filtered["data"].as_array().unwrap().len(), 1);
    assert_eq!(filtered["meta"]["total_count"], 4, "the count is of the filter's matches: {filtered}");

    for (name, value) in [("limit", "1001"), ("limit", "-1"), ("limit", "many"), ("offset", "-1"), ("offset", "x")] {
        let on_items = app.data(&log.acme).list("posts", &[(name, value)]).await.status();
        let response = activity_of(&app.data(&log.acme), &[(name, value)]).await;
        assert_eq!(response.status(), on_items, "{name}={value} is answered as on items");
        if name == "limit" {
            assert_problem(response, StatusCode::BAD_REQUEST, "invalid_query").await;
        }
    }
}

#[tokio::test]
async fn a_filter_or_sort_on_an_unknown_field_is_400_invalid_query() {
    let app = spawn_app().await;
    let log = logged(&app).await;
    let api = app.data(&log.acme);

    for (name, value) in [
        ("filter", r#"{"nope":{"_eq":"x"}}"#),
        ("filter", r#"{"password":{"_eq":"x"}}"#),
        ("filter", r#"{"_and":[{"action":{"_eq":"create"}},{"nope":{"_null":true}}]}"#),
        ("filter", r#"{"action":{"_eq":"create"}"#),
        ("filter", r#"{"timestamp":{"_gte":"yesterday"}}"#),
        ("filter", r#"{"user":{"_eq":"not-a-uuid"}}"#),
        ("filter", r#"{"action":{"_like":"c%"}}"#),
        ("sort", "nope"),
    ] {
        let response = activity_of(&api, &[(name, value)]).await;
        assert_problem(response, StatusCode::BAD_REQUEST, "invalid_query").await;
    }
}

#[tokio::test]
async fn the_storage_members_behind_an_entry_are_not_part_of_it() {
    let app = spawn_app().await;
    let log = logged(&app).await;
    let api = app.data(&log.acme);
    let mut deviations = Vec::new();

    // An entry has seven members: the fields of the item it is stored as are not among them,
    // and a filter or sort on them is one on an unknown field.
    for hidden in ["version", "date_created", "date_updated", "user_created"] {
        let filter = json!({hidden: {"_nnull": true}}).to_string();
        for (name, value) in [("filter", filter.as_str()), ("sort", hidden)] {
            let (status, code) = outcome(activity_of(&api, &[(name, value)]).await).await;
            if (status, code.as_str()) != (StatusCode::BAD_REQUEST, "invalid_query") {
                deviations.push(format!("{name}={value}: {status}, expected 400 invalid_query"));
            }
        }
    }
    // Asking for them by `fields` either fails or still shows only an entry's members.
    let fields = "id,version,user_created,date_created,date_updated";
    let response = activity_of(&api, &[("fields", fields)]).await;
    if response.status() == StatusCode::OK {
        let body = json_body(response, StatusCode::OK).await;
        for entry in body["data"].as_array().unwrap() {
            let members: Vec<&String> = entry.as_object().unwrap().keys().collect();
            if members.iter().any(|m| !ENTRY_MEMBERS.contains(&m.as_str())) {
                deviations.push(format!("fields={fields} shows {entry}"));
                break;
            }
        }
    } else {
        let (status, code) = outcome(response).await;
        if (status, code.as_str()) != (StatusCode::BAD_REQUEST, "invalid_query") {
            deviations.push(format!("fields={fields}: {status} {code}"));
        }
    }
    assert!(deviations.is_empty(), "storage members leak into the log's contract:\n{}", deviations.join("\n"));
}

#[tokio::test]
async fn a_tenant_admin_sees_only_its_own_tenants_entries() {
    let app = spawn_app().await;
    let alpha = posts_tenant(&app, "alpha").await;
    let bravo = posts_tenant(&app, "bravo").await;
    let alpha_admin = me(&app, "alpha", &alpha.token).await;
    let bravo_admin = me(&app, "bravo", &bravo.token).await;
    let marker = "alpha-marker-5081";
    let alpha_item = app.data(&alpha).item("posts", &json!({"title": marker, "body": marker})).await;
    let alpha_id = id_of(&alpha_item);
    json_body(app.data(&alpha).patch("posts", &alpha_id, &json!({"body": marker})).await, StatusCode::OK).await;
    entry_for(&app, &alpha, "update", &alpha_id).await;
    let bravo_item = app.data(&bravo).item("posts", &json!({"title": "bravo-marker-2290"})).await;
    let bravo_id = id_of(&bravo_item);
    entry_for(&app, &bravo, "create", &bravo_id).await;

    let callers = [
        ("host", app.data(&bravo)),
        ("header", app.data_as(Naming::Header("bravo".into()), Some(&bravo.token))),
        ("header by id", app.data_as(Naming::Header(bravo.tenant.id.to_string()), Some(&bravo.token))),
        ("token", app.data_as(Naming::Token, Some(&bravo.token))),
    ];
    for (how, api) in &callers {
        let response = activity_of(api, &[("limit", "1000"), ("meta", "total_count")]).await;
        let text = response.text().await.unwrap();
        assert!(!text.contains(marker), "bravo by {how} sees alpha's marker: {text}");
        assert!(!text.contains(&alpha_id), "bravo by {how} sees alpha's item: {text}");
        assert!(!text.contains(&alpha_admin), "bravo by {how} sees alpha's admin: {text}");
        let body: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{how}: not JSON ({e}): {text}"));
        let list = body["data"].as_array().unwrap_or_else(|| panic!("{how}: no list: {text}"));
        assert_eq!(list.len(), 2, "bravo by {how}: its admin's login and its create: {text}");
        assert_eq!(body["meta"]["total_count"], 2, "{how}: {text}");
        for entry in list {
            assert_entry_shape(entry);
            assert_eq!(entry["user"], bravo_admin.as_str(), "{how}: {entry}");
            assert!(entry["item"].is_null() || entry["item"] == bravo_id.as_str(), "{how}: {entry}");
        }
        let aimed = json!({"item": {"_eq": alpha_id}}).to_string();
        assert_eq!(entries_of(api, &[("filter", &aimed)]).await, Vec::<Value>::new(), "{how}");
        let by_user = json!({"user": {"_eq": alpha_admin}}).to_string();
        assert_eq!(entries_of(api, &[("filter", &by_user)]).await, Vec::<Value>::new(), "{how}");
    }

    let alpha_entries = entries(&app, &alpha, &[("limit", "1000")]).await;
    assert_eq!(alpha_entries.len(), 3, "alpha: login, create, update: {alpha_entries:?}");
    assert!(alpha_entries.iter().all(|e| e["user"] == alpha_admin.as_str()), "{alpha_entries:?}");
    let text = serde_json::to_string(&alpha_entries).unwrap();
    assert!(!text.contains("bravo-marker") && !text.contains(&bravo_id), "{text}");

    // Alpha's token cannot be pointed at bravo.
    let crossed = app.get("/api/activity").bearer_auth(&alpha.token).host(&tenant_host("bravo")).send().await.unwrap();
    assert_problem(crossed, StatusCode::UNAUTHORIZED, "token_tenant_mismatch").await;
    let crossed = app.get("/api/activity").bearer_auth(&alpha.token).tenant_header("bravo").send().await.unwrap();
    assert_problem(crossed, StatusCode::UNAUTHORIZED, "token_tenant_mismatch").await;
}

#[tokio::test]
async fn only_tenant_admins_read_the_log() {
    let app = spawn_app().await;
    let acme = posts_tenant(&app, "acme").await;
    let viewer = app.member(&acme, "viewer").await;
    let editor = app.member(&acme, "editor").await;
    let item = app.data(&acme).item("posts", &json!({"title": "Seen"})).await;
    entry_for(&app, &acme, "create", &id_of(&item)).await;

    for (role, token) in [("viewer", viewer.token()), ("editor", editor.token())] {
        let response = activity_of(&app.data_as(Naming::Host("acme".into()), Some(token)), &[]).await;
        let problem = assert_problem(response, StatusCode::FORBIDDEN, "forbidden").await;
        assert!(!problem.to_string().contains(&id_of(&item)), "{role}: {problem}");
    }
    let anonymous = activity_of(&app.data_as(Naming::Host("acme".into()), None), &[]).await;
    assert_problem(anonymous, StatusCode::UNAUTHORIZED, "unauthenticated").await;

    // A platform admin acts as an admin of the tenant it names.
    let platform = app.platform_token().await;
    let as_platform = entries_of(&app.data_as(Naming::Header("acme".into()), Some(&platform)), &[]).await;
    assert_eq!(ids(&as_platform), ids(&entries(&app, &acme, &[]).await));
    assert!(as_platform.iter().any(|e| e["item"] == id_of(&item).as_str()), "{as_platform:?}");
}

/// `(method, path, status, code)` of a response, for collecting every deviation of a test.
async fn outcome(response: Response) -> (StatusCode, String) {
    let status = response.status();
    let text = response.text().await.unwrap();
    let code = serde_json::from_str::<Value>(&text).ok().and_then(|p| p["code"].as_str().map(str::to_string));
    (status, code.unwrap_or_else(|| text.chars().take(160).collect()))
}

/// A tenant with a post, the post's create entry and the whole log.
async fn with_one_entry(app: &TestApp) -> (TenantAdmin, Value, Value, Vec<Value>) {
    let acme = posts_tenant(app, "acme").await;
    let item = app.data(&acme).item("posts", &json!({"title": "Kept"})).await;
    let entry = entry_for(app, &acme, "create", &id_of(&item)).await;
    let all = entries(app, &acme, &[("limit", "1000")]).await;
    (acme, item, entry, all)
}

fn forged(item: &Value) -> Value {
    json!({"action": "delete", "collection": "posts", "item": id_of(item), "delta": null,
        "user": Uuid::now_v7(), "timestamp": "2020-01-01T00:00:00Z"})
}

#[tokio::test]
async fn the_activity_route_only_reads() {
    let app = spawn_app().await;
    let (acme, item, entry, before) = with_one_entry(&app).await;
    let entry_id = id_of(&entry);
    let api = app.data(&acme);
    let forged = forged(&item);

    for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
        let response = api.request(method.clone(), "/api/activity").json(&forged).send().await.unwrap();
        assert_problem(response, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    }
    for method in [Method::GET, Method::PUT, Method::PATCH, Method::DELETE, Method::POST] {
        let response =
            api.request(method.clone(), &format!("/api/activity/{entry_id}")).json(&forged).send().await.unwrap();
        assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    }

    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(entries(&app, &acme, &[("limit", "1000")]).await, before, "nothing changed the log");
}

#[tokio::test]
async fn the_log_is_no_collection_of_the_data_api() {
    let app = spawn_app().await;
    let (acme, item, entry, before) = with_one_entry(&app).await;
    let entry_id = id_of(&entry);
    let api = app.data(&acme);
    let forged = forged(&item);
    let mut deviations = Vec::new();

    let collections = json_body(api.list_collections().await, StatusCode::OK).await;
    let names: Vec<&str> = collections["data"].as_array().unwrap().iter().filter_map(|c| c["name"].as_str()).collect();
    if names != ["posts"] {
        deviations.push(format!("GET /api/collections lists {names:?}"));
    }
    let recreate = json!({"name": "tb_activity", "fields": [{"name": "action", "type": "string"}]});
    let (status, code) = outcome(api.create_collection(&recreate).await).await;
    if status != StatusCode::UNPROCESSABLE_ENTITY {
        deviations.push(format!("POST /api/collections {{name: tb_activity}}: {status} {code}, expected 422"));
    }
    // Reads and writes of the stored entries, then changes of the collection, the most
    // destructive last.
    let item_path = format!("/api/items/tb_activity/{entry_id}");
    let add_field = json!({"fields": [{"name": "extra", "type": "string"}]});
    for (method, path, body) in [
        (Method::GET, "/api/items/tb_activity", &forged),
        (Method::POST, "/api/items/tb_activity", &forged),
        (Method::GET, item_path.as_str(), &forged),
        (Method::PATCH, item_path.as_str(), &forged),
        (Method::DELETE, item_path.as_str(), &forged),
        (Method::GET, "/api/collections/tb_activity", &forged),
        (Method::PATCH, "/api/collections/tb_activity", &add_field),
        (Method::DELETE, "/api/collections/tb_activity/fields/delta", &forged),
        (Method::DELETE, "/api/collections/tb_activity", &forged),
    ] {
        let (status, code) = outcome(api.request(method.clone(), path).json(body).send().await.unwrap()).await;
        if (status, code.as_str()) != (StatusCode::NOT_FOUND, "collection_not_found") {
            deviations.push(format!("{method} {path}: {status} {code}, expected 404 collection_not_found"));
        }
    }

    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = entries(&app, &acme, &[("limit", "1000")]).await;
    if after != before {
        deviations.push(format!("the log changed from {before:?} to {after:?}"));
    }
    assert!(deviations.is_empty(), "the log is reachable through the data API:\n{}", deviations.join("\n"));
}

#[tokio::test]
async fn usage_does_not_count_the_log_as_items_or_collections() {
    let app = spawn_app().await;
    let acme = posts_tenant(&app, "acme").await;
    let created = app.data(&acme).items("posts", &[json!({"title": "a"}), json!({"title": "b"})]).await;
    json_body(app.data(&acme).patch("posts", &id_of(&created[0]), &json!({"title": "c"})).await, StatusCode::OK).await;
    // Entries are written after the responses, each on its own task: wait for all four.
    let logged = entries_until(&app, &acme, "a login, two creates and an update", |list| list.len() >= 4).await;
    assert!(logged.iter().any(|e| e["action"] == "update"), "{logged:?}");

    let path = format!("/api/tenants/{}/usage", acme.tenant.id);
    let usage = json_body(app.as_platform(Method::GET, &path).await.send().await.unwrap(), StatusCode::OK).await;

    assert_eq!(usage["data"]["items"], 2, "only the two posts are items: {usage}");
    assert_eq!(usage["data"]["collections"], 1, "only posts is a collection: {usage}");
}

#[tokio::test]
async fn no_password_or_hash_ever_appears_in_the_log() {
    let app = spawn_app().await;
    let acme = posts_tenant(&app, "acme").await;
    let first = "Fresh-Secret-4417-osprey";
    let second = "Changed-Secret-9902-heron";
    let wrong = "Wrong-Secret-1357-plover";
    let created = json_body(
        app.users(&acme)
            .create(&json!({"email": "kim@acme.test", "password": first, "role": "editor", "name": "Kim"}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let kim = id_of(&created["data"]);
    let kim_uuid: Uuid = kim.parse().unwrap();
    app.login_pair(Some("acme"), "kim@acme.test", first).await;
    assert_eq!(app.login(Some("acme"), "kim@acme.test", wrong).await.status(), StatusCode::UNAUTHORIZED);
    app.users(&acme).patched(kim_uuid, &json!({"password": second})).await;
    app.users(&acme).patched(kim_uuid, &json!({"name": "Kim B."})).await;
    let kim_token = app.access_token(Some("acme"), "kim@acme.test", second).await;
    let item =
        app.data_as(Naming::Host("acme".into()), Some(&kim_token)).item("posts", &json!({"title": "Kim's post"})).await;
    entry_for(&app, &acme, "create", &id_of(&item)).await;
    logins_of(&app, &acme, &kim, 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let response = activity_of(&app.data(&acme), &[("limit", "1000")]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    for secret in [first, second, wrong, TENANT_ADMIN_PASSWORD, MEMBER_PASSWORD, "$argon2", "argon2"] {
        assert!(!text.contains(secret), "the log holds `{secret}`: {text}");
    }
    let body: Value = serde_json::from_str(&text).unwrap();
    let mut stack: Vec<&Value> = body["data"].as_array().unwrap().iter().collect();
    while let Some(value) = stack.pop() {
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    let key = key.to_lowercase();
                    assert!(!key.contains("password") && !key.contains("hash"), "the log has a `{key}` member: {text}");
                    stack.push(value);
                }
            }
            Value::Array(list) => stack.extend(list),
            _ => {}
        }
    }
}

#[tokio::test]
async fn a_tenant_that_turns_audit_off_gets_no_entries() {
    let app = spawn_app().await;
    let quiet = app.create_tenant_with_admin("quiet", "admin@quiet.test", TENANT_ADMIN_PASSWORD).await;
    let path = format!("/api/tenants/{}/settings", quiet.id);
    let settings = json!({"extensions": {"audit": false}});
    let response = app.as_platform(Method::PUT, &path).await.json(&settings).send().await.unwrap();
    assert_eq!(json_body(response, StatusCode::OK).await["data"]["settings"], settings);
    let loud = posts_tenant(&app, "loud").await;

    let token = app.access_token(Some("quiet"), "admin@quiet.test", TENANT_ADMIN_PASSWORD).await;
    let quiet_admin = TenantAdmin { tenant: quiet.clone(), email: "admin@quiet.test".into(), token };
    let api = app.data(&quiet_admin);
    api.collection(&posts_collection()).await;
    let item = api.item("posts", &json!({"title": "Unrecorded"})).await;
    json_body(api.patch("posts", &id_of(&item), &json!({"title": "Still unrecorded"})).await, StatusCode::OK).await;
    assert_eq!(api.delete("posts", &id_of(&item)).await.status(), StatusCode::NO_CONTENT);
    // The same, on a tenant that records, shows how long entries take to appear.
    let loud_item = app.data(&loud).item("posts", &json!({"title": "Recorded"})).await;
    json_body(app.data(&loud).patch("posts", &id_of(&loud_item), &json!({"title": "Re"})).await, StatusCode::OK).await;
    assert_eq!(app.data(&loud).delete("posts", &id_of(&loud_item)).await.status(), StatusCode::NO_CONTENT);
    entry_for(&app, &loud, "delete", &id_of(&loud_item)).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;

    let body = activity_body(&api, &[("meta", "total_count")]).await;
    // The platform admin's change that turned the log off is the last thing it recorded.
    let recorded: Vec<(Value, Value)> =
        body["data"].as_array().unwrap().iter().map(|e| (e["action"].clone(), e["collection"].clone())).collect();
    assert_eq!(recorded, [(json!("update"), json!("tb_settings"))], "no login, create, update or delete: {body}");
    assert_eq!(body["data"][0]["delta"]["settings"], settings, "{body}");
}

#[tokio::test]
async fn on_sqlite_the_log_records_and_filters() {
    let app = spawn_sqlite_app().await;
    let acme = posts_tenant(&app, "acme").await;
    let admin_id = me(&app, "acme", &acme.token).await;
    // The login's entry is written after its response, on its own task: let it land first.
    logins_of(&app, &acme, &admin_id, 1).await;
    let item = app.data(&acme).item("posts", &json!({"title": "Lite", "views": 2})).await;
    let id = id_of(&item);
    entry_for(&app, &acme, "create", &id).await;
    json_body(app.data(&acme).patch("posts", &id, &json!({"views": 9})).await, StatusCode::OK).await;
    entry_for(&app, &acme, "update", &id).await;
    assert_eq!(app.data(&acme).delete("posts", &id).await.status(), StatusCode::NO_CONTENT);
    entry_for(&app, &acme, "delete", &id).await;
    let other = app.tenant_admin("other").await;

    let all = entries(&app, &acme, &[("meta", "total_count")]).await;
    let stamps: Vec<DateTime<Utc>> = all.iter().map(|e| timestamp(&e["timestamp"])).collect();
    assert!(stamps.windows(2).all(|w| w[0] >= w[1]), "newest first: timestamps descend: {all:#?}");
    let actions: Vec<&str> = all.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["delete", "update", "create", "login"], "newest first: {all:?}");
    assert!(all.iter().all(|e| e["user"] == admin_id.as_str()), "{all:?}");
    assert_eq!(all[1]["delta"], json!({"views": 9}));
    assert_eq!(all[0]["delta"], Value::Null);
    let about = entries(&app, &acme, &[("filter", &json!({"item": {"_eq": id}}).to_string())]).await;
    assert_eq!(ids(&about), ids(&all[..3]));
    assert_problem(
        activity_of(&app.data(&acme), &[("filter", r#"{"nope":{"_eq":1}}"#)]).await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    )
    .await;
    let others = entries(&app, &other, &[]).await;
    assert!(others.iter().all(|e| e["action"] == "login" && e["user"] != admin_id.as_str()), "{others:?}");
}

#[tokio::test]
async fn a_tenant_admin_cannot_silence_its_audit_log_but_a_platform_admin_can() {
    let app = spawn_app().await;
    let acme = posts_tenant(&app, "acme").await;
    let put = |token: String, settings: Value| {
        let request = app.put("/api/tenant/settings").host(&tenant_host("acme")).bearer_auth(token).json(&settings);
        async move { request.send().await.unwrap() }
    };

    for silenced in [json!({"extensions": {"audit": false}}), json!({"theme": "dark", "extensions": {"audit": false}})]
    {
        let response = put(acme.token.clone(), silenced).await;
        assert_problem(response, StatusCode::FORBIDDEN, "setting_locked").await;
    }
    // Other settings stay the tenant admin's.
    let themed = put(acme.token.clone(), json!({"theme": "dark"})).await;
    assert_eq!(json_body(themed, StatusCode::OK).await["data"]["settings"], json!({"theme": "dark"}));
    let item = app.data(&acme).item("posts", &json!({"title": "Still recorded"})).await;
    entry_for(&app, &acme, "create", &id_of(&item)).await;

    // A platform admin, acting as the tenant's admin, may.
    let platform = app.platform_token().await;
    let silenced = put(platform, json!({"extensions": {"audit": false}})).await;
    assert_eq!(json_body(silenced, StatusCode::OK).await["data"]["settings"]["extensions"]["audit"], false);
}

#[tokio::test]
async fn changes_to_users_roles_and_settings_are_recorded_without_passwords() {
    let app = spawn_app().await;
    let acme = posts_tenant(&app, "acme").await;
    let admin_id = me(&app, "acme", &acme.token).await;
    let viewer = app.member(&acme, "viewer").await;
    let viewer_id = viewer.user.id.to_string();

    app.users(&acme).patched(viewer.user.id, &json!({"role": "editor", "password": "A-Brand-New-Pass-4471"})).await;
    let settings = json!({"theme": "dark"});
    let response = app.put("/api/tenant/settings").host(&tenant_host("acme")).bearer_auth(&acme.token).json(&settings);
    json_body(response.send().await.unwrap(), StatusCode::OK).await;
    let deleted = app.users(&acme).delete(viewer.user.id).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);

    // Written with their changes, so there is nothing to wait for.
    let users = entries(&app, &acme, &[("filter", r#"{"collection":{"_eq":"tb_users"}}"#)]).await;
    let actions: Vec<(&str, &str)> =
        users.iter().map(|e| (e["action"].as_str().unwrap(), e["item"].as_str().unwrap())).collect();
    assert_eq!(
        actions,
        [("delete", viewer_id.as_str()), ("update", viewer_id.as_str()), ("create", viewer_id.as_str())]
    );
    assert!(users.iter().all(|e| e["user"] == admin_id.as_str()), "{users:?}");
    assert_eq!(users[1]["delta"]["role"], "editor", "the role change: {}", users[1]);
    let settings_entries = entries(&app, &acme, &[("filter", r#"{"collection":{"_eq":"tb_settings"}}"#)]).await;
    assert_eq!(settings_entries.len(), 1);
    assert_eq!(settings_entries[0]["delta"]["settings"], settings);
    let text = serde_json::to_string(&entries(&app, &acme, &[("limit", "1000")]).await).unwrap();
    assert!(!text.contains("A-Brand-New-Pass") && !text.contains("argon2"), "{text}");
}
