//! `/api/tenant`: the caller's own tenant.

use actix_web::{HttpResponse, get, http::header::ContentType, put, web};
use utoipa_actix_web::{scope, service_config::ServiceConfig};

use super::Data;
use crate::{
    auth::roles::Admin,
    error::{Error, Problem},
    http::extract::TenantCaller,
    services::{Env, tenants},
    tenancy::Tenant,
};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(scope("/api/tenant").service(read).service(replace_settings));
}

/// The tenant the request resolved to (any member).
#[utoipa::path(
    tag = "tenant", security(("bearer" = [])),
    responses(
        (status = 200, body = Data<Tenant>),
        (status = 400, description = "`tenant_required` or `tenant_conflict`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")
    )
)]
#[get("")]
async fn read(caller: TenantCaller) -> Result<HttpResponse, Error> {
    let tenant = caller.tenant.json().map_err(Error::internal)?;
    Ok(HttpResponse::Ok().content_type(ContentType::json()).body(format!("{{\"data\":{tenant}}}")))
}

/// Replace the tenant's settings (tenant admins).
#[utoipa::path(
    tag = "tenant", security(("bearer" = [])), request_body = Object,
    responses((status = 200, body = Data<Tenant>), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json"))
)]
#[put("/settings")]
async fn replace_settings(
    caller: TenantCaller<Admin>,
    env: Env,
    body: web::Json<serde_json::Value>,
) -> Result<web::Json<Data<Tenant>>, Error> {
    let tenant =
        tenants::replace_settings(&env, &caller.caller, &caller.tenant.id.to_string(), body.into_inner()).await?;
    Ok(web::Json(Data { data: tenant }))
}
