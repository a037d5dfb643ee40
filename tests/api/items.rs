//! Items (API.md "Collections and items", docs/data-api.md "Items"): create one or many, read,
//! partial update, delete, the validation of bodies, versions and `If-Match`, and list basics.

use chrono::{DateTime, Utc};
use reqwest::{Method, Response, StatusCode, header};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    TenantAdmin, TestApp, assert_field_error, assert_problem, items::DataApi, json_body, spawn_app, spawn_sqlite_app,
};

/// A field of every type, with a required, an enum, a bounded, a defaulted and a unique one.
fn posts_collection() -> Value {
    json!({"name": "posts", "fields": [
        {"name": "title", "type": "string", "required": true, "max_length": 20},
        {"name": "body", "type": "text"},
        {"name": "status", "type": "string", "default": "draft", "enum": ["draft", "published"]},
        {"name": "views", "type": "integer", "default": 0},
        {"name": "rating", "type": "number"},
        {"name": "featured", "type": "boolean"},
        {"name": "published_at", "type": "datetime"},
        {"name": "author", "type": "uuid"},
        {"name": "extra", "type": "json"},
        {"name": "slug", "type": "string", "unique": true},
    ]})
}

const POST_FIELDS: [&str; 10] =
    ["title", "body", "status", "views", "rating", "featured", "published_at", "author", "extra", "slug"];
const SYSTEM_FIELDS: [&str; 5] = ["id", "date_created", "date_updated", "user_created", "version"];

/// A tenant `acme` with its admin and the posts collection.
async fn posts(app: &TestApp) -> TenantAdmin {
    let acme = app.tenant_admin("acme").await;
    app.data(&acme).collection(&posts_collection()).await;
    acme
}

fn id_of(item: &Value) -> String {
    item["id"].as_str().unwrap_or_else(|| panic!("no id in {item}")).to_string()
}

fn timestamp(value: &Value) -> DateTime<Utc> {
    let text = value.as_str().unwrap_or_else(|| panic!("a timestamp string, was {value}"));
    DateTime::parse_from_rfc3339(text).unwrap_or_else(|e| panic!("`{text}` is not RFC 3339: {e}")).with_timezone(&Utc)
}

fn members(item: &Value) -> Vec<String> {
    let mut members: Vec<String> =
        item.as_object().unwrap_or_else(|| panic!("not an object: {item}")).keys().cloned().collect();
    members.sort();
    members
}

fn sorted(names: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
    names.sort();
    names
}

/// `GET /api/items/{collection}/{id}`, expecting 200; the item.
async fn fetched(data: &DataApi<'_>, collection: &str, id: &str) -> Value {
    json_body(data.get(collection, id).await, StatusCode::OK).await["data"].clone()
}

/// Every item of the collection (up to 1000).
async fn all(data: &DataApi<'_>, collection: &str) -> Vec<Value> {
    data.listed(collection, &[("limit", "1000")]).await["data"].as_array().expect("a list").clone()
}

/// `PATCH` with an `If-Match` header.
async fn patch_if_match(data: &DataApi<'_>, collection: &str, id: &str, if_match: &str, body: &Value) -> Response {
    data.request(Method::PATCH, &format!("/api/items/{collection}/{id}"))
        .header(header::IF_MATCH, if_match)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// `DELETE` with an `If-Match` header.
async fn delete_if_match(data: &DataApi<'_>, collection: &str, id: &str, if_match: &str) -> Response {
    data.request(Method::DELETE, &format!("/api/items/{collection}/{id}"))
        .header(header::IF_MATCH, if_match)
        .send()
        .await
        .unwrap()
}

/// The caller's user id, from `GET /api/users/me`.
async fn my_id(app: &TestApp, admin: &TenantAdmin) -> String {
    let me = json_body(app.users(admin).me().await, StatusCode::OK).await;
    me["data"]["id"].as_str().unwrap_or_else(|| panic!("no id in {me}")).to_string()
}

fn etag(response: &Response) -> Option<String> {
    response.headers().get(header::ETAG).map(|value| value.to_str().unwrap().to_string())
}

#[tokio::test]
async fn creating_an_item_is_201_with_every_field_the_defaults_and_the_system_fields() {
    let app = spawn_app().await;
    let acme = posts(&app).await;
    let me = my_id(&app, &acme).await;

    let response = app.data(&acme).create("posts", &json!({"title": "Hello"})).await;

    let item = json_body(response, StatusCode::CREATED).await["data"].clone();
    let mut expected_members: Vec<&str> = POST_FIELDS.to_vec();
    expected_members.extend(SYSTEM_FIELDS);
    assert_eq!(members(&item), sorted(&expected_members), "an item has its fields and the system fields: {item}");
    let id: Uuid = id_of(&item).parse().unwrap_or_else(|e| panic!("id is not a UUID ({e}): {item}"));
    assert_eq!(id.get_version_num(), 7, "a UUID v7: {id}");
    assert_eq!((&item["title"], &item["status"], &item["views"]), (&json!("Hello"), &json!("draft"), &json!(0)));
    for unset in ["body", "rating", "featured", "published_at", "author", "extra", "slug"] {
        assert_eq!(item[unset], Value::Null, "`{unset}` is null when unset: {item}");
    }
    assert_eq!(item["date_created"], item["date_updated"], "{item}");
    let created = timestamp(&item["date_created"]);
    assert!((Utc::now() - created).num_seconds().abs() < 60, "date_created is now: {created}");
    assert_eq!(item["user_created"], me.as_str());
    assert_eq!(item["version"], 1);
    assert_eq!(fetched(&app.data(&acme), "posts", &id.to_string()).await, item, "what was returned is what was stored");
}

#[tokio::test]
async fn every_type_round_trips() {
    let app = spawn_app().await;
    let acme = posts(&app).await;
    let author = Uuid::new_v4().to_string();
    let body = json!({
        "title": "Full", "body": "Long text", "status": "published", "views": 9_007_199_254_740_993_i64,
        "rating": 4.25, "featured": true, "published_at": "2026-03-04T05:06:07.123456Z", "author": author,
        "extra": {"tags": ["a", "b"], "n": 1, "deep": {"x": null}}, "slug": "full",
    });

    let item = app.data(&acme).item("posts", &body).await;

    for (name, value) in body.as_object().unwrap() {
        assert_eq!(&item[name], value, "`{name}` round-trips: {item}");
    }
    assert_eq!(fetched(&app.data(&acme), "posts", &id_of(&item)).await, item);
}

#[tokio::test]
async fn creating_an_array_is_201_with_the_items_in_the_order_given() {
    let app = spawn_app().await;
    let acme = posts(&app).await;
    let bodies = [json!({"title": "c", "views": 3}), json!({"title": "a", "views": 1}), json!({"title": "b"})];

    let response = app.data(&acme).create("posts", &json!(bodies)).await;

    let created = json_body(response, StatusCode::CREATED).await["data"].as_array().unwrap().clone();
    let titles: Vec<&Value> = created.iter().map(|item| &item["title"]).collect();
    assert_eq!(titles, [&json!("c"), &json!("a"), &json!("b")]);
    let views: Vec<&Value> = created.iter().map(|item| &item["views"]).collect();
    assert_eq!(views, [&json!(3), &json!(1), &json!(0)], "defaults apply in arrays too");
    let mut ids: Vec<String> = created.iter().map(id_of).collect();
    ids.dedup();
    assert_eq!(ids.len(), 3);
    assert!(created.iter().all(|item| item["version"] == 1));
    let listed = all(&app.data(&acme), "posts").await;
    assert_eq!(listed, created, "listed in creation order, as stored");
}

#[tokio::test]
async fn an_array_with_one_invalid_object_is_422_on_its_index_and_creates_nothing() {
    let app = spawn_app().await;
    let acme = posts(&app).await;
    let bodies = json!([{"title": "fine"}, {"body": "no title"}, {"title": "also fine"}]);

    let response = app.data(&acme).create("posts", &bodies).await;

    assert_field_error(response, "[1].title", Some("required")).await;
    assert_eq!(all(&app.data(&acme), "posts").await, Vec::<Value>::new(), "all or nothing");
}

#[tokio::test]
async fn an_array_reports_each_invalid_object_by_index() {
    let app = spawn_app().await;
    let acme = posts(&app).await;
    let wrong_type = json!([{"title": "fine"}, {"title": "ok", "views": "many"}]);
    let unknown = json!([{"title": "fine"}, {"title": "fine"}, {"title": "ok", "nope": 1}]);

    let wrong_type = app.data(&acme).create("posts", &wrong_type).await;
    let unknown = app.data(&acme).create("posts", &unknown).await;

    assert_field_error(wrong_type, "[1].views", Some("invalid_type")).await;
    assert_field_error(unknown, "[2].nope", Some("unknown_field")).await;
    assert_eq!(all(&app.data(&acme), "posts").await, Vec::<Value>::new());
}

#[tokio::test]
async fn an_empty_array_or_one_of_1001_objects_is_422_and_creates_nothing() {
    let app = spawn_app().await;
    let acme = posts(&app).await;
    let too_many: Vec<Value> = (0..1001).map(|i| json!({"title": format!("t{i}")})).collect();

    let empty = app.data(&acme).create("posts", &json!([])).await;
    let over = app.data(&acme).create("posts", &json!(too_many)).await;

    assert_problem(empty, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_problem(over, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let listed = app.data(&acme).listed("posts", &[("meta", "total_count")]).await;
    assert_eq!(listed["meta"]["total_count"], 0, "{listed}");
}

#[tokio::test]
async fn an_array_of_1000_objects_is_accepted() {
    let app = spawn_app().await;
    let acme = posts(&app).await;
    let thousand: Vec<Value> = (0..1000).map(|i| json!({"title": format!("t{i}"), "views": i})).collect();

    let created = app.data(&acme).items("posts", &thousand).await;

    assert_eq!(created.len(), 1000);
    assert_eq!((&created[0]["title"], &created[999]["title"]), (&json!("t0"), &json!("t999")));
    let listed = app.data(&acme).listed("posts", &[("meta", "total_count"), ("limit", "0")]).await;
    assert_eq!(listed["meta"]["total_count"], 1000, "{listed}");
}

#[tokio::test]
async fn an_unknown_field_is_422_unknown_field() {
    let app = spawn_app().await;
    let acme = posts(&app).await;

    let response = app.data(&acme).create("posts", &json!({"title": "Hello", "subtitle": "nope"})).await;

    assert_field_error(response, "subtitle", Some("unknown_field")).await;
    assert_eq!(all(&app.data(&acme), "posts").await, Vec::<Value>::new());
}

#[tokio::test]
async fn a_system_field_in_the_body_is_422_read_only() {
    let app = spawn_app().await;
    let acme = posts(&app).await;
    let values = [
        ("id", json!(Uuid::now_v7().to_string())),
        ("tenant_id", json!(Uuid::new_v4().to_string())),
        ("version", json!(5)),
        ("date_created", json!("2020-01-01T00:00:00Z")),
        ("date_updated", json!("2020-01-01T00:00:00Z")),
        ("user_created", json!(Uuid::new_v4().to_string())),
    ];

    for (name, value) in values {
        let mut body = json!({"title": "Hello"});
        body[name] = value;

        let response = app.data(&acme).create("posts", &body).await;

        assert_field_error(response, name, Some("read_only")).await;
    }
    assert_eq!(all(&app.data(&acme), "posts").await, Vec::<Value>::new());
}

#[tokio::test]
async fn a_value_of_the_wrong_type_is_422_invalid_type() {
    let app = spawn_app().await;
    let acme = posts(&app).await;
    let cases = [
        ("views", json!("10")),
        ("views", json!(1.5)),
        ("views", json!(true)),
        ("rating", json!("high")),
        ("featured", json!("yes")),
        ("featured", json!(1)),
        ("published_at", json!("yesterday")),
        ("published_at", json!("2026-13-01T00:00:00Z")),
        ("published_at", json!("2026-01-02")),
        ("published_at", json!(1_700_000_000)),
        ("author", json!("not-a-uuid")),
        ("author", json!(42)),
        ("title", json!(5)),
        ("title", json!(["a"])),
        ("body", json!({"a": 1})),
    ];

    for (field, value) in cases {
        let mut body = json!({"title": "Hello"});
        body[field] = value.clone();

        let response = app.data(&acme).create("posts", &body).await;

        let status = response.status();
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "`{field}`: {value}");
        assert_field_error(response, field, Some("invalid_type")).await;
    }
    let out_of_range =
        app.data(&acme).create("posts", &json!({"title": "Hello", "views": 9_223_372_036_854_775_808_u64})).await;
    assert_field_error(out_of_range, "views", None).await;
    assert_eq!(all(&app.data(&acme), "posts").await, Vec::<Value>::new());
}

#[tokio::test]
async fn a_missing_or_null_required_field_is_422_required() {
    let app = spawn_app().await;
    let acme = posts(&app).await;

    let missing = app.data(&acme).create("posts", &json!({"body": "no title"})).await;
    let null = app.data(&acme).create("posts", &json!({"title": null})).await;
    let empty_object = app.data(&acme).create("posts", &json!({})).await;

    assert_field_error(missing, "title", Some("required")).await;
    assert_field_error(null, "title", Some("required")).await;
    assert_field_error(empty_object, "title", Some("required")).await;
    assert_eq!(all(&app.data(&acme), "posts").await, Vec::<Value>::new());
}

#[tokio::test]
async fn a_value_outside_the_enum_is_422_not_in_enum() {
    let app = spawn_app().await;
    let acme = posts(&app).await;

    let response = app.data(&acme).create("posts", &json!({"title": "Hello", "status": "archived"})).await;
    let case = app.data(&acme).create("posts", &json!({"title": "Hello", "status": "Draft"})).await;

    assert_field_error(response, "status", Some("not_in_enum")).await;
    assert_field_error(case, "status", Some("not_in_enum")).await;
    let published = app.data(&acme).item("posts", &json!({"title": "Hello", "status": "published"})).await;
    assert_eq!(published["status"], "published");
}

#[tokio::test]
async fn a_string_longer_than_max_length_is_422_too_long() {
    let app = spawn_app().await;
    let acme = posts(&app).await;

    let response = app.data(&acme).create("posts", &json!({"title": "x".repeat(21)})).await;
    let default_limit = app.data(&acme).create("posts", &json!({"title": "ok", "slug": "s".repeat(256)})).await;

    assert_field_error(response, "title", Some("too_long")).await;
    assert_field_error(default_limit, "slug", Some("too_long")).await;
    assert_eq!(all(&app.data(&acme), "posts").await, Vec::<Value>::new());
    let at_the_limit = app.data(&acme).item("posts", &json!({"title": "x".repeat(20), "slug": "s".repeat(255)})).await;
    assert_eq!(at_the_limit["title"], "x".repeat(20));
}

#[tokio::test]
async fn a_string_with_nul_is_422() {
    let app = spawn_app().await;
    let acme = posts(&app).await;

    let response = app.data(&acme).create("posts", &json!({"title": "a\u{0}b"})).await;

    assert_field_error(response, "title", None).await;
}

#[tokio::test]
async fn a_duplicate_unique_value_is_422_unique() {
    let app = spawn_app().await;
    let acme = posts(&app).await;
    let holder = app.data(&acme).item("posts", &json!({"title": "First", "slug": "hello"})).await;

    let response = app.data(&acme).create("posts", &json!({"title": "Second", "slug": "hello"})).await;

    assert_field_error(response, "slug", Some("unique")).await;
    assert_eq!(all(&app.data(&acme), "posts").await, vec![holder.clone()]);
    let other = app.data(&acme).item("posts", &json!({"title": "Third", "slug": "other"})).await;
    let patch = app.data(&acme).patch("posts", &id_of(&other), &json!({"slug": "hello"})).await;
    assert_field_error(patch, "slug", Some("unique")).await;
    assert_eq!(fetched(&app.data(&acme), "posts", &id_of(&other)).await, other);
}

#[tokio::test]
async fn unset_unique_values_do_not_collide() {
    let app = spawn_app().await;
    let acme = posts(&app).await;

    app.data(&acme).item("posts", &json!({"title": "One"})).await;
    app.data(&acme).item("posts", &json!({"title": "Two", "slug": null})).await;

    assert_eq!(all(&app.data(&acme), "posts").await.len(), 2);
}

#[tokio::test]
async fn two_equal_unique_values_in_one_array_are_422_and_create_nothing() {
    let app = spawn_app().await;
    let acme = posts(&app).await;
    let bodies = json!([{"title": "a", "slug": "same"}, {"title": "b", "slug": "same"}]);

    let response = app.data(&acme).create("posts", &bodies).await;

    assert_field_error(response, "[1].slug", Some("unique")).await;
    assert_eq!(all(&app.data(&acme), "posts").await, Vec::<Value>::new());
}

#[tokio::test]
async fn an_array_clashing_with_a_stored_unique_value_is_422_and_creates_nothing() {
    let app = spawn_app().await;
    let acme = posts(&app).await;
    let holder = app.data(&acme).item("posts", &json!({"title": "held", "slug": "taken"})).await;
    let bodies = json!([{"title": "a", "slug": "free"}, {"title": "b", "slug": "taken"}]);

    let response = app.data(&acme).create("posts", &bodies).await;

    assert_field_error(response, "[1].slug", Some("unique")).await;
    assert_eq!(all(&app.data(&acme), "posts").await, vec![holder]);
}

#[tokio::test]
async fn a_unique_value_can_be_reused_once_its_holder_is_deleted() {
    let app = spawn_app().await;
    let acme = posts(&app).await;
    let holder = app.data(&acme).item("posts", &json!({"title": "First", "slug": "hello"})).await;
    let response = app.data(&acme).delete("posts", &id_of(&holder)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    let reused = app.data(&acme).item("posts", &json!({"title": "Second", "slug": "hello"})).await;

    assert_eq!(reused["slug"], "hello");
    assert_ne!(reused["id"], holder["id"]);
}

#[tokio::test]
async fn a_unique_value_can_be_reused_once_its_holder_changes_it() {
    let app = spawn_app().await;
    let acme = posts(&app).await;
    let holder = app.data(&acme).item("posts", &json!({"title": "First", "slug": "hello"})).await;
    json_body(app.data(&acme).patch("posts", &id_of(&holder), &json!({"slug": null})).await, StatusCode::OK).await;

    let reused = app.data(&acme).item("posts", &json!({"title": "Second", "slug": "hello"})).await;

    assert_eq!(reused["slug"], "hello");
}

#[tokio::test]
async fn datetimes_are_normalised_to_utc_with_microseconds() {
    let app = spawn_app().await;
    let acme = posts(&app).await;
    let cases = [
        ("2026-01-02T03:04:05+02:00", "2026-01-02T01:04:05.000000Z"),
        ("2026-01-02T03:04:05Z", "2026-01-02T03:04:05.000000Z"),
        ("2026-01-02T03:04:05.5-01:30", "2026-01-02T04:34:05.500000Z"),
        ("2026-01-02t03:04:05.123456z", "2026-01-02T03:04:05.123456Z"),
        ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000000Z"),
        ("9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999999Z"),
    ];

    for (input, stored) in cases {
        let item = app.data(&acme).item("posts", &json!({"title": "When", "published_at": input})).await;

        assert_eq!(item["published_at"], stored, "{input}");
        assert_eq!(fetched(&app.data(&acme), "posts", &id_of(&item)).await["published_at"], stored, "{input}");
    }
}

#[tokio::test]
async fn uuids_are_normalised_to_lowercase() {
    let app = spawn_app().await;
    let acme = posts(&app).await;
    let author = Uuid::new_v4();

    let item =
        app.data(&acme).item("posts", &json!({"title": "Who", "author": author.to_string().to_uppercase()})).await;

    assert_eq!(item["author"], author.to_string());
    assert_eq!(fetched(&app.data(&acme), "posts", &id_of(&item)).await["author"], author.to_string());
}

#[tokio::test]
async fn getting_an_item_is_200_with_its_version_as_etag() {
    let app = spawn_app().await;
    let acme = posts(&app).await;
    let item = app.data(&acme).item("posts", &json!({"title": "Hello"})).await;

    let response = app.data(&acme).get("posts", &id_of(&item)).await;

    assert_eq!(etag(&response).as_deref(), Some("\"1\""));
    assert_eq!(json_body(response, StatusCode::OK).await["data"], item);
    json_body(app.data(&acme).patch("posts", &id_of(&item), &json!({"views": 1})).await, StatusCode::OK).await;
    let after = app.data(&acme).get("posts", &id_of(&item)).await;
    assert_eq!(etag(&after).as_deref(), Some("\"2\""), "the ETag follows the version");
}

#[tokio::test]
async fn a_non_uuid_or_unknown_id_is_404_item_not_found() {
    let app = spawn_app().await;
    let acme = posts(&app).await;
    app.data(&acme).item("posts", &json!({"title": "Hello"})).await;
    let random = Uuid::now_v7().to_string();

    for id in ["not-a-uuid", "1", random.as_str()] {
        let get = app.data(&acme).get("posts", id).await;
        let patch = app.data(&acme).patch("posts", id, &json!({"title": "x"})).await;
        let delete = app.data(&acme).delete("posts", id).await;

        assert_problem(get, StatusCode::NOT_FOUND, "item_not_found").await;
        assert_problem(patch, StatusCode::NOT_FOUND, "item_not_found").await;
        assert_problem(delete, StatusCode::NOT_FOUND, "item_not_found").await;
    }
}

#[tokio::test]
async fn an_item_of_another_collection_is_404_item_not_found() {
    let app = spawn_app().await;
    let acme = posts(&app).await;
    app.data(&acme).collection(&json!({"name": "notes", "fields": [{"name": "title", "type": "string"}]})).await;
    let note = app.data(&acme).item("notes", &json!({"title": "A note"})).await;

    let response = app.data(&acme).get("posts", &id_of(&note)).await;

    assert_problem(response, StatusCode::NOT_FOUND, "item_not_found").await;
}

#[tokio::test]
async fn an_unknown_collection_is_404_collection_not_found() {
    let app = spawn_app().await;
    let acme = posts(&app).await;
    let random = Uuid::now_v7().to_string();

    let create = app.data(&acme).create("nope", &json!({"title": "x"})).await;
    let list = app.data(&acme).list("nope", &[]).await;
    let get = app.data(&acme).get("nope", &random).await;

    assert_problem(create, StatusCode::NOT_FOUND, "collection_not_found").await;
    assert_problem(list, StatusCode::NOT_FOUND, "collection_not_found").await;
    assert_problem(get, StatusCode::NOT_FOUND, "collection_not_found").await;
}

#[tokio::test]
async fn a_patch_changes_only_the_fields_given_and_bumps_the_version() {
    let app = spawn_app().await;
    let acme = posts(&app).await;
    let item = app.data(&acme).item("posts", &json!({"title": "Hello", "body": "Text", "views": 3})).await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;

    let response = app.data(&acme).patch("posts", &id_of(&item), &json!({"views": 4, "featured": true})).await;

    let patched = json_body(response, StatusCode::OK).await["data"].clone();
    assert_eq!((&patched["views"], &patched["featured"]), (&json!(4), &json!(true)));
    for unchanged in ["id", "title", "body", "status", "rating", "published_at", "author", "extra", "slug"] {
        assert_eq!(patched[unchanged], item[unchanged], "`{unchanged}` did not change");
    }
    assert_eq!(patched["version"], 2);
    assert_eq!(patched["date_created"], item["date_created"]);
    assert_eq!(patched["user_created"], item["user_created"]);
    assert!(timestamp(&patched["date_updated"]) >= timestamp(&item["date_updated"]), "{patched}");
    assert!(timestamp(&patched["date_updated"]) >= timestamp(&patched["date_created"]), "{patched}");
    assert_eq!(fetched(&app.data(&acme), "posts", &id_of(&item)).await, patched, "what was returned is stored");
    let again = app.data(&acme).patch("posts", &id_of(&item), &json!({"title": "Again"})).await;
    assert_eq!(json_body(again, StatusCode::OK).await["data"]["version"], 3, "one per update");
}

#[tokio::test]
async fn a_patch_with_null_clears_a_field_and_is_422_required_for_a_required_one() {
    let app = spawn_app().await;
    let acme = posts(&app).await;
    let item = app.data(&acme).item("posts", &json!({"title": "Hello", "body": "Text", "views": 3})).await;

    let cleared = app.data(&acme).patch("posts", &id_of(&item), &json!({"body": null, "views": null})).await;
    let cleared = json_body(cleared, StatusCode::OK).await["data"].clone();
    assert_eq!((&cleared["body"], &cleared["views"]), (&Value::Null, &Value::Null), "{cleared}");
    assert_eq!(cleared["title"], "Hello");

    let required = app.data(&acme).patch("posts", &id_of(&item), &json!({"title": null})).await;
    assert_field_error(required, "title", Some("required")).await;
    assert_eq!(fetched(&app.data(&acme), "posts", &id_of(&item)).await, cleared, "a failed patch changes nothing");
}

#[tokio::test]
async fn a_patch_is_validated_like_a_create_and_a_failed_one_changes_nothing() {
    let app = spawn_app().await;
    let acme = posts(&app).await;
    let item = app.data(&acme).item("posts", &json!({"title": "Hello"})).await;
    let id = id_of(&item);

    let cases = [
        (json!({"nope": 1}), "nope", "unknown_field"),
        (json!({"id": Uuid::now_v7().to_string()}), "id", "read_only"),
        (json!({"version": 7}), "version", "read_only"),
        (json!({"date_created": "2020-01-01T00:00:00Z"}), "date_created", "read_only"),
        (json!({"user_created": Uuid::new_v4().to_string()}), "user_created", "read_only"),
        (json!({"views": "many"}), "views", "invalid_type"),
        (json!({"status": "archived"}), "status", "not_in_enum"),
        (json!({"title": "x".repeat(21)}), "title", "too_long"),
        (json!({"views": 5, "featured": "yes"}), "featured", "invalid_type"),
    ];
    for (body, field, code) in cases {
        let response = app.data(&acme).patch("posts", &id, &body).await;

        assert_field_error(response, field, Some(code)).await;
    }
    assert_eq!(fetched(&app.data(&acme), "posts", &id).await, item);
}

#[tokio::test]
async fn an_empty_patch_is_accepted() {
    let app = spawn_app().await;
    let acme = posts(&app).await;
    let item = app.data(&acme).item("posts", &json!({"title": "Hello"})).await;

    let response = app.data(&acme).patch("posts", &id_of(&item), &json!({})).await;

    let patched = json_body(response, StatusCode::OK).await["data"].clone();
    assert_eq!(patched["title"], "Hello");
}

#[tokio::test]
async fn a_stale_if_match_is_412_version_conflict_and_changes_nothing() {
    let app = spawn_app().await;
    let acme = posts(&app).await;
    let item = app.data(&acme).item("posts", &json!({"title": "Hello"})).await;
    let id = id_of(&item);
    let updated = json_body(app.data(&acme).patch("posts", &id, &json!({"title": "Mine"})).await, StatusCode::OK).await
        ["data"]
        .clone();

    for stale in ["\"1\"", "1", "\"3\""] {
        let response = patch_if_match(&app.data(&acme), "posts", &id, stale, &json!({"title": "Theirs"})).await;

        assert_problem(response, StatusCode::PRECONDITION_FAILED, "version_conflict").await;
    }
    assert_eq!(fetched(&app.data(&acme), "posts", &id).await, updated);
}

#[tokio::test]
async fn an_if_match_with_the_current_version_or_a_star_succeeds() {
    let app = spawn_app().await;
    let acme = posts(&app).await;
    let item = app.data(&acme).item("posts", &json!({"title": "Hello"})).await;
    let id = id_of(&item);

    let quoted = patch_if_match(&app.data(&acme), "posts", &id, "\"1\"", &json!({"title": "Two"})).await;
    assert_eq!(json_body(quoted, StatusCode::OK).await["data"]["version"], 2);
    let bare = patch_if_match(&app.data(&acme), "posts", &id, "2", &json!({"title": "Three"})).await;
    assert_eq!(json_body(bare, StatusCode::OK).await["data"]["version"], 3, "quotes are optional");
    let star = patch_if_match(&app.data(&acme), "posts", &id, "*", &json!({"title": "Four"})).await;
    let star = json_body(star, StatusCode::OK).await["data"].clone();
    assert_eq!((&star["version"], &star["title"]), (&json!(4), &json!("Four")));
    let response = app.data(&acme).get("posts", &id).await;
    assert_eq!(etag(&response).as_deref(), Some("\"4\""));
}

#[tokio::test]
async fn the_etag_of_a_get_can_be_sent_back_as_if_match() {
    let app = spawn_app().await;
    let acme = posts(&app).await;
    let item = app.data(&acme).item("posts", &json!({"title": "Hello"})).await;
    let id = id_of(&item);
    let tag = etag(&app.data(&acme).get("posts", &id).await).expect("an ETag");
    json_body(app.data(&acme).patch("posts", &id, &json!({"views": 1})).await, StatusCode::OK).await;

    let stale = patch_if_match(&app.data(&acme), "posts", &id, &tag, &json!({"views": 2})).await;
    assert_problem(stale, StatusCode::PRECONDITION_FAILED, "version_conflict").await;
    let fresh = etag(&app.data(&acme).get("posts", &id).await).expect("an ETag");
    let response = patch_if_match(&app.data(&acme), "posts", &id, &fresh, &json!({"views": 2})).await;
    assert_eq!(json_body(response, StatusCode::OK).await["data"]["views"], 2);
}

#[tokio::test]
async fn deleting_an_item_is_204_and_then_it_is_404() {
    let app = spawn_app().await;
    let acme = posts(&app).await;
    let item = app.data(&acme).item("posts", &json!({"title": "Hello"})).await;
    let keep = app.data(&acme).item("posts", &json!({"title": "Keep"})).await;

    let response = app.data(&acme).delete("posts", &id_of(&item)).await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.text().await.unwrap().is_empty(), "a 204 has no body");
    assert_problem(app.data(&acme).get("posts", &id_of(&item)).await, StatusCode::NOT_FOUND, "item_not_found").await;
    let again = app.data(&acme).delete("posts", &id_of(&item)).await;
    assert_problem(again, StatusCode::NOT_FOUND, "item_not_found").await;
    assert_eq!(all(&app.data(&acme), "posts").await, vec![keep]);
}

#[tokio::test]
async fn deleting_with_a_stale_if_match_is_412_and_keeps_the_item() {
    let app = spawn_app().await;
    let acme = posts(&app).await;
    let item = app.data(&acme).item("posts", &json!({"title": "Hello"})).await;
    let id = id_of(&item);
    let updated =
        json_body(app.data(&acme).patch("posts", &id, &json!({"views": 1})).await, StatusCode::OK).await["data"]
            .clone();

    let stale = delete_if_match(&app.data(&acme), "posts", &id, "\"1\"").await;

    assert_problem(stale, StatusCode::PRECONDITION_FAILED, "version_conflict").await;
    assert_eq!(fetched(&app.data(&acme), "posts", &id).await, updated);
    let current = delete_if_match(&app.data(&acme), "posts", &id, "\"2\"").await;
    assert_eq!(current.status(), StatusCode::NO_CONTENT);
    assert_problem(app.data(&acme).get("posts", &id).await, StatusCode::NOT_FOUND, "item_not_found").await;
}

#[tokio::test]
async fn listing_with_fields_returns_only_those_members() {
    let app = spawn_app().await;
    let acme = posts(&app).await;
    app.data(&acme).items("posts", &[json!({"title": "a", "views": 1}), json!({"title": "b", "views": 2})]).await;

    let listed = app.data(&acme).listed("posts", &[("fields", "title,views")]).await;

    assert_eq!(listed["data"], json!([{"title": "a", "views": 1}, {"title": "b", "views": 2}]));
    let with_id = app.data(&acme).listed("posts", &[("fields", "id,title")]).await;
    for item in with_id["data"].as_array().unwrap() {
        assert_eq!(members(item), sorted(&["id", "title"]), "{item}");
    }
    let star = app.data(&acme).listed("posts", &[("fields", "*")]).await;
    let mut every: Vec<&str> = POST_FIELDS.to_vec();
    every.extend(SYSTEM_FIELDS);
    assert_eq!(members(&star["data"][0]), sorted(&every));
    let unknown = app.data(&acme).list("posts", &[("fields", "title,nope")]).await;
    assert_problem(unknown, StatusCode::BAD_REQUEST, "invalid_query").await;
}

#[tokio::test]
async fn listing_with_meta_total_count_counts_every_item_regardless_of_limit() {
    let app = spawn_app().await;
    let acme = posts(&app).await;
    let created =
        app.data(&acme).items("posts", &[json!({"title": "a"}), json!({"title": "b"}), json!({"title": "c"})]).await;

    let page = app.data(&acme).listed("posts", &[("meta", "total_count"), ("limit", "1"), ("offset", "1")]).await;

    assert_eq!(page["data"], json!([created[1]]));
    assert_eq!(page["meta"]["total_count"], 3, "{page}");
    let plain = app.data(&acme).listed("posts", &[]).await;
    assert_eq!(plain["data"].as_array().unwrap().len(), 3);
    assert!(plain["meta"]["total_count"].is_null(), "only counted when asked: {plain}");
}

#[tokio::test]
async fn a_limit_above_1000_or_below_0_is_400_invalid_query() {
    let app = spawn_app().await;
    let acme = posts(&app).await;
    app.data(&acme).item("posts", &json!({"title": "a"})).await;

    for (name, value) in [("limit", "1001"), ("limit", "-1"), ("limit", "ten"), ("offset", "-1"), ("meta", "nope")] {
        let response = app.data(&acme).list("posts", &[(name, value)]).await;

        assert_problem(response, StatusCode::BAD_REQUEST, "invalid_query").await;
    }
    assert_eq!(app.data(&acme).listed("posts", &[("limit", "1000")]).await["data"].as_array().unwrap().len(), 1);
    assert_eq!(app.data(&acme).listed("posts", &[("limit", "0")]).await["data"], json!([]));
}

#[tokio::test]
async fn a_malformed_json_body_is_400_invalid_json() {
    let app = spawn_app().await;
    let acme = posts(&app).await;

    for body in ["{\"title\": ", "{title: 1}", "", "[{\"title\": \"a\"},]"] {
        let response = app
            .data(&acme)
            .request(Method::POST, "/api/items/posts")
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .unwrap();

        assert_problem(response, StatusCode::BAD_REQUEST, "invalid_json").await;
    }
    let item = app.data(&acme).item("posts", &json!({"title": "Hello"})).await;
    let patch = app
        .data(&acme)
        .request(Method::PATCH, &format!("/api/items/posts/{}", id_of(&item)))
        .header(header::CONTENT_TYPE, "application/json")
        .body("{\"title\"")
        .send()
        .await
        .unwrap();
    assert_problem(patch, StatusCode::BAD_REQUEST, "invalid_json").await;
    assert_eq!(all(&app.data(&acme), "posts").await, vec![item]);
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415_unsupported_media_type() {
    let app = spawn_app().await;
    let acme = posts(&app).await;

    let response = app
        .data(&acme)
        .request(Method::POST, "/api/items/posts")
        .header(header::CONTENT_TYPE, "text/plain")
        .body("{\"title\": \"Hello\"}")
        .send()
        .await
        .unwrap();

    assert_problem(response, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;
    assert_eq!(all(&app.data(&acme), "posts").await, Vec::<Value>::new());
}

#[tokio::test]
async fn on_sqlite_items_are_created_fetched_patched_and_deleted() {
    let app = spawn_sqlite_app().await;
    let acme = posts(&app).await;
    let me = my_id(&app, &acme).await;

    let item = app
        .data(&acme)
        .item("posts", &json!({"title": "Hello", "published_at": "2026-01-02T03:04:05+02:00", "slug": "hello"}))
        .await;
    let id = id_of(&item);
    assert_eq!((&item["status"], &item["views"], &item["body"]), (&json!("draft"), &json!(0), &Value::Null));
    assert_eq!(item["published_at"], "2026-01-02T01:04:05.000000Z");
    assert_eq!((&item["version"], &item["user_created"]), (&json!(1), &json!(me)));
    assert_eq!(item["date_created"], item["date_updated"]);

    let response = app.data(&acme).get("posts", &id).await;
    assert_eq!(etag(&response).as_deref(), Some("\"1\""));
    assert_eq!(json_body(response, StatusCode::OK).await["data"], item);

    let many =
        app.data(&acme).create("posts", &json!([{"title": "a", "slug": "x"}, {"title": "b", "slug": "x"}])).await;
    assert_field_error(many, "[1].slug", Some("unique")).await;
    let duplicate = app.data(&acme).create("posts", &json!({"title": "Again", "slug": "hello"})).await;
    assert_field_error(duplicate, "slug", Some("unique")).await;
    let wrong = app.data(&acme).create("posts", &json!({"title": "Hello", "views": 1.5})).await;
    assert_field_error(wrong, "views", Some("invalid_type")).await;

    let patched =
        json_body(app.data(&acme).patch("posts", &id, &json!({"views": 7, "body": "Text"})).await, StatusCode::OK)
            .await["data"]
            .clone();
    assert_eq!((&patched["views"], &patched["body"], &patched["title"]), (&json!(7), &json!("Text"), &json!("Hello")));
    assert_eq!((&patched["version"], &patched["date_created"]), (&json!(2), &item["date_created"]));
    let stale = patch_if_match(&app.data(&acme), "posts", &id, "\"1\"", &json!({"views": 8})).await;
    assert_problem(stale, StatusCode::PRECONDITION_FAILED, "version_conflict").await;
    assert_eq!(fetched(&app.data(&acme), "posts", &id).await, patched);

    let listed = app.data(&acme).listed("posts", &[("fields", "title,views"), ("meta", "total_count")]).await;
    assert_eq!(listed["data"], json!([{"title": "Hello", "views": 7}]));
    assert_eq!(listed["meta"]["total_count"], 1);

    let stale_delete = delete_if_match(&app.data(&acme), "posts", &id, "\"1\"").await;
    assert_problem(stale_delete, StatusCode::PRECONDITION_FAILED, "version_conflict").await;
    let deleted = app.data(&acme).delete("posts", &id).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_problem(app.data(&acme).get("posts", &id).await, StatusCode::NOT_FOUND, "item_not_found").await;
    let reused = app.data(&acme).item("posts", &json!({"title": "Again", "slug": "hello"})).await;
    assert_eq!(reused["slug"], "hello");
}
