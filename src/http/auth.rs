//! `/api/auth…`: logging in.

use actix_web::{post, web};
use utoipa_actix_web::{scope, service_config::ServiceConfig};

use super::Data;
use crate::{
    error::{Error, Problem},
    services::auth::{self, Credentials, TokenResponse},
    state::AppState,
    tenancy::OptionalTenant,
};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(scope("/api/auth").service(login));
}

/// Log in. On a tenant (subdomain or `X-Tenant-ID`): that tenant's users; with no tenant:
/// platform admins.
#[utoipa::path(
    tag = "auth", request_body = Credentials,
    responses(
        (status = 200, body = Data<TokenResponse>),
        (status = 401, description = "`invalid_credentials`", body = Problem),
        (status = 403, description = "`tenant_suspended`", body = Problem),
        (status = 404, description = "`tenant_not_found`", body = Problem),
    )
)]
#[post("/login")]
async fn login(
    tenant: OptionalTenant,
    state: web::Data<AppState>,
    body: web::Json<Credentials>,
) -> Result<web::Json<Data<TokenResponse>>, Error> {
    let token = auth::login(&state, tenant.0.as_deref(), body.into_inner()).await?;
    Ok(web::Json(Data { data: token }))
}
