//! Liveness, readiness and metrics (API.md "Operations").

use actix_web::{HttpRequest, HttpResponse, get};
use secrecy::ExposeSecret;
use serde::Serialize;
use subtle::ConstantTimeEq;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::{
    error::{Code, Error},
    services::Env,
};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(live).service(ready).service(metrics);
}

#[derive(Serialize, utoipa::ToSchema)]
struct Live {
    status: &'static str,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Ready {
    /// `ready` or `unavailable`.
    status: &'static str,
    /// `ok` or `unreachable`.
    database: &'static str,
    /// The startup check of the database role: `ok`, or `bypass_allowed` when
    /// `TB_INSECURE_ALLOW_RLS_BYPASS` let the server start despite problems.
    row_level_security: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    problems: Vec<String>,
}

/// The process is running.
#[utoipa::path(tag = "operations", responses((status = 200, body = Live)))]
#[get("/health/live")]
async fn live() -> HttpResponse {
    HttpResponse::Ok().json(Live { status: "ok" })
}

/// The database answers (503 otherwise); reports the role check of startup.
#[utoipa::path(tag = "operations", responses((status = 200, body = Ready), (status = 503, body = Ready)))]
#[get("/health/ready")]
async fn ready(env: Env) -> HttpResponse {
    let database_ok = env.database_answers().await;
    let check = env.role_check();
    let body = Ready {
        status: if database_ok { "ready" } else { "unavailable" },
        database: if database_ok { "ok" } else { "unreachable" },
        row_level_security: if check.passed() { "ok" } else { "bypass_allowed" },
        problems: check.problems.clone(),
    };
    if database_ok { HttpResponse::Ok().json(body) } else { HttpResponse::ServiceUnavailable().json(body) }
}

/// Prometheus metrics. With `TB_METRICS_TOKEN` set it needs that bearer token; otherwise only
/// loopback peers may read it.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain"), (status = 403, body = crate::error::Problem, content_type = "application/problem+json"))
)]
#[get("/metrics")]
async fn metrics(req: HttpRequest, env: Env) -> Result<HttpResponse, Error> {
    let allowed = match &env.config().metrics_token {
        Some(token) => req
            .headers()
            .get("authorization")
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .is_some_and(|given| bool::from(given.as_bytes().ct_eq(token.expose_secret().as_bytes()))),
        None => req.peer_addr().is_some_and(|peer| peer.ip().is_loopback()),
    };
    if !allowed {
        return Err(Error::new(Code::Forbidden, "Metrics need the metrics token, or a loopback peer."));
    }
    Ok(HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(env.metrics().render()))
}
