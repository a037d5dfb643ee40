//! `/api/auth…`: logging in, refreshing, logging out.

use actix_web::{HttpRequest, HttpResponse, post, web};
use secrecy::ExposeSecret;
use utoipa_actix_web::{scope, service_config::ServiceConfig};

use super::Data;
use crate::{
    error::{Error, Problem},
    http::extract::OptionalTenant,
    services::{
        Env,
        auth::{self, Credentials, RefreshRequest},
        sessions::{self, TokenResponse},
    },
};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(scope("/api/auth").service(login).service(refresh).service(logout));
}

/// The client address used for login budgets (a trusted proxy's forwarded address, else the peer).
fn client_ip(req: &HttpRequest, env: &Env) -> Option<std::net::IpAddr> {
    crate::http::client_ip::client_ip(req.peer_addr(), req.headers(), &env.config().trusted_proxies)
}

/// Log in. On a tenant (subdomain or `X-Tenant-ID`): that tenant's users; with no tenant:
/// platform admins. Returns an access token and a refresh token.
#[utoipa::path(
    tag = "auth", request_body = Credentials,
    responses(
        (status = 200, body = Data<TokenResponse>),
        (status = 401, description = "`invalid_credentials`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`tenant_suspended`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`tenant_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`, with `Retry-After`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/login")]
async fn login(
    req: HttpRequest,
    tenant: OptionalTenant,
    env: Env,
    body: web::Json<Credentials>,
) -> Result<web::Json<Data<TokenResponse>>, Error> {
    let token = auth::login(&env, tenant.0.as_ref(), client_ip(&req, &env), body.into_inner()).await?;
    Ok(web::Json(Data { data: token }))
}

/// Exchange a refresh token for a new pair; the presented one is spent. Presenting a spent one
/// again revokes its whole session family (`refresh_token_reused`).
#[utoipa::path(
    tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, body = Data<TokenResponse>),
        (status = 401, description = "`invalid_token`, `refresh_token_reused` or `token_tenant_mismatch`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/refresh")]
async fn refresh(
    req: HttpRequest,
    tenant: OptionalTenant,
    env: Env,
    body: web::Json<RefreshRequest>,
) -> Result<web::Json<Data<TokenResponse>>, Error> {
    let token = body.refresh_token.expose_secret();
    let pair = sessions::refresh(&env, tenant.0.as_deref(), client_ip(&req, &env), token).await?;
    Ok(web::Json(Data { data: pair }))
}

/// Revoke the session of a refresh token (the refresh token is the credential; no bearer needed).
#[utoipa::path(
    tag = "auth", request_body = RefreshRequest,
    responses((status = 204, description = "Logged out"), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, description = "`token_tenant_mismatch`", body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json"))
)]
#[post("/logout")]
async fn logout(tenant: OptionalTenant, env: Env, body: web::Json<RefreshRequest>) -> Result<HttpResponse, Error> {
    sessions::logout(&env, tenant.0.as_deref(), body.refresh_token.expose_secret()).await?;
    Ok(HttpResponse::NoContent().finish())
}
