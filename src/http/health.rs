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
    /// The details, only for operators (the metrics token, or a loopback peer while no proxy is
    /// trusted): `ok` or `unreachable`.
    #[serde(skip_serializing_if = "Option::is_none")]
    database: Option<&'static str>,
    /// The startup check of the database role: `ok`, or `bypass_allowed` when
    /// `TB_INSECURE_ALLOW_RLS_BYPASS` let the server start despite problems (operators only).
    #[serde(skip_serializing_if = "Option::is_none")]
    row_level_security: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    problems: Vec<String>,
}

/// The process is running.
#[utoipa::path(tag = "operations", responses((status = 200, body = Live)))]
#[get("/health/live")]
async fn live() -> HttpResponse {
    HttpResponse::Ok().json(Live { status: "ok" })
}

/// The database answers (503 otherwise). Operators also see the database and the role check of
/// startup; everyone else sees the status only.
#[utoipa::path(tag = "operations", responses((status = 200, body = Ready), (status = 503, body = Ready)))]
#[get("/health/ready")]
async fn ready(req: HttpRequest, env: Env) -> HttpResponse {
    let database_ok = env.database_answers().await;
    let mut body = Ready {
        status: if database_ok { "ready" } else { "unavailable" },
        database: None,
        row_level_security: None,
        problems: Vec::new(),
    };
    if is_operator(&req, &env) {
        let check = env.role_check();
        body.database = Some(if database_ok { "ok" } else { "unreachable" });
        body.row_level_security = Some(if check.passed() { "ok" } else { "bypass_allowed" });
        body.problems = check.problems.clone();
    }
    if database_ok { HttpResponse::Ok().json(body) } else { HttpResponse::ServiceUnavailable().json(body) }
}

/// Whether the request comes from the operator: it carries `TB_METRICS_TOKEN` (compared in
/// constant time), or, with no token configured, it comes from a loopback peer while no reverse
/// proxy is trusted. Behind a local proxy every request arrives from loopback, so loopback alone
/// proves nothing then.
fn is_operator(req: &HttpRequest, env: &Env) -> bool {
    let config = env.config();
    match &config.metrics_token {
        Some(token) => req
            .headers()
            .get("authorization")
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .is_some_and(|given| bool::from(given.as_bytes().ct_eq(token.expose_secret().as_bytes()))),
        None => config.trusted_proxies.is_empty() && req.peer_addr().is_some_and(|peer| peer.ip().is_loopback()),
    }
}

/// Prometheus metrics, for the operator only: with `TB_METRICS_TOKEN` set it needs that bearer
/// token; otherwise only loopback peers may read it, and only while no proxy is trusted.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain"), (status = 403, body = crate::error::Problem, content_type = "application/problem+json"))
)]
#[get("/metrics")]
async fn metrics(req: HttpRequest, env: Env) -> Result<HttpResponse, Error> {
    if !is_operator(&req, &env) {
        return Err(Error::new(
            Code::Forbidden,
            "Metrics need the metrics token, or a loopback peer when no proxy is trusted.",
        ));
    }
    Ok(HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(env.metrics().render()))
}
