//! Collections (API.md "Collections and items", docs/data-api.md "Collections"): defining,
//! reading, extending, dropping fields and dropping collections, and the validation of definitions.

use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    TenantAdmin, TestApp, assert_field_error, assert_problem, content_type, items::articles_collection, json_body,
    spawn_app, spawn_sqlite_app,
};

/// The eight properties every field of a returned collection spells out.
const FIELD_PROPERTIES: [&str; 8] = ["default", "enum", "indexed", "max_length", "name", "required", "type", "unique"];

/// One field of each type, nothing but name and type given.
fn every_type_collection() -> Value {
    json!({"name": "things", "fields": [
        {"name": "title", "type": "string"},
        {"name": "body", "type": "text"},
        {"name": "count", "type": "integer"},
        {"name": "ratio", "type": "number"},
        {"name": "flag", "type": "boolean"},
        {"name": "at", "type": "datetime"},
        {"name": "ref", "type": "uuid"},
        {"name": "meta", "type": "json"},
        {"name": "attachment", "type": "file"},
    ]})
}

/// A field as returned, with every property given.
#[allow(clippy::too_many_arguments)]
fn field(
    name: &str,
    kind: &str,
    required: bool,
    unique: bool,
    indexed: bool,
    default: Value,
    max_length: Value,
    enumeration: Value,
) -> Value {
    json!({
        "name": name, "type": kind, "required": required, "unique": unique, "indexed": indexed,
        "default": default, "max_length": max_length, "enum": enumeration,
    })
}

/// A field with all the defaults of its type.
fn plain(name: &str, kind: &str) -> Value {
    let max_length = if kind == "string" { json!(255) } else { Value::Null };
    field(name, kind, false, false, false, Value::Null, max_length, Value::Null)
}

fn timestamp(value: &Value) -> DateTime<Utc> {
    let text = value.as_str().unwrap_or_else(|| panic!("a timestamp string, was {value}"));
    DateTime::parse_from_rfc3339(text).unwrap_or_else(|e| panic!("`{text}` is not RFC 3339: {e}")).with_timezone(&Utc)
}

fn fields_of(collection: &Value) -> &Vec<Value> {
    collection["fields"].as_array().unwrap_or_else(|| panic!("no fields[] in {collection}"))
}

fn field_named<'a>(collection: &'a Value, name: &str) -> &'a Value {
    fields_of(collection)
        .iter()
        .find(|field| field["name"] == name)
        .unwrap_or_else(|| panic!("no field `{name}` in {collection}"))
}

fn names_of(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .unwrap_or_else(|| panic!("data is not a list: {list}"))
        .iter()
        .map(|collection| collection["name"].as_str().unwrap().to_string())
        .collect()
}

/// `count` fields named `f0`, `f1`, … of `kind`, with `extra` merged into each.
fn many_fields(count: usize, kind: &str, extra: &Value) -> Vec<Value> {
    (0..count)
        .map(|i| {
            let mut field = json!({"name": format!("f{i}"), "type": kind});
            for (key, value) in extra.as_object().unwrap() {
                field[key] = value.clone();
            }
            field
        })
        .collect()
}

/// A tenant `acme` with its admin, and the articles collection with two items in it.
async fn articles_with_two_items(app: &TestApp) -> (TenantAdmin, Vec<Value>) {
    let acme = app.tenant_admin("acme").await;
    app.data(&acme).collection(&articles_collection()).await;
    let items = app
        .data(&acme)
        .items("articles", &[json!({"title": "First", "body": "one"}), json!({"title": "Second", "body": "two"})])
        .await;
    (acme, items)
}

#[tokio::test]
async fn creating_a_collection_is_201_with_every_field_property_spelled_out() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;

    let response = app.data(&acme).create_collection(&every_type_collection()).await;

    let body = json_body(response, StatusCode::CREATED).await;
    let collection = &body["data"];
    assert_eq!(collection["name"], "things");
    for field in fields_of(collection) {
        let mut properties: Vec<&str> = field.as_object().unwrap().keys().map(String::as_str).collect();
        properties.sort();
        assert_eq!(properties, FIELD_PROPERTIES, "a field has exactly these properties: {field}");
    }
    assert_eq!(
        collection["fields"],
        json!([
            plain("title", "string"),
            plain("body", "text"),
            plain("count", "integer"),
            plain("ratio", "number"),
            plain("flag", "boolean"),
            plain("at", "datetime"),
            plain("ref", "uuid"),
            plain("meta", "json"),
            plain("attachment", "file"),
        ]),
        "string max_length defaults to 255, everything else to false or null"
    );
    assert!(timestamp(&collection["updated_at"]) >= timestamp(&collection["created_at"]));
}

#[tokio::test]
async fn a_created_collection_keeps_the_properties_it_was_given() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;

    let collection = app
        .data(&acme)
        .collection(&json!({"name": "articles", "fields": [
            {"name": "title", "type": "string", "required": true, "max_length": 100},
            {"name": "body", "type": "text", "max_length": 10000},
            {"name": "status", "type": "string", "default": "draft", "indexed": true, "enum": ["draft", "published"]},
            {"name": "views", "type": "integer", "default": 0, "enum": [0, 1, 2]},
            {"name": "score", "type": "number", "default": 1.5},
            {"name": "featured", "type": "boolean", "default": false},
            {"name": "meta", "type": "json", "default": {"a": [1, 2]}},
        ]}))
        .await;

    assert_eq!(
        collection["fields"],
        json!([
            field("title", "string", true, false, false, Value::Null, json!(100), Value::Null),
            field("body", "text", false, false, false, Value::Null, json!(10000), Value::Null),
            field("status", "string", false, false, true, json!("draft"), json!(255), json!(["draft", "published"])),
            field("views", "integer", false, false, false, json!(0), Value::Null, json!([0, 1, 2])),
            field("score", "number", false, false, false, json!(1.5), Value::Null, Value::Null),
            field("featured", "boolean", false, false, false, json!(false), Value::Null, Value::Null),
            field("meta", "json", false, false, false, json!({"a": [1, 2]}), Value::Null, Value::Null),
        ])
    );
}

#[tokio::test]
async fn a_unique_field_is_returned_as_unique() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;

    let collection = app
        .data(&acme)
        .collection(&json!({"name": "pages", "fields": [{"name": "slug", "type": "string", "unique": true}]}))
        .await;

    let slug = field_named(&collection, "slug");
    assert_eq!((&slug["unique"], &slug["required"], &slug["max_length"]), (&json!(true), &json!(false), &json!(255)));
}

#[tokio::test]
async fn a_created_collection_is_fetched_by_name_and_listed_ordered_by_name() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let mut created = Vec::new();
    for name in ["zebra", "articles", "mango"] {
        let body = json!({"name": name, "fields": [{"name": "title", "type": "string"}]});
        created.push(app.data(&acme).collection(&body).await);
    }

    let fetched = json_body(app.data(&acme).get_collection("articles").await, StatusCode::OK).await;
    let listed = json_body(app.data(&acme).list_collections().await, StatusCode::OK).await;

    assert_eq!(fetched["data"], created[1], "what was returned is what was stored");
    assert_eq!(names_of(&listed), ["articles", "mango", "zebra"]);
    let listed_articles = listed["data"].as_array().unwrap().iter().find(|c| c["name"] == "articles").unwrap();
    assert_eq!(listed_articles, &created[1]);
}

#[tokio::test]
async fn collections_are_paged_like_every_list_with_limit_offset_and_total_count() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    for name in ["a1", "a2", "a3", "a4", "a5"] {
        app.data(&acme).collection(&json!({"name": name, "fields": [{"name": "title", "type": "string"}]})).await;
    }
    let page = |query: &'static str| {
        let request = app.data(&acme).request(Method::GET, &format!("/api/collections?{query}"));
        async move { request.send().await.unwrap() }
    };

    let second = json_body(page("limit=2&offset=2&meta=total_count").await, StatusCode::OK).await;
    assert_eq!(names_of(&second), ["a3", "a4"]);
    assert_eq!(second["meta"], json!({"total_count": 5}));
    let plain = json_body(page("limit=2").await, StatusCode::OK).await;
    assert_eq!(names_of(&plain), ["a1", "a2"]);
    assert!(plain.get("meta").is_none(), "meta only when asked: {plain}");
    for bad in ["limit=1001", "limit=-1", "offset=-1", "meta=everything"] {
        assert_problem(page(bad).await, StatusCode::BAD_REQUEST, "invalid_query").await;
    }
}

#[tokio::test]
async fn a_tenant_without_collections_lists_none() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;

    let listed = json_body(app.data(&acme).list_collections().await, StatusCode::OK).await;

    assert_eq!(listed["data"], json!([]));
}

#[tokio::test]
async fn an_unknown_collection_is_404_collection_not_found() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;

    assert_problem(app.data(&acme).get_collection("nope").await, StatusCode::NOT_FOUND, "collection_not_found").await;
    let patch = app.data(&acme).patch_collection("nope", &json!({"fields": [{"name": "x", "type": "string"}]})).await;
    assert_problem(patch, StatusCode::NOT_FOUND, "collection_not_found").await;
    let delete = app.data(&acme).delete_collection("nope").await;
    assert_problem(delete, StatusCode::NOT_FOUND, "collection_not_found").await;
}

#[tokio::test]
async fn a_name_already_used_in_the_tenant_is_409_collection_exists() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let original = app.data(&acme).collection(&articles_collection()).await;

    let again = json!({"name": "articles", "fields": [{"name": "other", "type": "integer"}]});
    let response = app.data(&acme).create_collection(&again).await;

    assert_problem(response, StatusCode::CONFLICT, "collection_exists").await;
    let after = json_body(app.data(&acme).get_collection("articles").await, StatusCode::OK).await;
    assert_eq!(after["data"], original, "the existing collection is untouched");
}

#[tokio::test]
async fn a_bad_collection_name_is_422_on_name() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let too_long = "a".repeat(64);

    for name in ["Articles", "tb_x", "1x", too_long.as_str(), "", "my-things", "_x", "a b", "ärticles"] {
        let body = json!({"name": name, "fields": [{"name": "title", "type": "string"}]});

        let response = app.data(&acme).create_collection(&body).await;

        assert_field_error(response, "name", None).await;
    }
    let missing = app.data(&acme).create_collection(&json!({"fields": [{"name": "title", "type": "string"}]})).await;
    assert_field_error(missing, "name", None).await;
    let listed = json_body(app.data(&acme).list_collections().await, StatusCode::OK).await;
    assert_eq!(listed["data"], json!([]), "nothing was created");
}

#[tokio::test]
async fn names_at_the_edges_of_the_rule_are_accepted() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let longest = format!("a{}", "b".repeat(62));

    for name in ["a", longest.as_str(), "x_1", "tbx", "t_b"] {
        let body =
            json!({"name": name, "fields": [{"name": longest, "type": "string"}, {"name": "b", "type": "text"}]});

        let collection = app.data(&acme).collection(&body).await;

        assert_eq!(collection["name"], name);
    }
}

#[tokio::test]
async fn a_bad_field_name_is_422_on_that_field() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let too_long = "a".repeat(64);

    for name in ["Title", "tb_x", "1x", too_long.as_str(), "", "has-dash", "a.b"] {
        let body = json!({"name": "things", "fields": [
            {"name": "fine", "type": "string"},
            {"name": name, "type": "string"},
        ]});

        let response = app.data(&acme).create_collection(&body).await;

        assert_field_error(response, "fields[1].name", None).await;
    }
    assert_problem(app.data(&acme).get_collection("things").await, StatusCode::NOT_FOUND, "collection_not_found").await;
}

#[tokio::test]
async fn duplicate_field_names_are_422() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let body = json!({"name": "things", "fields": [
        {"name": "title", "type": "string"},
        {"name": "title", "type": "text"},
    ]});

    let response = app.data(&acme).create_collection(&body).await;

    assert_field_error(response, "fields[1].name", None).await;
    assert_problem(app.data(&acme).get_collection("things").await, StatusCode::NOT_FOUND, "collection_not_found").await;
}

#[tokio::test]
async fn a_system_field_name_is_422() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;

    for name in ["id", "tenant_id", "date_created", "date_updated", "user_created", "version"] {
        let body = json!({"name": "things", "fields": [{"name": name, "type": "string"}]});

        let response = app.data(&acme).create_collection(&body).await;

        assert_field_error(response, "fields[0].name", None).await;
    }
}

#[tokio::test]
async fn an_unknown_type_is_422_on_the_type() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;

    for kind in ["varchar", "String", "", "int", "uuid4"] {
        let body = json!({"name": "things", "fields": [{"name": "title", "type": kind}]});

        let response = app.data(&acme).create_collection(&body).await;

        assert_field_error(response, "fields[0].type", None).await;
    }
}

#[tokio::test]
async fn a_missing_or_wrongly_typed_field_property_is_422_on_that_property() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;

    for (property, value) in [
        ("type", json!(1)),
        ("type", Value::Null),
        ("max_length", json!("10")),
        ("required", json!("yes")),
        ("enum", json!("a")),
    ] {
        let mut field = json!({"name": "x", "type": "string"});
        field[property] = value.clone();
        let body = json!({"name": "things", "fields": [field]});

        let response = app.data(&acme).create_collection(&body).await;

        assert_field_error(response, &format!("fields[0].{property}"), None).await;
    }
    let missing = app.data(&acme).create_collection(&json!({"name": "things", "fields": [{"name": "title"}]})).await;
    assert_field_error(missing, "fields[0].type", None).await;
}

#[tokio::test]
async fn a_default_that_is_not_a_valid_value_of_the_field_is_422_on_the_default() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let bad = [
        json!({"name": "count", "type": "integer", "default": "zero"}),
        json!({"name": "count", "type": "integer", "default": 1.5}),
        json!({"name": "flag", "type": "boolean", "default": "yes"}),
        json!({"name": "title", "type": "string", "default": 5}),
        json!({"name": "at", "type": "datetime", "default": "yesterday"}),
        json!({"name": "ref", "type": "uuid", "default": "not-a-uuid"}),
        json!({"name": "status", "type": "string", "enum": ["draft", "published"], "default": "archived"}),
        json!({"name": "level", "type": "integer", "enum": [1, 2, 3], "default": 4}),
        json!({"name": "title", "type": "string", "max_length": 5, "default": "too long"}),
        json!({"name": "body", "type": "text", "max_length": 3, "default": "four"}),
    ];

    for field in bad {
        let body = json!({"name": "things", "fields": [field]});

        let response = app.data(&acme).create_collection(&body).await;

        assert_field_error(response, "fields[0].default", None).await;
    }
    let listed = json_body(app.data(&acme).list_collections().await, StatusCode::OK).await;
    assert_eq!(listed["data"], json!([]), "nothing was created");
}

#[tokio::test]
async fn an_enum_on_a_type_that_takes_none_is_422() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;

    for (kind, values) in [
        ("boolean", json!([true, false])),
        ("text", json!(["a", "b"])),
        ("datetime", json!(["2026-01-01T00:00:00Z"])),
        ("json", json!([{}])),
    ] {
        let body = json!({"name": "things", "fields": [{"name": "x", "type": kind, "enum": values}]});

        let response = app.data(&acme).create_collection(&body).await;

        assert_field_error(response, "fields[0]", None).await;
    }
}

#[tokio::test]
async fn a_bad_enum_is_422() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let too_many: Vec<i64> = (0..101).collect();

    for (kind, values) in [
        ("string", json!([])),
        ("string", json!(["a", "a"])),
        ("string", json!(["a", 1])),
        ("integer", json!([1, "two"])),
        ("integer", json!([1.5])),
        ("integer", json!(too_many)),
    ] {
        let body = json!({"name": "things", "fields": [{"name": "x", "type": kind, "enum": values}]});

        let response = app.data(&acme).create_collection(&body).await;

        assert_field_error(response, "fields[0]", None).await;
    }
}

#[tokio::test]
async fn max_length_is_422_on_a_type_other_than_string_or_text_and_outside_1_to_65535() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;

    for (kind, max_length) in [
        ("integer", json!(10)),
        ("boolean", json!(10)),
        ("json", json!(10)),
        ("string", json!(0)),
        ("string", json!(65536)),
        ("text", json!(-1)),
    ] {
        let body = json!({"name": "things", "fields": [{"name": "x", "type": kind, "max_length": max_length}]});

        let response = app.data(&acme).create_collection(&body).await;

        assert_field_error(response, "fields[0]", None).await;
    }
    let edge = json!({"name": "things", "fields": [
        {"name": "a", "type": "string", "max_length": 1},
        {"name": "b", "type": "text", "max_length": 65535},
    ]});
    app.data(&acme).collection(&edge).await;
}

#[tokio::test]
async fn indexed_or_unique_on_text_or_json_is_422() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;

    for kind in ["text", "json"] {
        for flag in ["indexed", "unique"] {
            let body = json!({"name": "things", "fields": [{"name": "x", "type": kind, flag: true}]});

            let response = app.data(&acme).create_collection(&body).await;

            assert_field_error(response, "fields[0]", None).await;
        }
    }
}

#[tokio::test]
async fn an_indexed_or_unique_string_longer_than_512_is_422() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;

    for flag in ["indexed", "unique"] {
        let body =
            json!({"name": "things", "fields": [{"name": "x", "type": "string", "max_length": 513, flag: true}]});

        let response = app.data(&acme).create_collection(&body).await;

        assert_field_error(response, "fields[0]", None).await;
    }
    let at_the_limit = json!({"name": "things", "fields": [
        {"name": "x", "type": "string", "max_length": 512, "indexed": true},
        {"name": "y", "type": "string", "max_length": 512, "unique": true},
    ]});
    app.data(&acme).collection(&at_the_limit).await;
}

#[tokio::test]
async fn more_than_8_indexed_fields_is_422_and_8_are_accepted() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;

    let nine = json!({"name": "things", "fields": many_fields(9, "integer", &json!({"indexed": true}))});
    assert_field_error(app.data(&acme).create_collection(&nine).await, "fields", None).await;

    let eight = json!({"name": "things", "fields": many_fields(8, "integer", &json!({"indexed": true}))});
    let collection = app.data(&acme).collection(&eight).await;
    assert!(fields_of(&collection).iter().all(|field| field["indexed"] == true), "{collection}");
}

#[tokio::test]
async fn more_than_4_unique_fields_is_422_and_4_are_accepted() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;

    let five = json!({"name": "things", "fields": many_fields(5, "integer", &json!({"unique": true}))});
    assert_field_error(app.data(&acme).create_collection(&five).await, "fields", None).await;

    let four = json!({"name": "things", "fields": many_fields(4, "integer", &json!({"unique": true}))});
    let collection = app.data(&acme).collection(&four).await;
    assert!(fields_of(&collection).iter().all(|field| field["unique"] == true), "{collection}");
}

#[tokio::test]
async fn zero_fields_or_more_than_100_is_422_and_100_are_accepted() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;

    let none = app.data(&acme).create_collection(&json!({"name": "things", "fields": []})).await;
    assert_field_error(none, "fields", None).await;
    let missing = app.data(&acme).create_collection(&json!({"name": "things"})).await;
    assert_field_error(missing, "fields", None).await;
    let too_many = json!({"name": "things", "fields": many_fields(101, "integer", &json!({}))});
    assert_field_error(app.data(&acme).create_collection(&too_many).await, "fields", None).await;

    let hundred = json!({"name": "things", "fields": many_fields(100, "integer", &json!({}))});
    let collection = app.data(&acme).collection(&hundred).await;
    assert_eq!(fields_of(&collection).len(), 100);
}

#[tokio::test]
async fn patching_a_collection_adds_fields_and_leaves_the_existing_ones_untouched() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let before = app.data(&acme).collection(&articles_collection()).await;

    let response = app
        .data(&acme)
        .patch_collection(
            "articles",
            &json!({"fields": [
                {"name": "category", "type": "string"},
                {"name": "rating", "type": "number", "default": 2.5},
            ]}),
        )
        .await;

    let after = json_body(response, StatusCode::OK).await["data"].clone();
    assert_eq!(fields_of(&after).len(), 6, "{after}");
    for old in fields_of(&before) {
        assert_eq!(field_named(&after, old["name"].as_str().unwrap()), old, "an existing field changed");
    }
    assert_eq!(field_named(&after, "category"), &plain("category", "string"));
    assert_eq!(
        field_named(&after, "rating"),
        &field("rating", "number", false, false, false, json!(2.5), Value::Null, Value::Null)
    );
    assert_eq!(after["created_at"], before["created_at"]);
    assert!(timestamp(&after["updated_at"]) >= timestamp(&before["updated_at"]));
    let fetched = json_body(app.data(&acme).get_collection("articles").await, StatusCode::OK).await;
    assert_eq!(fetched["data"], after);
}

#[tokio::test]
async fn patching_with_a_field_name_that_exists_is_422_exists_and_changes_nothing() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let before = app.data(&acme).collection(&articles_collection()).await;

    let response = app
        .data(&acme)
        .patch_collection(
            "articles",
            &json!({"fields": [{"name": "category", "type": "string"}, {"name": "title", "type": "text"}]}),
        )
        .await;

    assert_field_error(response, "fields[1].name", Some("exists")).await;
    let after = json_body(app.data(&acme).get_collection("articles").await, StatusCode::OK).await;
    assert_eq!(after["data"], before, "not even the valid new field was added");
}

#[tokio::test]
async fn patching_in_a_required_field_without_a_default_is_422() {
    let app = spawn_app().await;
    let (acme, _) = articles_with_two_items(&app).await;
    let before = json_body(app.data(&acme).get_collection("articles").await, StatusCode::OK).await;

    let response = app
        .data(&acme)
        .patch_collection("articles", &json!({"fields": [{"name": "category", "type": "string", "required": true}]}))
        .await;

    assert_field_error(response, "fields[0]", None).await;
    let after = json_body(app.data(&acme).get_collection("articles").await, StatusCode::OK).await;
    assert_eq!(after["data"], before["data"]);
}

#[tokio::test]
async fn patching_in_fields_is_validated_like_a_create() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let before = app.data(&acme).collection(&articles_collection()).await;

    for (field, error_on) in [
        (json!({"name": "Bad", "type": "string"}), "fields[0].name"),
        (json!({"name": "version", "type": "integer"}), "fields[0].name"),
        (json!({"name": "x", "type": "varchar"}), "fields[0].type"),
        (json!({"name": "x", "type": "integer", "default": "zero"}), "fields[0].default"),
        (json!({"name": "x", "type": "text", "indexed": true}), "fields[0]"),
    ] {
        let response = app.data(&acme).patch_collection("articles", &json!({"fields": [field]})).await;

        assert_field_error(response, error_on, None).await;
    }
    let duplicate = json!({"fields": [{"name": "x", "type": "string"}, {"name": "x", "type": "string"}]});
    assert_field_error(app.data(&acme).patch_collection("articles", &duplicate).await, "fields[1].name", None).await;
    let after = json_body(app.data(&acme).get_collection("articles").await, StatusCode::OK).await;
    assert_eq!(after["data"], before);
}

#[tokio::test]
async fn patching_beyond_the_index_limit_counts_the_existing_indexed_fields() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let seven = json!({"name": "things", "fields": many_fields(7, "integer", &json!({"indexed": true}))});
    app.data(&acme).collection(&seven).await;

    let two_more = json!({"fields": [
        {"name": "g0", "type": "integer", "indexed": true},
        {"name": "g1", "type": "integer", "indexed": true},
    ]});
    assert_field_error(app.data(&acme).patch_collection("things", &two_more).await, "fields", None).await;

    let one_more = json!({"fields": [{"name": "g0", "type": "integer", "indexed": true}]});
    json_body(app.data(&acme).patch_collection("things", &one_more).await, StatusCode::OK).await;
}

#[tokio::test]
async fn a_new_field_with_a_default_is_backfilled_and_an_indexed_one_is_filterable() {
    let app = spawn_app().await;
    let (acme, items) = articles_with_two_items(&app).await;

    let response = app
        .data(&acme)
        .patch_collection(
            "articles",
            &json!({"fields": [
                {"name": "category", "type": "string", "required": true, "default": "news", "indexed": true},
                {"name": "score", "type": "integer", "default": 5, "indexed": true},
                {"name": "note", "type": "string"},
            ]}),
        )
        .await;

    json_body(response, StatusCode::OK).await;
    for item in &items {
        let id = item["id"].as_str().unwrap();
        let fetched = json_body(app.data(&acme).get("articles", id).await, StatusCode::OK).await["data"].clone();
        assert_eq!(
            (&fetched["category"], &fetched["score"], &fetched["note"]),
            (&json!("news"), &json!(5), &Value::Null),
            "{fetched}"
        );
        assert_eq!((&fetched["title"], &fetched["body"]), (&item["title"], &item["body"]), "the rest is kept");
    }
    let by_category = app.data(&acme).listed("articles", &[("filter", r#"{"category":{"_eq":"news"}}"#)]).await;
    assert_eq!(by_category["data"].as_array().unwrap().len(), 2, "{by_category}");
    let by_score = app.data(&acme).listed("articles", &[("filter", r#"{"score":{"_gte":5}}"#)]).await;
    assert_eq!(by_score["data"].as_array().unwrap().len(), 2, "{by_score}");
    let none = app.data(&acme).listed("articles", &[("filter", r#"{"category":{"_eq":"sports"}}"#)]).await;
    assert_eq!(none["data"], json!([]));
    let new = app.data(&acme).item("articles", &json!({"title": "Third"})).await;
    assert_eq!((&new["category"], &new["score"]), (&json!("news"), &json!(5)), "the default applies to new items");
    let sports = app.data(&acme).item("articles", &json!({"title": "Fourth", "category": "sports"})).await;
    let filtered = app.data(&acme).listed("articles", &[("filter", r#"{"category":{"_eq":"sports"}}"#)]).await;
    assert_eq!(filtered["data"], json!([sports]));
}

#[tokio::test]
async fn dropping_a_field_removes_it_and_its_values_from_every_item() {
    let app = spawn_app().await;
    let (acme, items) = articles_with_two_items(&app).await;

    let response = app.data(&acme).delete_field("articles", "body").await;

    let collection = json_body(response, StatusCode::OK).await["data"].clone();
    let names: Vec<&str> = fields_of(&collection).iter().map(|field| field["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["title", "status", "views"]);
    let id = items[0]["id"].as_str().unwrap();
    let fetched = json_body(app.data(&acme).get("articles", id).await, StatusCode::OK).await["data"].clone();
    assert_eq!(fetched["body"], Value::Null, "{fetched}");
    assert_eq!(fetched["title"], "First");
    let filter = app.data(&acme).list("articles", &[("filter", r#"{"body":{"_eq":"one"}}"#)]).await;
    assert_problem(filter, StatusCode::BAD_REQUEST, "invalid_query").await;
    let create = app.data(&acme).create("articles", &json!({"title": "Third", "body": "three"})).await;
    assert_field_error(create, "body", Some("unknown_field")).await;
    let fetched_collection = json_body(app.data(&acme).get_collection("articles").await, StatusCode::OK).await;
    assert_eq!(fetched_collection["data"], collection);
}

#[tokio::test]
async fn a_dropped_field_added_again_starts_without_the_old_values() {
    let app = spawn_app().await;
    let (acme, items) = articles_with_two_items(&app).await;
    json_body(app.data(&acme).delete_field("articles", "body").await, StatusCode::OK).await;

    let again =
        app.data(&acme).patch_collection("articles", &json!({"fields": [{"name": "body", "type": "text"}]})).await;

    json_body(again, StatusCode::OK).await;
    for item in &items {
        let id = item["id"].as_str().unwrap();
        let fetched = json_body(app.data(&acme).get("articles", id).await, StatusCode::OK).await["data"].clone();
        assert_eq!(fetched["body"], Value::Null, "the old value is gone: {fetched}");
    }
    let old_value = app.data(&acme).listed("articles", &[("filter", r#"{"body":{"_eq":"one"}}"#)]).await;
    assert_eq!(old_value["data"], json!([]));
}

#[tokio::test]
async fn dropping_an_unknown_field_is_404_field_not_found() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let before = app.data(&acme).collection(&articles_collection()).await;

    let response = app.data(&acme).delete_field("articles", "nope").await;

    assert_problem(response, StatusCode::NOT_FOUND, "field_not_found").await;
    let unknown_collection = app.data(&acme).delete_field("nope", "title").await;
    assert_problem(unknown_collection, StatusCode::NOT_FOUND, "collection_not_found").await;
    let after = json_body(app.data(&acme).get_collection("articles").await, StatusCode::OK).await;
    assert_eq!(after["data"], before);
}

#[tokio::test]
async fn the_last_field_cannot_be_dropped() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let before =
        app.data(&acme).collection(&json!({"name": "things", "fields": [{"name": "title", "type": "string"}]})).await;

    let response = app.data(&acme).delete_field("things", "title").await;

    let status = response.status();
    let content_type = content_type(&response);
    let text = response.text().await.unwrap();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
    assert!(content_type.starts_with("application/problem+json"), "{content_type}: {text}");
    let after = json_body(app.data(&acme).get_collection("things").await, StatusCode::OK).await;
    assert_eq!(after["data"], before);
}

#[tokio::test]
async fn deleting_a_collection_is_204_and_it_and_its_items_are_gone() {
    let app = spawn_app().await;
    let (acme, items) = articles_with_two_items(&app).await;
    let id = items[0]["id"].as_str().unwrap().to_string();
    app.data(&acme).collection(&json!({"name": "keep", "fields": [{"name": "x", "type": "string"}]})).await;

    let response = app.data(&acme).delete_collection("articles").await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT, "{}", response.text().await.unwrap());
    let get = app.data(&acme).get_collection("articles").await;
    assert_problem(get, StatusCode::NOT_FOUND, "collection_not_found").await;
    let list = app.data(&acme).list("articles", &[]).await;
    assert_problem(list, StatusCode::NOT_FOUND, "collection_not_found").await;
    let item = app.data(&acme).get("articles", &id).await;
    assert_problem(item, StatusCode::NOT_FOUND, "collection_not_found").await;
    let create = app.data(&acme).create("articles", &json!({"title": "Again"})).await;
    assert_problem(create, StatusCode::NOT_FOUND, "collection_not_found").await;
    let again = app.data(&acme).delete_collection("articles").await;
    assert_problem(again, StatusCode::NOT_FOUND, "collection_not_found").await;
    let listed = json_body(app.data(&acme).list_collections().await, StatusCode::OK).await;
    assert_eq!(names_of(&listed), ["keep"]);
}

#[tokio::test]
async fn a_collection_created_again_under_a_deleted_name_starts_empty() {
    let app = spawn_app().await;
    let (acme, items) = articles_with_two_items(&app).await;
    let response = app.data(&acme).delete_collection("articles").await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    let recreated = app.data(&acme).collection(&articles_collection()).await;

    assert_eq!(recreated["name"], "articles");
    let listed = app.data(&acme).listed("articles", &[("meta", "total_count")]).await;
    assert_eq!(listed["data"], json!([]));
    assert_eq!(listed["meta"]["total_count"], 0);
    let old = app.data(&acme).get("articles", items[0]["id"].as_str().unwrap()).await;
    assert_problem(old, StatusCode::NOT_FOUND, "item_not_found").await;
    let title = app.data(&acme).item("articles", &json!({"title": "First"})).await;
    assert_eq!(title["version"], 1);
}

#[tokio::test]
async fn on_sqlite_collections_are_created_listed_fetched_extended_and_deleted() {
    let app = spawn_sqlite_app().await;
    let acme = app.tenant_admin("acme").await;

    let things = json_body(app.data(&acme).create_collection(&every_type_collection()).await, StatusCode::CREATED)
        .await["data"]
        .clone();
    let articles = app.data(&acme).collection(&articles_collection()).await;

    assert_eq!(fields_of(&things).len(), 9);
    assert_eq!(field_named(&things, "title"), &plain("title", "string"));
    assert_eq!(field_named(&things, "body"), &plain("body", "text"));
    assert_eq!(
        field_named(&articles, "status"),
        &field("status", "string", false, false, true, json!("draft"), json!(255), Value::Null)
    );
    let listed = json_body(app.data(&acme).list_collections().await, StatusCode::OK).await;
    assert_eq!(names_of(&listed), ["articles", "things"]);
    let fetched = json_body(app.data(&acme).get_collection("things").await, StatusCode::OK).await;
    assert_eq!(fetched["data"], things);
    let duplicate = app.data(&acme).create_collection(&articles_collection()).await;
    assert_problem(duplicate, StatusCode::CONFLICT, "collection_exists").await;
    assert_field_error(
        app.data(&acme).create_collection(&json!({"name": "tb_x", "fields": [{"name": "a", "type": "string"}]})).await,
        "name",
        None,
    )
    .await;

    let item = app.data(&acme).item("articles", &json!({"title": "First"})).await;
    let patch = json!({"fields": [{"name": "category", "type": "string", "default": "news", "indexed": true}]});
    json_body(app.data(&acme).patch_collection("articles", &patch).await, StatusCode::OK).await;
    let fetched = json_body(app.data(&acme).get("articles", item["id"].as_str().unwrap()).await, StatusCode::OK).await;
    assert_eq!(fetched["data"]["category"], "news", "backfilled on SQLite too");
    let by_category = app.data(&acme).listed("articles", &[("filter", r#"{"category":{"_eq":"news"}}"#)]).await;
    assert_eq!(by_category["data"].as_array().unwrap().len(), 1);
    json_body(app.data(&acme).delete_field("articles", "category").await, StatusCode::OK).await;
    let filter = app.data(&acme).list("articles", &[("filter", r#"{"category":{"_eq":"news"}}"#)]).await;
    assert_problem(filter, StatusCode::BAD_REQUEST, "invalid_query").await;

    let deleted = app.data(&acme).delete_collection("articles").await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_problem(app.data(&acme).get_collection("articles").await, StatusCode::NOT_FOUND, "collection_not_found")
        .await;
    let recreated = app.data(&acme).collection(&articles_collection()).await;
    assert_eq!(recreated["name"], "articles");
    assert_eq!(app.data(&acme).listed("articles", &[]).await["data"], json!([]));
}
