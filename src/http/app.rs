//! The actix application: every route, the OpenAPI document, the JSON and query error
//! handlers, and the middleware in the order `middleware/` documents.

use actix_web::{
    App, HttpRequest, HttpResponse,
    body::MessageBody,
    dev::{ServiceFactory, ServiceRequest, ServiceResponse},
    middleware::from_fn,
    web,
};
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use super::{activity, auth, collections, files, health, items, middleware, openapi, tenant, tenants, users};
use crate::{
    error::{Code, Error},
    services::Env,
};

/// Builds the actix application: every route (extensions' routes first), its OpenAPI document,
/// and the middleware of `middleware/`, in the order that module documents.
pub fn app(
    env: Env,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let body_limit = env.config().body_limit;
    let route_hooks = env.hooks().route_hooks().to_vec();
    App::new()
        .into_utoipa_app()
        .openapi(openapi::base())
        .app_data(env)
        .app_data(web::JsonConfig::default().limit(body_limit).error_handler(|e, _| Error::from(e).into()))
        .app_data(web::PayloadConfig::default().limit(body_limit))
        .app_data(web::QueryConfig::default().error_handler(|e, _| Error::from(e).into()))
        .app_data(web::PathConfig::default().error_handler(|e, _| Error::from(e).into()))
        .configure(move |cfg| route_hooks.iter().for_each(|hook| hook(cfg)))
        .configure(health::configure)
        .configure(auth::configure)
        .configure(tenants::configure)
        .configure(tenant::configure)
        .configure(users::configure)
        .configure(collections::configure)
        .configure(items::configure)
        .configure(activity::configure)
        .configure(files::configure)
        .openapi_service(|api| SwaggerUi::new("/docs/{_:.*}").url("/api/openapi.json", api))
        .route(
            "/docs",
            web::get()
                .to(|| async { HttpResponse::PermanentRedirect().insert_header(("location", "/docs/")).finish() }),
        )
        .map(|app| app.default_service(web::to(unmatched)))
        .into_app()
        .wrap(from_fn(middleware::rate_limit))
        .wrap(from_fn(middleware::resolve_tenant))
        .wrap(from_fn(middleware::require_utf8_query))
        .wrap(from_fn(middleware::cors))
        .wrap(from_fn(middleware::request_context))
        .wrap(from_fn(middleware::normalize_path))
}

/// Unknown path: 404. Known path, other method: 405.
async fn unmatched(req: HttpRequest) -> Result<HttpResponse, Error> {
    Err(if req.resource_map().has_resource(req.path()) {
        Error::new(Code::MethodNotAllowed, format!("{} is not allowed on this route.", req.method()))
    } else {
        Error::new(Code::NotFound, "No route matches this path.")
    })
}
