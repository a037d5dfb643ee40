//! `/api/items/{collection}…`: the data API. Viewers read, editors and admins write.

use actix_web::{HttpRequest, HttpResponse, delete, get, http::header::IF_MATCH, patch, post, web};
use serde::Serialize;
use serde_json::Value;
use utoipa_actix_web::{scope, service_config::ServiceConfig};

use super::{Data, List, answer};
use crate::{
    auth::roles::{Editor, Member},
    cache::Answer,
    error::{Code, Error, Problem},
    http::extract::TenantCaller,
    services::{
        Env,
        item_query::ListParams,
        items::{self, Created, Precondition},
    },
};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(scope("/api/items").service(list).service(create).service(read).service(update).service(remove));
}

/// An item: `id`, every field of its collection (`null` when unset), `date_created`,
/// `date_updated`, `user_created` and `version`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub struct Item(Value);

/// `If-Match`: `"3"`, `3`, `W/"3"` or `*`.
fn precondition(req: &HttpRequest) -> Result<Option<Precondition>, Error> {
    let Some(value) = req.headers().get(IF_MATCH) else { return Ok(None) };
    let text = value.to_str().unwrap_or_default().trim();
    if text == "*" {
        return Ok(Some(Precondition::Exists));
    }
    let tag = text.strip_prefix("W/").unwrap_or(text).trim_matches('"');
    tag.parse()
        .map(|v| Some(Precondition::Version(v)))
        .map_err(|_| Error::new(Code::InvalidHeader, "If-Match must be an item version such as \"3\", or *."))
}

/// `200` with the item and its version as `ETag`.
fn with_etag(item: Value) -> Result<HttpResponse, Error> {
    Ok(answer::ok(&item_answer(item)?))
}

/// `{"data": item}` with the item's version as its `ETag`.
fn item_answer(item: Value) -> Result<Answer, Error> {
    let etag = format!("\"{}\"", item["version"].as_i64().unwrap_or_default());
    answer::data_answer(Item(item), etag)
}

/// List items, with filter, sort, search, fields and paging (docs/data-api.md). The `ETag`
/// identifies the page's bytes; `If-None-Match` with it answers `304`.
#[utoipa::path(
    tag = "items", security(("bearer" = [])), params(("collection" = String, Path), ListParams),
    responses(
        (status = 200, body = List<Item>), (status = 304, description = "Not modified (`If-None-Match`)"), (status = 400, description = "`invalid_query`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`collection_not_found`", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/{collection}")]
async fn list(
    caller: TenantCaller<Member>,
    env: Env,
    collection: web::Path<String>,
    params: web::Query<ListParams>,
    req: HttpRequest,
) -> Result<HttpResponse, Error> {
    let answer =
        items::list_answer(&env, &caller.tenant, &caller.caller, &collection, &params, answer::list_answer).await?;
    Ok(answer::respond(&req, &answer))
}

/// Create one item (an object) or several, all or nothing (an array).
#[utoipa::path(
    tag = "items", security(("bearer" = [])), params(("collection" = String, Path)), request_body = Item,
    responses(
        (status = 201, body = Data<Item>), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/{collection}")]
async fn create(
    caller: TenantCaller<Editor>,
    env: Env,
    collection: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, Error> {
    let created = items::create(&env, &caller.tenant, &caller.caller, &collection, body.into_inner()).await?;
    Ok(match created {
        Created::One(item) => super::created(Item(item)),
        Created::Many(items) => super::created(items.into_iter().map(Item).collect::<Vec<_>>()),
    })
}

/// One item; its `ETag` is its version (`If-None-Match` with it answers `304`).
#[utoipa::path(
    tag = "items", security(("bearer" = [])), params(("collection" = String, Path), ("id" = Uuid, Path)),
    responses((status = 200, body = Data<Item>), (status = 304, description = "Not modified (`If-None-Match`)"), (status = 404, description = "`item_not_found`", body = Problem, content_type = "application/problem+json"))
)]
#[get("/{collection}/{id}")]
async fn read(
    caller: TenantCaller<Member>,
    env: Env,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, Error> {
    let (collection, id) = path.into_inner();
    let answer = items::get_answer(&env, &caller.tenant, &caller.caller, &collection, &id, item_answer).await?;
    Ok(answer::respond(&req, &answer))
}

/// Change the fields present in the body; `If-Match: "<version>"` guards against lost updates.
#[utoipa::path(
    tag = "items", security(("bearer" = [])), params(("collection" = String, Path), ("id" = Uuid, Path)), request_body = Item,
    responses(
        (status = 200, body = Data<Item>), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "`version_conflict`", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")
    )
)]
#[patch("/{collection}/{id}")]
async fn update(
    caller: TenantCaller<Editor>,
    env: Env,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    body: web::Json<Value>,
) -> Result<HttpResponse, Error> {
    let (collection, id) = path.into_inner();
    let precondition = precondition(&req)?;
    let item =
        items::update(&env, &caller.tenant, &caller.caller, &collection, &id, body.into_inner(), precondition).await?;
    with_etag(item)
}

/// Delete an item (`If-Match` honoured).
#[utoipa::path(
    tag = "items", security(("bearer" = [])), params(("collection" = String, Path), ("id" = Uuid, Path)),
    responses(
        (status = 204, description = "Deleted"), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "`version_conflict`", body = Problem, content_type = "application/problem+json")
    )
)]
#[delete("/{collection}/{id}")]
async fn remove(
    caller: TenantCaller<Editor>,
    env: Env,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, Error> {
    let (collection, id) = path.into_inner();
    items::delete(&env, &caller.tenant, &caller.caller, &collection, &id, precondition(&req)?).await?;
    Ok(HttpResponse::NoContent().finish())
}
