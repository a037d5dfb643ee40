//! `GET /api/activity`: the tenant's audit log (tenant admins).

use actix_web::{HttpResponse, get, web};
use utoipa_actix_web::service_config::ServiceConfig;

use super::List;
use crate::{
    auth::roles::Admin,
    error::{Error, Problem},
    http::extract::TenantCaller,
    services::{Env, activity, item_query::ListParams},
};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list);
}

/// An audit log entry: `{"id","action","collection","item","user","timestamp","delta"}`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub struct Entry(serde_json::Value);

/// The tenant's audit log, newest first; `filter`, `sort`, `limit`, `offset`, `meta` as for items.
#[utoipa::path(
    tag = "activity", security(("bearer" = [])), params(ListParams),
    responses(
        (status = 200, body = List<Entry>), (status = 400, description = "`invalid_query`", body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/api/activity")]
async fn list(caller: TenantCaller<Admin>, env: Env, params: web::Query<ListParams>) -> Result<HttpResponse, Error> {
    let (entries, total) = activity::list(&env, &caller.tenant, &caller.caller, params.into_inner()).await?;
    Ok(HttpResponse::Ok().json(List::new(entries.into_iter().map(Entry).collect(), total)))
}
