//! List queries use indexes that lead with the tenant (no scan of other tenants' rows), and an
//! `indexed` field's index serves `_eq`, ranges and sorts on it (checked with `EXPLAIN`).

use sea_orm::ColumnTrait;
use serde_json::{Value, json};
use tenantbase::{
    config::Config,
    db::PlatformDb,
    entities::collection,
    schema::Collection,
    services::item_query::{self, ListParams},
};
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app};

const TENANTS: usize = 10;
const ITEMS: usize = 500;

/// Ten tenants with 500 BENCH.md-shaped articles each (`status` and `views` indexed), analyzed.
async fn ten_tenants(app: &TestApp) -> Vec<Uuid> {
    let mut ids = Vec::new();
    for t in 0..TENANTS {
        let admin = app.tenant_admin(&format!("tenant{t}")).await;
        let api = app.data(&admin);
        api.collection(&json!({"name": "articles", "fields": [
            {"name": "title", "type": "string", "required": true},
            {"name": "body", "type": "text"},
            {"name": "status", "type": "string", "default": "draft", "indexed": true},
            {"name": "views", "type": "integer", "default": 0, "indexed": true},
        ]}))
        .await;
        let items: Vec<Value> = (0..ITEMS)
            .map(|i| {
                json!({"title": format!("Article {i}"), "body": "x".repeat(400),
                       "status": if i % 2 == 0 { "published" } else { "draft" }, "views": i * 37 % 1000})
            })
            .collect();
        api.items("articles", &items).await;
        ids.push(admin.tenant.id);
    }
    app.database.as_ref().unwrap().execute("ANALYZE items; ANALYZE collections;").await;
    ids
}

/// PostgreSQL's plan for `GET /api/items/articles` with `params`, as tenant `tenant` runs it.
async fn plan(app: &TestApp, tenant: Uuid, params: ListParams) -> String {
    let url = app.database.as_ref().unwrap().runtime_url();
    let db = PlatformDb::connect(&Config::from_vars([("TB_DATABASE_URL", url)]).unwrap()).await.unwrap();
    let txn = db.tenant(tenant).read().await.unwrap();
    let row = txn.find::<collection::Entity>().filter(collection::Column::Name.eq("articles")).one(&txn).await.unwrap();
    let collection = Collection::from_row(row.unwrap()).unwrap();
    let request = item_query::parse(&collection, &params).unwrap();
    let plan = txn.explain_items(&request.query).await.unwrap();
    txn.commit().await.unwrap();
    plan
}

fn list(filter: Option<Value>, sort: &str) -> ListParams {
    ListParams {
        filter: filter.map(|f| f.to_string()),
        sort: Some(sort.to_string()),
        limit: Some(20),
        ..ListParams::default()
    }
}

/// No sequential scan, and the index condition names the tenant.
fn assert_tenant_index_only(plan: &str) {
    assert!(!plan.contains("Seq Scan"), "a list query scanned the whole table:\n{plan}");
    assert!(plan.contains("Index Cond: ((tenant_id ="), "the index condition must lead with the tenant:\n{plan}");
}

#[tokio::test]
async fn list_queries_read_only_their_tenants_rows_through_indexes() {
    let app = spawn_app().await;
    let tenants = ten_tenants(&app).await;

    for params in [
        list(Some(json!({"status": {"_eq": "published"}})), "-id"),
        list(Some(json!({"title": {"_eq": "Article 7"}})), "id"),
        list(None, "title"),
        list(Some(json!({"body": {"_contains": "y"}})), "-id"),
    ] {
        let plan = plan(&app, tenants[3], params.clone()).await;
        assert_tenant_index_only(&plan);
    }
}

#[tokio::test]
async fn an_indexed_field_serves_equality_ranges_and_sorts() {
    let app = spawn_app().await;
    let tenants = ten_tenants(&app).await;

    for (what, params) in [
        ("equality", list(Some(json!({"views": {"_eq": 37}})), "id")),
        ("range", list(Some(json!({"views": {"_gte": 990}})), "id")),
        ("between", list(Some(json!({"views": {"_between": [10, 20]}})), "id")),
        ("sort", list(None, "-views")),
        ("sort ascending", list(None, "views")),
    ] {
        let plan = plan(&app, tenants[5], params).await;
        assert_tenant_index_only(&plan);
        assert!(plan.contains("items_k2_idx"), "{what} on indexed `views` must use its index:\n{plan}");
        if what.starts_with("sort") {
            assert!(!plan.contains("Sort"), "the index gives the order; no sort step:\n{plan}");
        }
    }
}
