//! `/api/collections…`: a tenant's collection definitions; admins write, members read.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use serde_json::Value;
use utoipa_actix_web::{scope, service_config::ServiceConfig};

use super::{Data, List, PageQuery, created};
use crate::{
    auth::roles::{Admin, Member},
    error::{Error, Problem},
    http::extract::TenantCaller,
    services::{
        Env,
        collections::{self, CollectionPatch, CollectionView, NewCollection},
    },
};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(
        scope("/api/collections")
            .service(list)
            .service(create)
            .service(read)
            .service(add_fields)
            .service(remove)
            .service(remove_field),
    );
}

/// The tenant's collections, by name.
#[utoipa::path(
    tag = "collections", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = List<CollectionView>), (status = 400, description = "`invalid_query`", body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"))
)]
#[get("")]
async fn list(caller: TenantCaller<Member>, env: Env, query: web::Query<PageQuery>) -> Result<HttpResponse, Error> {
    let (collections, total) = collections::list(&env, caller.tenant.id, query.page()?).await?;
    Ok(HttpResponse::Ok().json(List::new(collections, total)))
}

/// Define a collection (tenant admins).
#[utoipa::path(
    tag = "collections", security(("bearer" = [])), request_body = NewCollection,
    responses(
        (status = 201, body = Data<CollectionView>), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`collection_exists`", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")
    )
)]
#[post("")]
async fn create(caller: TenantCaller<Admin>, env: Env, body: web::Json<Value>) -> Result<HttpResponse, Error> {
    let input = NewCollection::parse(&body)?;
    Ok(created(collections::create(&env, caller.tenant.id, input).await?))
}

/// One collection.
#[utoipa::path(
    tag = "collections", security(("bearer" = [])), params(("name" = String, Path)),
    responses((status = 200, body = Data<CollectionView>), (status = 404, description = "`collection_not_found`", body = Problem, content_type = "application/problem+json"))
)]
#[get("/{name}")]
async fn read(
    caller: TenantCaller<Member>,
    env: Env,
    name: web::Path<String>,
) -> Result<web::Json<Data<CollectionView>>, Error> {
    Ok(web::Json(Data { data: collections::get(&env, caller.tenant.id, &name).await? }))
}

/// Add fields to a collection; a new field's default is written into existing items.
#[utoipa::path(
    tag = "collections", security(("bearer" = [])), params(("name" = String, Path)), request_body = CollectionPatch,
    responses(
        (status = 200, body = Data<CollectionView>), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")
    )
)]
#[patch("/{name}")]
async fn add_fields(
    caller: TenantCaller<Admin>,
    env: Env,
    name: web::Path<String>,
    body: web::Json<Value>,
) -> Result<web::Json<Data<CollectionView>>, Error> {
    let patch = CollectionPatch::parse(&body)?;
    let collection = collections::add_fields(&env, caller.tenant.id, &name, patch).await?;
    Ok(web::Json(Data { data: collection }))
}

/// Delete a collection and all its items.
#[utoipa::path(
    tag = "collections", security(("bearer" = [])), params(("name" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
#[delete("/{name}")]
async fn remove(caller: TenantCaller<Admin>, env: Env, name: web::Path<String>) -> Result<HttpResponse, Error> {
    collections::delete(&env, caller.tenant.id, &name).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Drop a field and its values from every item.
#[utoipa::path(
    tag = "collections", security(("bearer" = [])), params(("name" = String, Path), ("field" = String, Path)),
    responses(
        (status = 200, body = Data<CollectionView>), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`collection_not_found` or `field_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")
    )
)]
#[delete("/{name}/fields/{field}")]
async fn remove_field(
    caller: TenantCaller<Admin>,
    env: Env,
    path: web::Path<(String, String)>,
) -> Result<web::Json<Data<CollectionView>>, Error> {
    let (name, field) = path.into_inner();
    Ok(web::Json(Data { data: collections::drop_field(&env, caller.tenant.id, &name, &field).await? }))
}
