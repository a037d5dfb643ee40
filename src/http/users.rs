//! `/api/users…`: tenant users, managed by tenant admins; `/api/users/me` for anyone.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use utoipa_actix_web::{scope, service_config::ServiceConfig};
use uuid::Uuid;

use super::{Data, List, PageQuery, created};
use crate::{
    auth::roles::Admin,
    error::{Code, Error, Problem},
    http::extract::OptionalTenant,
    http::extract::{Authenticated, TenantCaller},
    services::{
        Env,
        users::{self, Me, NewUser, UserPatch, UserView},
    },
};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(
        scope("/api/users").service(me).service(list).service(create).service(read).service(update).service(remove),
    );
}

/// A user id from the path; anything that is not a uuid names no user.
fn user_id(raw: &str) -> Result<Uuid, Error> {
    Uuid::parse_str(raw).map_err(|_| Error::new(Code::UserNotFound, "No such user in this tenant."))
}

/// The caller (a tenant user, or a platform admin).
#[utoipa::path(
    tag = "users", security(("bearer" = [])),
    responses((status = 200, body = Data<Me>), (status = 401, body = Problem, content_type = "application/problem+json"))
)]
#[get("/me")]
async fn me(
    // A tenant named by host or header must be the token's own (401 `token_tenant_mismatch`).
    _: OptionalTenant,
    caller: Authenticated,
    env: Env,
) -> Result<web::Json<Data<Me>>, Error> {
    Ok(web::Json(Data { data: users::me(&env, &caller.0).await? }))
}

/// List the tenant's users.
#[utoipa::path(
    tag = "users", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = List<UserView>), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"))
)]
#[get("")]
async fn list(caller: TenantCaller<Admin>, env: Env, query: web::Query<PageQuery>) -> Result<HttpResponse, Error> {
    let page = query.page()?;
    let (users, total) = users::list(&env, caller.tenant.id, page).await?;
    Ok(HttpResponse::Ok().json(List::new(users, total)))
}

/// Create a user.
#[utoipa::path(
    tag = "users", security(("bearer" = [])), request_body = NewUser,
    responses(
        (status = 201, body = Data<UserView>), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`user_exists`", body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")
    )
)]
#[post("")]
async fn create(caller: TenantCaller<Admin>, env: Env, body: web::Json<NewUser>) -> Result<HttpResponse, Error> {
    Ok(created(users::create(&env, &caller.tenant, &caller.caller, body.into_inner()).await?))
}

/// Read a user.
#[utoipa::path(
    tag = "users", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Data<UserView>), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
#[get("/{id}")]
async fn read(
    caller: TenantCaller<Admin>,
    env: Env,
    id: web::Path<String>,
) -> Result<web::Json<Data<UserView>>, Error> {
    Ok(web::Json(Data { data: users::get(&env, caller.tenant.id, user_id(&id)?).await? }))
}

/// Change a user. Disabling them, or a new password or role, ends their sessions.
#[utoipa::path(
    tag = "users", security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = UserPatch,
    responses(
        (status = 200, body = Data<UserView>), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, description = "`user_exists` or `last_admin`", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")
    )
)]
#[patch("/{id}")]
async fn update(
    caller: TenantCaller<Admin>,
    env: Env,
    id: web::Path<String>,
    body: web::Json<UserPatch>,
) -> Result<web::Json<Data<UserView>>, Error> {
    let user = users::update(&env, &caller.tenant, &caller.caller, user_id(&id)?, body.into_inner()).await?;
    Ok(web::Json(Data { data: user }))
}

/// Delete a user and their sessions.
#[utoipa::path(
    tag = "users", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses(
        (status = 204, description = "Deleted"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, description = "`last_admin`", body = Problem, content_type = "application/problem+json")
    )
)]
#[delete("/{id}")]
async fn remove(caller: TenantCaller<Admin>, env: Env, id: web::Path<String>) -> Result<HttpResponse, Error> {
    users::delete(&env, &caller.tenant, &caller.caller, user_id(&id)?).await?;
    Ok(HttpResponse::NoContent().finish())
}
