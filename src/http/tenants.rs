//! `/api/tenants…`: tenant management for platform admins.

use actix_web::{HttpResponse, delete, get, patch, post, put, web};
use serde::Deserialize;
use utoipa_actix_web::{scope, service_config::ServiceConfig};

use super::{Data, List, created};
use crate::{
    error::{Code, Error, Problem},
    http::extract::PlatformAdmin,
    services::usage::DayRange,
    services::{
        Env, Page,
        tenants::{self, NewTenant, TenantFilter, TenantPatch, Usage},
    },
    tenancy::{Tenant, TenantStatus},
};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(
        scope("/api/tenants")
            .service(create)
            .service(list)
            .service(read)
            .service(update)
            .service(replace_settings)
            .service(usage)
            .service(suspend)
            .service(resume)
            .service(remove),
    );
}

/// Query of `GET /api/tenants`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// `active` or `suspended`.
    status: Option<String>,
    /// Case-insensitive substring of slug or name.
    q: Option<String>,
    /// 0-1000, default 100.
    limit: Option<i64>,
    offset: Option<i64>,
    /// `total_count` adds `meta.total_count`.
    meta: Option<String>,
}

/// Create a tenant (optionally with its first admin user).
#[utoipa::path(
    tag = "tenants", security(("bearer" = [])), request_body = NewTenant,
    responses(
        (status = 201, body = Data<Tenant>),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`tenant_exists` or `domain_taken`", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("")]
async fn create(_: PlatformAdmin, env: Env, body: web::Json<NewTenant>) -> Result<HttpResponse, Error> {
    Ok(created(tenants::create(&env, body.into_inner()).await?))
}

/// List tenants (deleted ones never appear).
#[utoipa::path(
    tag = "tenants", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = List<Tenant>), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"))
)]
#[get("")]
async fn list(_: PlatformAdmin, env: Env, query: web::Query<ListQuery>) -> Result<HttpResponse, Error> {
    let page = Page::new(query.limit, query.offset, query.meta.as_deref())?;
    let status = match query.status.as_deref() {
        None | Some("") => None,
        Some("active") => Some(TenantStatus::Active),
        Some("suspended") => Some(TenantStatus::Suspended),
        Some(other) => {
            return Err(Error::new(Code::InvalidQuery, format!("unknown status `{other}`")));
        }
    };
    let filter = TenantFilter { status, q: query.q.clone() };
    let (tenants, total) = tenants::list(&env, &filter, page).await?;
    Ok(HttpResponse::Ok().json(List::new(tenants, total)))
}

/// Read a tenant by id or slug.
#[utoipa::path(
    tag = "tenants", security(("bearer" = [])), params(("id" = String, Path, description = "tenant id or slug")),
    responses((status = 200, body = Data<Tenant>), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
#[get("/{id}")]
async fn read(_: PlatformAdmin, env: Env, id: web::Path<String>) -> Result<web::Json<Data<Tenant>>, Error> {
    Ok(web::Json(Data { data: tenants::get(&env, &id).await? }))
}

/// Change name, plan or domains (`domains` replaces the list).
#[utoipa::path(
    tag = "tenants", security(("bearer" = [])), params(("id" = String, Path, description = "tenant id or slug")), request_body = TenantPatch,
    responses((status = 200, body = Data<Tenant>), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json"))
)]
#[patch("/{id}")]
async fn update(
    admin: PlatformAdmin,
    env: Env,
    id: web::Path<String>,
    body: web::Json<TenantPatch>,
) -> Result<web::Json<Data<Tenant>>, Error> {
    Ok(web::Json(Data { data: tenants::update(&env, &admin.0, &id, body.into_inner()).await? }))
}

/// Replace the tenant's settings with a JSON object.
#[utoipa::path(
    tag = "tenants", security(("bearer" = [])), params(("id" = String, Path, description = "tenant id or slug")), request_body = Object,
    responses((status = 200, body = Data<Tenant>), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json"))
)]
#[put("/{id}/settings")]
async fn replace_settings(
    admin: PlatformAdmin,
    env: Env,
    id: web::Path<String>,
    body: web::Json<serde_json::Value>,
) -> Result<web::Json<Data<Tenant>>, Error> {
    Ok(web::Json(Data { data: tenants::replace_settings(&env, &admin.0, &id, body.into_inner()).await? }))
}

/// Query of `GET /api/tenants/{id}/usage`: the days to report, `YYYY-MM-DD` (UTC, inclusive).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct UsageQuery {
    /// First day; default 29 days before `to`.
    from: Option<String>,
    /// Last day; default today.
    to: Option<String>,
}

/// What the tenant holds and how much it was used (per day of the range, and the last 24 hours).
#[utoipa::path(
    tag = "tenants", security(("bearer" = [])), params(("id" = String, Path, description = "tenant id or slug"), UsageQuery),
    responses((status = 200, body = Data<Usage>), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
#[get("/{id}/usage")]
async fn usage(
    _: PlatformAdmin,
    env: Env,
    id: web::Path<String>,
    query: web::Query<UsageQuery>,
) -> Result<web::Json<Data<Usage>>, Error> {
    let range = DayRange::parse(query.from.as_deref(), query.to.as_deref())?;
    Ok(web::Json(Data { data: tenants::usage(&env, &id, range).await? }))
}

/// Suspend: the tenant's routes answer 403 `tenant_suspended` from the next request on.
#[utoipa::path(
    tag = "tenants", security(("bearer" = [])), params(("id" = String, Path, description = "tenant id or slug")),
    responses((status = 200, body = Data<Tenant>), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
#[post("/{id}/suspend")]
async fn suspend(admin: PlatformAdmin, env: Env, id: web::Path<String>) -> Result<web::Json<Data<Tenant>>, Error> {
    Ok(web::Json(Data { data: tenants::set_status(&env, &admin.0, &id, TenantStatus::Suspended).await? }))
}

/// Resume a suspended tenant.
#[utoipa::path(
    tag = "tenants", security(("bearer" = [])), params(("id" = String, Path, description = "tenant id or slug")),
    responses((status = 200, body = Data<Tenant>), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
#[post("/{id}/resume")]
async fn resume(admin: PlatformAdmin, env: Env, id: web::Path<String>) -> Result<web::Json<Data<Tenant>>, Error> {
    Ok(web::Json(Data { data: tenants::set_status(&env, &admin.0, &id, TenantStatus::Active).await? }))
}

/// Delete: unreachable at once (404); rows are purged in the background.
#[utoipa::path(
    tag = "tenants", security(("bearer" = [])), params(("id" = String, Path, description = "tenant id or slug")),
    responses((status = 202, description = "Deleted; purge under way"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
#[delete("/{id}")]
async fn remove(admin: PlatformAdmin, env: Env, id: web::Path<String>) -> Result<HttpResponse, Error> {
    tenants::delete(&env, &admin.0, &id).await?;
    Ok(HttpResponse::Accepted().finish())
}
