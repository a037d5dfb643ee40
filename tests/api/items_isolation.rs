//! Tenant isolation of the data API (SECURITY.md items 1, 2, 4-7 and 18): tenant B's admin, editor
//! and viewer, naming their tenant by host, by `X-Tenant-ID` (slug and id) and by token alone, go
//! after tenant A's collections and items and see, change and learn nothing of them; the role
//! matrix of the collection and item routes; and row-level security on the `collections` and
//! `items` tables through the runtime role the server uses.

use reqwest::{Method, Response, StatusCode};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement, TransactionTrait};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    Tenant, TenantAdmin, TestApp, assert_problem, content_type,
    items::{DataApi, Naming, articles_collection},
    json_body, spawn_app,
    users::Member,
};

/// A string only tenant A's data contains.
const MARKER: &str = "ACME-CONFIDENTIAL-4c1e";

// ----------------------------------------------------------------------------------------------
// Fixtures

/// Tenant A (`acme`): `articles` with three items (two carrying the marker) and `acme_secrets`
/// with one item (the marker again).
struct TenantA {
    admin: TenantAdmin,
    /// The ids of A's three articles, then the id of its secret.
    ids: Vec<String>,
    articles: Vec<Value>,
}

impl TenantA {
    fn id(&self) -> Uuid {
        self.admin.tenant.id
    }

    fn article_ids(&self) -> Vec<String> {
        self.ids[..3].to_vec()
    }
}

async fn tenant_a(app: &TestApp) -> TenantA {
    let admin = app.tenant_admin("acme").await;
    let data = app.data(&admin);
    data.collection(&articles_collection()).await;
    data.collection(&json!({"name": "acme_secrets", "fields": [{"name": "codename", "type": "string"}]})).await;
    let articles = data
        .items(
            "articles",
            &[
                json!({"title": format!("{MARKER} merger plan"), "body": "Until the board meets.",
                       "status": "published", "views": 4242}),
                json!({"title": "Quarterly numbers", "body": format!("Revenue table, marked {MARKER}."), "views": 1717}),
                json!({"title": "Office move", "status": "published", "views": 3}),
            ],
        )
        .await;
    let secret = data.item("acme_secrets", &json!({"codename": MARKER})).await;
    let mut ids: Vec<String> = articles.iter().map(id_of).collect();
    ids.push(id_of(&secret));
    TenantA { admin, ids, articles }
}

/// Tenant B (`globex`): its admin, an editor and a viewer, all logged in on its subdomain. No
/// collections until a test gives it some.
struct TenantB {
    admin: TenantAdmin,
    editor: Member,
    viewer: Member,
}

impl TenantB {
    fn callers(&self) -> [(&'static str, &str); 3] {
        [("admin", self.admin.token.as_str()), ("editor", self.editor.token()), ("viewer", self.viewer.token())]
    }

    fn writers(&self) -> [(&'static str, &str); 2] {
        [("admin", self.admin.token.as_str()), ("editor", self.editor.token())]
    }

    fn namings(&self) -> [Naming; 4] {
        namings(&self.admin.tenant)
    }
}

async fn tenant_b(app: &TestApp) -> TenantB {
    let admin = app.tenant_admin("globex").await;
    let editor = app.member(&admin, "editor").await;
    let viewer = app.member(&admin, "viewer").await;
    TenantB { admin, editor, viewer }
}

/// Gives a tenant its own `articles` with two items that match none of A's values; their ids.
async fn own_articles(app: &TestApp, admin: &TenantAdmin) -> Vec<String> {
    let data = app.data(admin);
    data.collection(&articles_collection()).await;
    let items = data
        .items(
            "articles",
            &[
                json!({"title": "Globex roadmap", "body": "Hammocks for everyone.", "views": 5}),
                json!({"title": "Globex hiring", "status": "published", "views": 8}),
            ],
        )
        .await;
    items.iter().map(id_of).collect()
}

/// Every way of naming this tenant: host, header by slug, header by id, and the token alone.
fn namings(tenant: &Tenant) -> [Naming; 4] {
    [
        Naming::Host(tenant.slug.clone()),
        Naming::Header(tenant.slug.clone()),
        Naming::Header(tenant.id.to_string()),
        Naming::Token,
    ]
}

/// Every way of naming this tenant explicitly (for a token of another tenant).
fn explicit_namings(tenant: &Tenant) -> [Naming; 3] {
    [Naming::Host(tenant.slug.clone()), Naming::Header(tenant.slug.clone()), Naming::Header(tenant.id.to_string())]
}

fn id_of(item: &Value) -> String {
    item["id"].as_str().unwrap_or_else(|| panic!("an item with a string id: {item}")).to_string()
}

/// Everything a tenant admin sees of the data API: the collection definitions and every item
/// of each collection.
async fn snapshot(app: &TestApp, admin: &TenantAdmin) -> Value {
    let data = app.data(admin);
    let collections = json_body(data.list_collections().await, StatusCode::OK).await["data"].clone();
    let mut items = serde_json::Map::new();
    for collection in collections.as_array().unwrap_or_else(|| panic!("a list of collections: {collections}")) {
        let name = collection["name"].as_str().expect("a collection name");
        let listed = data.listed(name, &[("limit", "1000"), ("meta", "total_count")]).await;
        items.insert(name.to_string(), listed);
    }
    json!({"collections": collections, "items": items})
}

/// A request with an `If-Match` header (the helpers send none).
async fn with_if_match(api: &DataApi<'_>, method: Method, path: &str, version: &str, body: Option<&Value>) -> Response {
    let mut request = api.request(method, path).header("If-Match", version);
    if let Some(body) = body {
        request = request.json(body);
    }
    request.send().await.unwrap()
}

// ----------------------------------------------------------------------------------------------
// Findings: every deviation in a table of requests, reported together

#[derive(Default)]
struct Findings(Vec<String>);

impl Findings {
    fn push(&mut self, finding: String) {
        self.0.push(finding);
    }

    fn no_marker(&mut self, what: &str, text: &str) {
        if text.contains(MARKER) {
            self.push(format!("{what}: the answer carries A's marker: {text}"));
        }
    }

    /// Expects an RFC 9457 problem with this status and `code`.
    async fn problem(&mut self, what: &str, response: Response, status: StatusCode, code: &str) {
        let (got, media) = (response.status(), content_type(&response));
        let text = response.text().await.unwrap();
        let got_code = serde_json::from_str::<Value>(&text).map(|body| body["code"].clone()).unwrap_or(Value::Null);
        if got != status || got_code != code || !media.starts_with("application/problem+json") {
            self.push(format!("{what}: expected {status} `{code}`, got {got} ({media}): {text}"));
        }
        self.no_marker(what, &text);
    }

    /// Expects a 422 `validation_failed` with an error on `field` with `code`.
    async fn field_error(&mut self, what: &str, response: Response, field: &str, code: &str) {
        let status = response.status();
        let text = response.text().await.unwrap();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let found = body["errors"]
            .as_array()
            .is_some_and(|errors| errors.iter().any(|error| error["field"] == field && error["code"] == code));
        if status != StatusCode::UNPROCESSABLE_ENTITY || body["code"] != "validation_failed" || !found {
            self.push(format!(
                "{what}: expected 422 `validation_failed` with `{field}` `{code}`, got {status}: {text}"
            ));
        }
        self.no_marker(what, &text);
    }

    /// Expects the same status and `code` as `reference`, the answer to the same request about
    /// something that exists nowhere, and a client error.
    async fn same_as(&mut self, what: &str, response: Response, reference: Response) {
        let status = response.status();
        let text = response.text().await.unwrap();
        let (reference_status, reference_text) = (reference.status(), reference.text().await.unwrap());
        let code = |text: &str| serde_json::from_str::<Value>(text).map(|b| b["code"].clone()).unwrap_or(Value::Null);
        if status != reference_status || code(&text) != code(&reference_text) || !status.is_client_error() {
            self.push(format!(
                "{what}: expected the answer about something that exists nowhere, {reference_status} \
                 {reference_text}; got {status}: {text}"
            ));
        }
        self.no_marker(what, &text);
    }

    /// Expects a 200 item list holding exactly the items `expected` (in any order) and a
    /// `meta.total_count` of as many (the request asked for `meta=total_count`).
    async fn listing(&mut self, what: &str, response: Response, expected: &[String]) {
        let status = response.status();
        let text = response.text().await.unwrap();
        self.no_marker(what, &text);
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let Some(items) = body["data"].as_array().filter(|_| status == StatusCode::OK) else {
            self.push(format!("{what}: expected 200 and a list, got {status}: {text}"));
            return;
        };
        let mut ids: Vec<String> = items.iter().map(|item| item["id"].as_str().unwrap_or("?").to_string()).collect();
        ids.sort();
        let mut want = expected.to_vec();
        want.sort();
        if ids != want || body["meta"]["total_count"] != expected.len() {
            self.push(format!("{what}: expected exactly {want:?} and total_count {}, got: {text}", want.len()));
        }
    }

    /// Expects a 200 collection list naming exactly `expected`.
    async fn collections(&mut self, what: &str, response: Response, expected: &[&str]) {
        let status = response.status();
        let text = response.text().await.unwrap();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let names: Option<Vec<&str>> = body["data"]
            .as_array()
            .map(|list| list.iter().map(|collection| collection["name"].as_str().unwrap_or("?")).collect());
        if status != StatusCode::OK || names.as_deref() != Some(expected) {
            self.push(format!("{what}: expected 200 listing {expected:?}, got {status}: {text}"));
        }
        self.no_marker(what, &text);
    }

    fn assert_none(self, about: &str) {
        assert!(self.0.is_empty(), "{about}; {} deviations:\n{}", self.0.len(), self.0.join("\n"));
    }
}

// ----------------------------------------------------------------------------------------------
// Tenant B attacks tenant A

#[tokio::test]
async fn tenant_b_without_an_articles_collection_gets_404_collection_not_found_for_everything_of_a() {
    let app = spawn_app().await;
    let a = tenant_a(&app).await;
    let b = tenant_b(&app).await;
    let before = snapshot(&app, &a.admin).await;
    let change = json!({"title": "pwned", "views": 0});
    let planted = json!({"title": "planted", "tenant_id": a.id()});

    let mut findings = Findings::default();
    for naming in b.namings() {
        for (role, token) in b.callers() {
            let api = app.data_as(naming.clone(), Some(token));
            let who = format!("B's {role} by {naming:?}");
            for collection in ["articles", "acme_secrets"] {
                for id in &a.ids {
                    let by_id = json!({"id": {"_eq": id}}).to_string();
                    let reads = [
                        ("list", api.list(collection, &[("meta", "total_count")]).await),
                        (
                            "filter on A's id",
                            api.list(collection, &[("filter", &by_id), ("meta", "total_count")]).await,
                        ),
                        ("search for A's marker", api.list(collection, &[("search", MARKER)]).await),
                        ("GET A's id", api.get(collection, id).await),
                    ];
                    for (what, response) in reads {
                        let what = format!("{who}: {what} in {collection} ({id})");
                        findings.problem(&what, response, StatusCode::NOT_FOUND, "collection_not_found").await;
                    }
                    let writes = [
                        ("PATCH", api.patch(collection, id, &change).await, api.patch("nowhere", id, &change).await),
                        ("DELETE", api.delete(collection, id).await, api.delete("nowhere", id).await),
                    ];
                    for (what, response, reference) in writes {
                        let what = format!("{who}: {what} /api/items/{collection}/{id}");
                        if role == "viewer" {
                            findings.same_as(&what, response, reference).await;
                        } else {
                            findings.problem(&what, response, StatusCode::NOT_FOUND, "collection_not_found").await;
                        }
                    }
                }
                let what = format!("{who}: POST /api/items/{collection} with A's tenant_id");
                let response = api.create(collection, &planted).await;
                if role == "viewer" {
                    findings.same_as(&what, response, api.create("nowhere", &planted).await).await;
                } else {
                    findings.problem(&what, response, StatusCode::NOT_FOUND, "collection_not_found").await;
                }
            }
        }
    }
    findings.assert_none("B has no collections: every request about A's is 404 collection_not_found");
    assert_eq!(snapshot(&app, &a.admin).await, before, "A's collections and items are unchanged");
}

#[tokio::test]
async fn tenant_b_with_its_own_articles_lists_only_its_own_items_under_every_naming() {
    let app = spawn_app().await;
    let a = tenant_a(&app).await;
    let b = tenant_b(&app).await;
    let mine = own_articles(&app, &b.admin).await;

    let mut findings = Findings::default();
    for naming in b.namings() {
        for (role, token) in b.callers() {
            let api = app.data_as(naming.clone(), Some(token));
            let who = format!("B's {role} by {naming:?}");
            let queries: [&[(&str, &str)]; 5] = [
                &[("meta", "total_count")],
                &[("limit", "1000"), ("meta", "total_count")],
                &[("sort", "-views"), ("limit", "1000"), ("meta", "total_count")],
                &[("sort", "title"), ("fields", "id,title"), ("meta", "total_count")],
                &[("filter", r#"{"_and":[]}"#), ("meta", "total_count")],
            ];
            for query in queries {
                let what = format!("{who}: list articles {query:?}");
                findings.listing(&what, api.list("articles", query).await, &mine).await;
            }
            // Paging past B's own items reaches nobody else's.
            let body = api.list("articles", &[("offset", "2"), ("limit", "1000"), ("meta", "total_count")]).await;
            let (status, text) = (body.status(), body.text().await.unwrap());
            let parsed: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            if status != StatusCode::OK || parsed["data"] != json!([]) || parsed["meta"]["total_count"] != 2 {
                findings.push(format!("{who}: offset 2 is past B's two items, got {status}: {text}"));
            }
        }
    }
    findings.assert_none("B's lists hold B's two items and nothing of A's");
    for id in a.article_ids() {
        let response = app.data(&a.admin).get("articles", &id).await;
        assert_eq!(json_body(response, StatusCode::OK).await["data"]["id"], id, "A still has its items");
    }
}

#[tokio::test]
async fn tenant_b_filtering_on_a_values_or_a_ids_finds_nothing_under_every_naming() {
    let app = spawn_app().await;
    let a = tenant_a(&app).await;
    let b = tenant_b(&app).await;
    own_articles(&app, &b.admin).await;
    let first = &a.articles[0];
    let filters = [
        (json!({"title": {"_eq": format!("{MARKER} merger plan")}}), 1),
        (json!({"title": {"_contains": MARKER}}), 1),
        (json!({"body": {"_contains": MARKER}}), 1),
        (json!({"title": {"_starts_with": "ACME"}}), 1),
        (json!({"_or": [{"title": {"_contains": MARKER}}, {"body": {"_contains": MARKER}}]}), 2),
        (json!({"views": {"_gte": 1000}}), 2),
        (json!({"views": {"_in": [4242, 1717, 3]}}), 3),
        (json!({"id": {"_eq": a.ids[0]}}), 1),
        (json!({"id": {"_in": a.article_ids()}}), 3),
        (json!({"_or": [{"id": {"_eq": a.ids[1]}}, {"id": {"_eq": a.ids[2]}}]}), 2),
        (json!({"_and": [{"id": {"_eq": a.ids[0]}}, {"views": {"_eq": 4242}}]}), 1),
        (json!({"user_created": {"_eq": first["user_created"]}}), 3),
        // One array, one timestamp: all three of A's articles.
        (json!({"date_created": {"_eq": first["date_created"]}}), 3),
    ];
    // The filters are not vacuous: through A they find A's items.
    for (filter, in_a) in &filters {
        let filter = filter.to_string();
        let listed = app.data(&a.admin).listed("articles", &[("filter", &filter), ("meta", "total_count")]).await;
        assert_eq!(listed["meta"]["total_count"], *in_a, "through A, {filter} finds A's items: {listed}");
    }

    let mut findings = Findings::default();
    for naming in b.namings() {
        for (role, token) in b.callers() {
            let api = app.data_as(naming.clone(), Some(token));
            for (filter, _) in &filters {
                let filter = filter.to_string();
                let what = format!("B's {role} by {naming:?}: filter {filter}");
                let query = [("filter", filter.as_str()), ("meta", "total_count")];
                findings.listing(&what, api.list("articles", &query).await, &[]).await;
                let query = [("filter", filter.as_str()), ("fields", "id,title"), ("meta", "total_count")];
                findings.listing(&format!("{what} fields=id,title"), api.list("articles", &query).await, &[]).await;
            }
            // `tenant_id` is no field of the collection and no filterable system field.
            let filter = json!({"tenant_id": {"_eq": a.id()}}).to_string();
            let what = format!("B's {role} by {naming:?}: filter {filter}");
            let response = api.list("articles", &[("filter", &filter), ("meta", "total_count")]).await;
            findings.problem(&what, response, StatusCode::BAD_REQUEST, "invalid_query").await;
        }
    }
    findings.assert_none("B's filters on A's values and ids match nothing");
}

#[tokio::test]
async fn tenant_b_searching_for_a_marker_finds_nothing_under_every_naming() {
    let app = spawn_app().await;
    let a = tenant_a(&app).await;
    let b = tenant_b(&app).await;
    own_articles(&app, &b.admin).await;
    let lowercase = MARKER.to_lowercase();
    let searches = [(MARKER, 2), (lowercase.as_str(), 2), ("merger", 1), ("Quarterly", 1), ("Office move", 1)];
    for (search, in_a) in searches {
        let listed = app.data(&a.admin).listed("articles", &[("search", search), ("meta", "total_count")]).await;
        assert_eq!(listed["meta"]["total_count"], in_a, "through A, search={search} finds A's items: {listed}");
    }

    let mut findings = Findings::default();
    for naming in b.namings() {
        for (role, token) in b.callers() {
            let api = app.data_as(naming.clone(), Some(token));
            for (search, _) in searches {
                let what = format!("B's {role} by {naming:?}: search={search}");
                let query = [("search", search), ("meta", "total_count")];
                findings.listing(&what, api.list("articles", &query).await, &[]).await;
                let query = [("search", search), ("sort", "-views"), ("limit", "1000"), ("meta", "total_count")];
                findings.listing(&format!("{what} sorted"), api.list("articles", &query).await, &[]).await;
            }
        }
    }
    findings.assert_none("B's searches for A's text find nothing");
}

#[tokio::test]
async fn tenant_b_reading_changing_or_deleting_a_items_by_id_gets_404_item_not_found() {
    let app = spawn_app().await;
    let a = tenant_a(&app).await;
    let b = tenant_b(&app).await;
    own_articles(&app, &b.admin).await;
    let (a_before, b_before) = (snapshot(&app, &a.admin).await, snapshot(&app, &b.admin).await);
    let nowhere = Uuid::now_v7().to_string();
    let change = json!({"title": "pwned", "views": 0});

    let mut findings = Findings::default();
    for naming in b.namings() {
        for (role, token) in b.callers() {
            let api = app.data_as(naming.clone(), Some(token));
            // Every id of A's, the secret's too: it is in none of B's collections.
            for id in &a.ids {
                let who = format!("B's {role} by {naming:?} on A's {id}");
                let path = format!("/api/items/articles/{id}");
                findings
                    .problem(
                        &format!("{who}: GET"),
                        api.get("articles", id).await,
                        StatusCode::NOT_FOUND,
                        "item_not_found",
                    )
                    .await;
                if role == "viewer" {
                    let reference = api.patch("articles", &nowhere, &change).await;
                    findings
                        .same_as(&format!("{who}: PATCH"), api.patch("articles", id, &change).await, reference)
                        .await;
                    let reference = api.delete("articles", &nowhere).await;
                    findings.same_as(&format!("{who}: DELETE"), api.delete("articles", id).await, reference).await;
                    continue;
                }
                let writes = [
                    ("PATCH", api.patch("articles", id, &change).await),
                    ("PATCH If-Match \"1\"", with_if_match(&api, Method::PATCH, &path, "\"1\"", Some(&change)).await),
                    ("PATCH If-Match *", with_if_match(&api, Method::PATCH, &path, "*", Some(&change)).await),
                    ("DELETE If-Match \"1\"", with_if_match(&api, Method::DELETE, &path, "\"1\"", None).await),
                    ("DELETE If-Match *", with_if_match(&api, Method::DELETE, &path, "*", None).await),
                    ("DELETE", api.delete("articles", id).await),
                ];
                for (what, response) in writes {
                    let what = format!("{who}: {what}");
                    findings.problem(&what, response, StatusCode::NOT_FOUND, "item_not_found").await;
                }
            }
        }
    }
    findings.assert_none("A's ids are 404 item_not_found for B, never 403 or 412");
    assert_eq!(snapshot(&app, &a.admin).await, a_before, "A's collections and items are unchanged");
    assert_eq!(snapshot(&app, &b.admin).await, b_before, "B's own items are unchanged too");
}

#[tokio::test]
async fn tenant_b_sending_a_tenant_id_or_a_item_id_in_a_body_is_422_read_only_and_lands_nothing_in_a() {
    let app = spawn_app().await;
    let a = tenant_a(&app).await;
    let b = tenant_b(&app).await;
    let mine = own_articles(&app, &b.admin).await;
    let (a_before, b_before) = (snapshot(&app, &a.admin).await, snapshot(&app, &b.admin).await);
    let tenant_id = a.id().to_string();

    let mut findings = Findings::default();
    for naming in b.namings() {
        for (role, token) in b.writers() {
            let api = app.data_as(naming.clone(), Some(token));
            let who = format!("B's {role} by {naming:?}");
            let creates = [
                (json!({"title": "planted", "tenant_id": tenant_id}), "tenant_id"),
                (json!({"title": "planted", "id": a.ids[0]}), "id"),
                (json!([{"title": "harmless"}, {"title": "planted", "tenant_id": tenant_id}]), "[1].tenant_id"),
                (json!([{"title": "harmless"}, {"title": "planted", "id": a.ids[1]}]), "[1].id"),
            ];
            for (body, field) in creates {
                let what = format!("{who}: POST {body}");
                findings.field_error(&what, api.create("articles", &body).await, field, "read_only").await;
            }
            let patches = [
                (json!({"tenant_id": tenant_id}), "tenant_id"),
                (json!({"title": "moved?", "tenant_id": tenant_id}), "tenant_id"),
                (json!({"id": a.ids[0]}), "id"),
            ];
            for (body, field) in patches {
                let what = format!("{who}: PATCH B's {} with {body}", mine[0]);
                findings.field_error(&what, api.patch("articles", &mine[0], &body).await, field, "read_only").await;
            }
        }
    }
    findings.assert_none("system fields in a body are 422 read_only");
    assert_eq!(snapshot(&app, &a.admin).await, a_before, "nothing was planted in A, nothing of A changed");
    assert_eq!(snapshot(&app, &b.admin).await, b_before, "nothing was created in B either (all or nothing)");
    let moved = app.data(&a.admin).get("articles", &mine[0]).await;
    assert_problem(moved, StatusCode::NOT_FOUND, "item_not_found").await;
}

#[tokio::test]
async fn tenant_b_tokens_naming_tenant_a_by_host_or_header_are_401_token_tenant_mismatch() {
    let app = spawn_app().await;
    let a = tenant_a(&app).await;
    let b = tenant_b(&app).await;
    own_articles(&app, &b.admin).await;
    let before = snapshot(&app, &a.admin).await;

    let mut findings = Findings::default();
    for naming in explicit_namings(&a.admin.tenant) {
        for (role, token) in b.callers() {
            let api = app.data_as(naming.clone(), Some(token));
            for route in data_routes(&a.ids[0]) {
                let what = format!("B's {role} naming A by {naming:?}: {route}");
                findings
                    .problem(&what, route.send(&api).await, StatusCode::UNAUTHORIZED, "token_tenant_mismatch")
                    .await;
            }
        }
    }
    findings.assert_none("a token of B naming A is 401 token_tenant_mismatch");
    assert_eq!(snapshot(&app, &a.admin).await, before, "A's collections and items are unchanged");
}

#[tokio::test]
async fn tenant_b_cannot_read_change_or_delete_a_collection_definitions_under_every_naming() {
    let app = spawn_app().await;
    let a = tenant_a(&app).await;
    let b = tenant_b(&app).await;
    let before = snapshot(&app, &a.admin).await;
    let added = json!({"fields": [{"name": "leak", "type": "string"}]});

    let mut findings = Findings::default();
    for naming in b.namings() {
        for (role, token) in b.callers() {
            let api = app.data_as(naming.clone(), Some(token));
            let who = format!("B's {role} by {naming:?}");
            findings.collections(&format!("{who}: GET /api/collections"), api.list_collections().await, &[]).await;
            for (collection, field) in [("articles", "title"), ("acme_secrets", "codename")] {
                let what = format!("{who}: GET /api/collections/{collection}");
                findings
                    .problem(&what, api.get_collection(collection).await, StatusCode::NOT_FOUND, "collection_not_found")
                    .await;
                if role != "admin" {
                    continue;
                }
                let writes = [
                    (format!("PATCH /api/collections/{collection}"), api.patch_collection(collection, &added).await),
                    (
                        format!("DELETE /api/collections/{collection}/fields/{field}"),
                        api.delete_field(collection, field).await,
                    ),
                    (format!("DELETE /api/collections/{collection}"), api.delete_collection(collection).await),
                ];
                for (what, response) in writes {
                    let what = format!("{who}: {what}");
                    findings.problem(&what, response, StatusCode::NOT_FOUND, "collection_not_found").await;
                }
            }
        }
    }
    findings.assert_none("A's collection definitions do not exist for B");
    assert_eq!(snapshot(&app, &a.admin).await, before, "A's collections and items are unchanged");
}

#[tokio::test]
async fn the_same_collection_name_in_two_tenants_is_two_separate_collections() {
    let app = spawn_app().await;
    let a = tenant_a(&app).await;
    let b = tenant_b(&app).await;
    let before = snapshot(&app, &a.admin).await;
    let b_data = app.data(&b.admin);

    // Not 409 collection_exists: that would tell B that A has an `articles`.
    let created =
        b_data.collection(&json!({"name": "articles", "fields": [{"name": "headline", "type": "string"}]})).await;
    let field_names = |collection: &Value| -> Vec<String> {
        let fields = collection["fields"].as_array().unwrap_or_else(|| panic!("fields: {collection}"));
        let mut names: Vec<String> = fields.iter().map(|field| field["name"].as_str().unwrap().to_string()).collect();
        names.sort();
        names
    };
    assert_eq!(field_names(&created), ["headline"]);

    let mut findings = Findings::default();
    for naming in b.namings() {
        for (role, token) in b.callers() {
            let api = app.data_as(naming.clone(), Some(token));
            let who = format!("B's {role} by {naming:?}");
            findings
                .collections(&format!("{who}: GET /api/collections"), api.list_collections().await, &["articles"])
                .await;
            let response = api.get_collection("articles").await;
            let (status, text) = (response.status(), response.text().await.unwrap());
            let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            if status != StatusCode::OK
                || !body["data"]["fields"].is_array()
                || field_names(&body["data"]) != ["headline"]
            {
                findings.push(format!(
                    "{who}: GET /api/collections/articles is B's, with only `headline`: {status} {text}"
                ));
            }
            findings
                .listing(&format!("{who}: list articles"), api.list("articles", &[("meta", "total_count")]).await, &[])
                .await;
        }
    }
    findings.assert_none("B's `articles` is B's own");

    // A's fields are not B's: writing them is an unknown field.
    let response = b_data.create("articles", &json!({"title": "A's field"})).await;
    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert!(
        problem["errors"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["field"] == "title" && e["code"] == "unknown_field")),
        "{problem}"
    );
    let item = b_data.item("articles", &json!({"headline": "B's own"})).await;
    let patched = b_data.patch_collection("articles", &json!({"fields": [{"name": "extra", "type": "integer"}]})).await;
    assert_eq!(field_names(&json_body(patched, StatusCode::OK).await["data"]), ["extra", "headline"]);
    let dropped = b_data.delete_field("articles", "headline").await;
    assert_eq!(field_names(&json_body(dropped, StatusCode::OK).await["data"]), ["extra"]);
    assert_eq!(b_data.delete_collection("articles").await.status(), StatusCode::NO_CONTENT);

    assert_eq!(snapshot(&app, &a.admin).await, before, "A's `articles`, its fields and its items are untouched");
    assert_problem(app.data(&a.admin).get("articles", &id_of(&item)).await, StatusCode::NOT_FOUND, "item_not_found")
        .await;
    assert_problem(b_data.get_collection("articles").await, StatusCode::NOT_FOUND, "collection_not_found").await;
}

// ----------------------------------------------------------------------------------------------
// The role matrix of the data API

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Read,
    ItemWrite,
    CollectionWrite,
}

/// One data route with a body an admin would get accepted.
struct Route {
    kind: Kind,
    method: Method,
    path: String,
    body: Option<Value>,
}

impl Route {
    async fn send(&self, api: &DataApi<'_>) -> Response {
        let request = api.request(self.method.clone(), &self.path);
        let request = match &self.body {
            Some(body) => request.json(body),
            None => request,
        };
        request.send().await.unwrap()
    }
}

impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// Every collection and item route, on `articles` and its item `item`, in an order in which an
/// admin's requests all succeed one after the other (the collection is dropped last).
fn data_routes(item: &str) -> Vec<Route> {
    let route = |kind, method, path: &str, body: Option<Value>| Route { kind, method, path: path.to_string(), body };
    let item_path = format!("/api/items/articles/{item}");
    vec![
        route(Kind::Read, Method::GET, "/api/collections", None),
        route(Kind::Read, Method::GET, "/api/collections/articles", None),
        route(Kind::Read, Method::GET, "/api/items/articles", None),
        route(Kind::Read, Method::GET, "/api/items/articles?search=a&sort=-views&meta=total_count", None),
        route(Kind::Read, Method::GET, &item_path, None),
        route(Kind::ItemWrite, Method::POST, "/api/items/articles", Some(json!({"title": "planted"}))),
        route(Kind::ItemWrite, Method::POST, "/api/items/articles", Some(json!([{"title": "one"}, {"title": "two"}]))),
        route(Kind::ItemWrite, Method::PATCH, &item_path, Some(json!({"title": "changed", "views": 99}))),
        route(Kind::ItemWrite, Method::DELETE, &item_path, None),
        route(
            Kind::CollectionWrite,
            Method::POST,
            "/api/collections",
            Some(json!({"name": "intruders", "fields": [{"name": "note", "type": "string"}]})),
        ),
        route(
            Kind::CollectionWrite,
            Method::PATCH,
            "/api/collections/articles",
            Some(json!({"fields": [{"name": "escalated", "type": "string"}]})),
        ),
        route(Kind::CollectionWrite, Method::DELETE, "/api/collections/articles/fields/body", None),
        route(Kind::CollectionWrite, Method::DELETE, "/api/collections/articles", None),
    ]
}

/// A tenant `acme` with `articles` and two items made by its admin; the first item's id.
async fn acme_with_articles(app: &TestApp) -> (TenantAdmin, String) {
    let acme = app.tenant_admin("acme").await;
    let data = app.data(&acme);
    data.collection(&articles_collection()).await;
    let items = data
        .items(
            "articles",
            &[json!({"title": "First", "views": 1}), json!({"title": "Second", "body": "b", "views": 2})],
        )
        .await;
    (acme, id_of(&items[0]))
}

#[tokio::test]
async fn anonymous_callers_get_401_unauthenticated_on_every_data_route() {
    let app = spawn_app().await;
    let (acme, item) = acme_with_articles(&app).await;
    let before = snapshot(&app, &acme).await;

    let mut findings = Findings::default();
    let id = acme.tenant.id.to_string();
    for naming in [Naming::Host("acme".into()), Naming::Header("acme".into()), Naming::Header(id)] {
        let api = app.data_as(naming.clone(), None);
        for route in data_routes(&item) {
            let what = format!("anonymous by {naming:?}: {route}");
            findings.problem(&what, route.send(&api).await, StatusCode::UNAUTHORIZED, "unauthenticated").await;
        }
    }
    findings.assert_none("anonymous callers are 401 unauthenticated");
    assert_eq!(snapshot(&app, &acme).await, before, "nothing changed");
}

#[tokio::test]
async fn a_viewer_reads_collections_and_items() {
    let app = spawn_app().await;
    let (acme, item) = acme_with_articles(&app).await;
    let viewer = app.member(&acme, "viewer").await;
    let as_admin = json_body(app.data(&acme).get("articles", &item).await, StatusCode::OK).await;

    for naming in [Naming::Host("acme".into()), Naming::Token] {
        let api = app.data_as(naming.clone(), Some(viewer.token()));

        let collections = json_body(api.list_collections().await, StatusCode::OK).await;
        let collection = json_body(api.get_collection("articles").await, StatusCode::OK).await;
        let listed = api.listed("articles", &[("meta", "total_count")]).await;
        let filter = json!({"views": {"_gte": 2}}).to_string();
        let filtered = api.listed("articles", &[("filter", &filter), ("meta", "total_count")]).await;
        let searched = api.listed("articles", &[("search", "first"), ("meta", "total_count")]).await;
        let fetched = json_body(api.get("articles", &item).await, StatusCode::OK).await;

        assert_eq!(collections["data"][0]["name"], "articles", "{naming:?}: {collections}");
        assert_eq!(collection["data"]["name"], "articles", "{naming:?}: {collection}");
        assert_eq!(listed["meta"]["total_count"], 2, "{naming:?}: {listed}");
        assert_eq!(filtered["data"][0]["title"], "Second", "{naming:?}: {filtered}");
        assert_eq!(filtered["meta"]["total_count"], 1, "{naming:?}: {filtered}");
        assert_eq!(searched["data"][0]["id"], item.as_str(), "{naming:?}: {searched}");
        assert_eq!(fetched["data"], as_admin["data"], "{naming:?}: the viewer sees what the admin sees");
    }
}

#[tokio::test]
async fn a_viewer_gets_403_forbidden_on_every_item_and_collection_write() {
    let app = spawn_app().await;
    let (acme, item) = acme_with_articles(&app).await;
    let viewer = app.member(&acme, "viewer").await;
    let before = snapshot(&app, &acme).await;

    let mut findings = Findings::default();
    for naming in [Naming::Host("acme".into()), Naming::Header("acme".into()), Naming::Token] {
        let api = app.data_as(naming.clone(), Some(viewer.token()));
        for route in data_routes(&item) {
            let what = format!("viewer by {naming:?}: {route}");
            let response = route.send(&api).await;
            if route.kind == Kind::Read {
                let status = response.status();
                if status != StatusCode::OK {
                    findings.push(format!("{what}: expected 200, got {status}: {}", response.text().await.unwrap()));
                }
            } else {
                findings.problem(&what, response, StatusCode::FORBIDDEN, "forbidden").await;
            }
        }
    }
    findings.assert_none("a viewer reads and nothing else");
    assert_eq!(snapshot(&app, &acme).await, before, "nothing changed");
}

#[tokio::test]
async fn an_editor_creates_reads_updates_and_deletes_items() {
    let app = spawn_app().await;
    let (acme, _) = acme_with_articles(&app).await;
    let editor = app.member(&acme, "editor").await;
    let api = app.data_as(Naming::Host("acme".into()), Some(editor.token()));

    let one = api.item("articles", &json!({"title": "By the editor", "views": 1})).await;
    let many = api.items("articles", &[json!({"title": "Third"}), json!({"title": "Fourth"})]).await;
    let id = id_of(&one);
    let fetched = json_body(api.get("articles", &id).await, StatusCode::OK).await;
    let listed = api.listed("articles", &[("meta", "total_count")]).await;
    let path = format!("/api/items/articles/{id}");
    let patched = with_if_match(&api, Method::PATCH, &path, "\"1\"", Some(&json!({"views": 2}))).await;
    let patched = json_body(patched, StatusCode::OK).await["data"].clone();
    let deleted = api.delete("articles", &id_of(&many[0])).await;

    assert_eq!(one["user_created"], editor.user.id.to_string(), "{one}");
    assert_eq!(many.len(), 2);
    assert_eq!(fetched["data"], one);
    assert_eq!(listed["meta"]["total_count"], 5, "{listed}");
    assert_eq!(
        (&patched["title"], &patched["views"], &patched["version"]),
        (&json!("By the editor"), &json!(2), &json!(2))
    );
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_problem(api.get("articles", &id_of(&many[0])).await, StatusCode::NOT_FOUND, "item_not_found").await;
    let as_admin = json_body(app.data(&acme).get("articles", &id).await, StatusCode::OK).await;
    assert_eq!(as_admin["data"], patched, "the admin sees the editor's change");
}

#[tokio::test]
async fn an_editor_gets_403_forbidden_on_every_collection_write_and_may_do_the_rest() {
    let app = spawn_app().await;
    let (acme, item) = acme_with_articles(&app).await;
    let editor = app.member(&acme, "editor").await;
    let collections_before = json_body(app.data(&acme).list_collections().await, StatusCode::OK).await;

    let mut findings = Findings::default();
    let api = app.data_as(Naming::Host("acme".into()), Some(editor.token()));
    for route in data_routes(&item) {
        let what = format!("editor: {route}");
        let response = route.send(&api).await;
        if route.kind == Kind::CollectionWrite {
            findings.problem(&what, response, StatusCode::FORBIDDEN, "forbidden").await;
        } else {
            let status = response.status();
            if !status.is_success() {
                findings.push(format!("{what}: expected success, got {status}: {}", response.text().await.unwrap()));
            }
        }
    }
    // Via the token alone too.
    let api = app.data_as(Naming::Token, Some(editor.token()));
    for route in data_routes(&item).into_iter().filter(|route| route.kind == Kind::CollectionWrite) {
        let what = format!("editor by token: {route}");
        findings.problem(&what, route.send(&api).await, StatusCode::FORBIDDEN, "forbidden").await;
    }
    findings.assert_none("an editor writes items, never collections");
    let collections_after = json_body(app.data(&acme).list_collections().await, StatusCode::OK).await;
    assert_eq!(collections_after, collections_before, "the collections are unchanged");
}

#[tokio::test]
async fn a_tenant_admin_may_use_every_data_route() {
    let app = spawn_app().await;
    let (acme, item) = acme_with_articles(&app).await;

    let api = app.data(&acme);
    for route in data_routes(&item) {
        let response = route.send(&api).await;

        let status = response.status();
        assert!(status.is_success(), "admin: {route}: {status} {}", response.text().await.unwrap());
    }
    assert_problem(api.get_collection("articles").await, StatusCode::NOT_FOUND, "collection_not_found").await;
    assert_eq!(json_body(api.get_collection("intruders").await, StatusCode::OK).await["data"]["name"], "intruders");
}

#[tokio::test]
async fn a_platform_admin_token_on_a_tenant_host_or_header_acts_as_that_tenants_admin() {
    let app = spawn_app().await;
    let (acme, item) = acme_with_articles(&app).await;
    let globex = app.tenant_admin("globex").await;
    let platform = app.platform_token().await;

    // By header (slug and id): the platform admin defines a collection and writes to it.
    let by_slug = app.data_as(Naming::Header("acme".into()), Some(&platform));
    by_slug.collection(&json!({"name": "notes", "fields": [{"name": "text", "type": "string"}]})).await;
    let note = by_slug.item("notes", &json!({"text": "from the platform"})).await;
    let by_id = app.data_as(Naming::Header(acme.tenant.id.to_string()), Some(&platform));
    let listed = by_id.listed("notes", &[("meta", "total_count")]).await;
    assert_eq!(listed["data"][0]["id"], note["id"], "{listed}");

    // In acme, not in globex.
    let as_acme = json_body(app.data(&acme).get("notes", &id_of(&note)).await, StatusCode::OK).await;
    assert_eq!(as_acme["data"]["text"], "from the platform");
    assert_problem(app.data(&globex).get_collection("notes").await, StatusCode::NOT_FOUND, "collection_not_found")
        .await;
    let on_globex = app.data_as(Naming::Host("globex".into()), Some(&platform));
    assert_problem(on_globex.get("articles", &item).await, StatusCode::NOT_FOUND, "collection_not_found").await;

    // With no tenant named, the platform token names none.
    let nowhere = app.data_as(Naming::Token, Some(&platform));
    assert_problem(nowhere.list("articles", &[]).await, StatusCode::BAD_REQUEST, "tenant_required").await;

    // By host: every route, as an admin.
    let api = app.data_as(Naming::Host("acme".into()), Some(&platform));
    for route in data_routes(&item) {
        let response = route.send(&api).await;

        let status = response.status();
        assert!(status.is_success(), "platform admin: {route}: {status} {}", response.text().await.unwrap());
    }
    assert_problem(app.data(&acme).get_collection("articles").await, StatusCode::NOT_FOUND, "collection_not_found")
        .await;
}

// ----------------------------------------------------------------------------------------------
// Row-level security on `collections` and `items`, through the runtime role

/// One connection, so a setting left behind by one transaction would be seen by the next.
async fn runtime(app: &TestApp) -> DatabaseConnection {
    let mut options = ConnectOptions::new(app.database.as_ref().unwrap().runtime_url());
    options.max_connections(1).min_connections(1).sqlx_logging(false);
    Database::connect(options).await.unwrap()
}

async fn count(conn: &impl ConnectionTrait, sql: &str) -> i64 {
    let row = conn.query_one_raw(Statement::from_string(DbBackend::Postgres, sql)).await.unwrap().unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

async fn set_tenant(conn: &impl ConnectionTrait, tenant: Uuid) {
    conn.execute_unprepared(&format!("SELECT set_config('app.tenant_id', '{tenant}', true)")).await.unwrap();
}

async fn affected(conn: &impl ConnectionTrait, sql: &str) -> u64 {
    conn.execute_unprepared(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}")).rows_affected()
}

/// `(items, collections)` visible with `tenant` set (or none).
async fn counts(db: &DatabaseConnection, tenant: Option<Uuid>) -> (i64, i64) {
    let txn = db.begin().await.unwrap();
    if let Some(tenant) = tenant {
        set_tenant(&txn, tenant).await;
    }
    let counts =
        (count(&txn, "SELECT count(*) FROM items").await, count(&txn, "SELECT count(*) FROM collections").await);
    txn.commit().await.unwrap();
    counts
}

#[tokio::test]
async fn through_the_runtime_role_tenant_b_counts_none_of_a_items_or_collections() {
    // Raw row counts: without the audit log, whose entries are rows too.
    let app = TestApp::builder().without_builtin_hooks().spawn().await;
    let a = tenant_a(&app).await;
    let b = app.tenant_admin("globex").await;
    own_articles(&app, &b).await;
    let db = runtime(&app).await;

    assert_eq!(counts(&db, Some(a.id())).await, (4, 2), "A: three articles and a secret, in two collections");
    assert_eq!(counts(&db, Some(b.tenant.id)).await, (2, 1), "B: two articles in one collection");
    let txn = db.begin().await.unwrap();
    set_tenant(&txn, b.tenant.id).await;
    let a_id = a.id();
    assert_eq!(count(&txn, &format!("SELECT count(*) FROM items WHERE tenant_id = '{a_id}'")).await, 0);
    assert_eq!(count(&txn, &format!("SELECT count(*) FROM collections WHERE tenant_id = '{a_id}'")).await, 0);
    assert_eq!(count(&txn, &format!("SELECT count(*) FROM items WHERE tenant_id <> '{}'", b.tenant.id)).await, 0);
    let ids = a.ids.iter().map(|id| format!("'{id}'")).collect::<Vec<_>>().join(",");
    assert_eq!(count(&txn, &format!("SELECT count(*) FROM items WHERE id::text IN ({ids})")).await, 0);
    assert_eq!(count(&txn, &format!("SELECT count(*) FROM items WHERE items::text LIKE '%{MARKER}%'")).await, 0);
    txn.commit().await.unwrap();
}

#[tokio::test]
async fn with_no_tenant_set_items_and_collections_show_no_rows() {
    // Raw row counts: without the audit log, whose entries are rows too.
    let app = TestApp::builder().without_builtin_hooks().spawn().await;
    tenant_a(&app).await;
    let b = app.tenant_admin("globex").await;
    own_articles(&app, &b).await;
    let db = runtime(&app).await;

    assert_eq!(counts(&db, None).await, (0, 0), "no tenant set, in a transaction");
    assert_eq!(count(&db, "SELECT count(*) FROM items").await, 0, "no tenant set, outside a transaction");
    assert_eq!(count(&db, "SELECT count(*) FROM collections").await, 0);
    // After a transaction that set a tenant, on the same connection.
    assert_eq!(counts(&db, Some(b.tenant.id)).await, (2, 1));
    assert_eq!(counts(&db, None).await, (0, 0), "the setting ended with its transaction");
    assert_eq!(affected(&db, "UPDATE items SET version = version + 1").await, 0);
    assert_eq!(affected(&db, "DELETE FROM items").await, 0);
    assert_eq!(affected(&db, "DELETE FROM collections").await, 0);
    assert_eq!(counts(&db, Some(b.tenant.id)).await, (2, 1), "nothing was deleted");
}

#[tokio::test]
async fn through_the_runtime_role_tenant_b_updates_and_deletes_none_of_a_items() {
    // Raw row counts: without the audit log, whose entries are rows too.
    let app = TestApp::builder().without_builtin_hooks().spawn().await;
    let a = tenant_a(&app).await;
    let b = app.tenant_admin("globex").await;
    own_articles(&app, &b).await;
    let before = snapshot(&app, &a.admin).await;
    let db = runtime(&app).await;
    let a_id = a.id();

    let txn = db.begin().await.unwrap();
    set_tenant(&txn, b.tenant.id).await;
    assert_eq!(affected(&txn, &format!("UPDATE items SET version = version + 1 WHERE tenant_id = '{a_id}'")).await, 0);
    assert_eq!(affected(&txn, &format!("DELETE FROM items WHERE tenant_id = '{a_id}'")).await, 0);
    assert_eq!(affected(&txn, &format!("DELETE FROM collections WHERE tenant_id = '{a_id}'")).await, 0);
    assert_eq!(affected(&txn, "UPDATE items SET version = version + 1").await, 2, "only B's own two");
    txn.commit().await.unwrap();
    let txn = db.begin().await.unwrap();
    set_tenant(&txn, b.tenant.id).await;
    assert_eq!(affected(&txn, "DELETE FROM items").await, 2, "only B's own two");
    txn.commit().await.unwrap();

    assert_eq!(counts(&db, Some(a_id)).await, (4, 2), "A's rows are all there");
    assert_eq!(counts(&db, Some(b.tenant.id)).await, (0, 1), "B's items are gone");
    assert_eq!(snapshot(&app, &a.admin).await, before, "A's items are unchanged, versions and all");
}

#[tokio::test]
async fn moving_an_item_or_a_collection_to_another_tenant_is_refused_by_the_policy() {
    // Raw row counts: without the audit log, whose entries are rows too.
    let app = TestApp::builder().without_builtin_hooks().spawn().await;
    let a = tenant_a(&app).await;
    let b = app.tenant_admin("globex").await;
    let b_data = app.data(&b);
    b_data.collection(&json!({"name": "memos", "fields": [{"name": "text", "type": "string"}]})).await;
    b_data.item("memos", &json!({"text": "stays in globex"})).await;
    let db = runtime(&app).await;

    for table in ["items", "collections"] {
        let txn = db.begin().await.unwrap();
        set_tenant(&txn, b.tenant.id).await;
        let moved = txn.execute_unprepared(&format!("UPDATE {table} SET tenant_id = '{}'", a.id())).await;

        let error = moved.expect_err("moving a row into another tenant must fail").to_string();
        assert!(error.contains("row-level security"), "{table}: {error}");
        txn.rollback().await.unwrap();
    }
    assert_eq!(counts(&db, Some(b.tenant.id)).await, (1, 1));
    assert_eq!(counts(&db, Some(a.id())).await, (4, 2));
}
