//! The HTTP edge: mounts each resource's routes, sets middleware order, and turns framework
//! errors (bad JSON, bad query, unknown route) into problem+json.

mod activity;
mod auth;
mod collections;
mod health;
mod items;
mod openapi;
mod response;
mod tenant;
mod tenants;
mod users;

use actix_web::{
    App, HttpRequest, HttpResponse,
    body::{EitherBody, MessageBody},
    dev::{ServiceFactory, ServiceRequest, ServiceResponse},
    error::{JsonPayloadError, PathError, PayloadError, QueryPayloadError},
    middleware::{Next, from_fn},
    web,
};
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

pub use response::{Data, List, ListMeta};

use crate::{
    error::{Code, Error, FieldError},
    state::AppState,
    telemetry,
    tenancy::middleware::resolve_tenant,
};

/// Builds the actix application: every route, its OpenAPI document, and the middleware.
/// Order of middleware, outermost first: request context (id, span, log), the UTF-8 check of the
/// query string, then tenant and token resolution (for `/api/` paths only).
pub fn app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let body_limit = state.config.body_limit;
    let route_hooks = state.hooks.route_hooks().to_vec();
    App::new()
        .into_utoipa_app()
        .openapi(openapi::base())
        .app_data(state)
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
        .openapi_service(|api| SwaggerUi::new("/docs/{_:.*}").url("/api/openapi.json", api))
        .route(
            "/docs",
            web::get()
                .to(|| async { HttpResponse::PermanentRedirect().insert_header(("location", "/docs/")).finish() }),
        )
        .map(|app| app.default_service(web::to(unmatched)))
        .into_app()
        .wrap(from_fn(resolve_tenant))
        .wrap(from_fn(require_utf8_query))
        .wrap(from_fn(telemetry::request_context))
}

/// Unknown path: 404. Known path, other method: 405.
async fn unmatched(req: HttpRequest) -> Result<HttpResponse, Error> {
    Err(if req.resource_map().has_resource(req.path()) {
        Error::new(Code::MethodNotAllowed, format!("{} is not allowed on this route.", req.method()))
    } else {
        Error::new(Code::NotFound, "No route matches this path.")
    })
}

impl From<JsonPayloadError> for Error {
    fn from(error: JsonPayloadError) -> Self {
        match error {
            JsonPayloadError::ContentType => {
                Error::new(Code::UnsupportedMediaType, "The body must be JSON with Content-Type: application/json.")
            }
            JsonPayloadError::Overflow { limit } | JsonPayloadError::OverflowKnownLength { limit, .. } => {
                Error::new(Code::PayloadTooLarge, format!("The body is larger than {limit} bytes."))
            }
            JsonPayloadError::Payload(PayloadError::Overflow) => {
                Error::new(Code::PayloadTooLarge, "The body is larger than allowed.")
            }
            JsonPayloadError::Deserialize(e) if e.is_data() => Error::validation(vec![field_error(&e.to_string())]),
            JsonPayloadError::Deserialize(e) => {
                Error::new(Code::InvalidJson, format!("The body is not valid JSON: {e}"))
            }
            other => Error::new(Code::InvalidJson, format!("The body could not be read: {other}")),
        }
    }
}

/// Names the field of a serde data error: "missing field `x`" and "unknown field `x`" say which.
fn field_error(message: &str) -> FieldError {
    let named = |prefix: &str| message.strip_prefix(prefix).and_then(|rest| rest.split('`').next()).map(str::to_string);
    if let Some(field) = named("missing field `") {
        FieldError::new(field, "required", "is required")
    } else if let Some(field) = named("unknown field `") {
        FieldError::new(field, "unknown", "is not a field of this request")
    } else {
        let message = message.split(" at line ").next().unwrap_or(message);
        FieldError::new("body", "invalid", message)
    }
}

impl From<QueryPayloadError> for Error {
    fn from(error: QueryPayloadError) -> Self {
        Error::new(Code::InvalidQuery, format!("Invalid query string: {error}"))
    }
}

impl From<PathError> for Error {
    fn from(_: PathError) -> Self {
        Error::new(Code::NotFound, "No resource at this path.")
    }
}

/// Refuses, on every route, a query string whose percent-decoded bytes are not UTF-8: the query
/// parser would otherwise replace them with U+FFFD and answer a question that was never asked.
async fn require_utf8_query(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if !is_utf8_query(req.query_string()) {
        let error = Error::new(Code::InvalidQuery, "The query string is not valid UTF-8.");
        return Ok(req.error_response(error).map_into_right_body());
    }
    next.call(req).await.map(ServiceResponse::map_into_left_body)
}

/// Whether the percent-decoded bytes of `raw` are UTF-8.
fn is_utf8_query(raw: &str) -> bool {
    let raw = raw.as_bytes();
    let mut decoded = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (raw[i], raw.get(i + 1).copied().and_then(hex), raw.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(high), Some(low)) => {
                decoded.push((high * 16 + low) as u8);
                i += 3;
            }
            (byte, _, _) => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    std::str::from_utf8(&decoded).is_ok()
}

/// `201 Created` with a `{"data": ...}` body.
pub(crate) fn created<T: serde::Serialize>(value: T) -> HttpResponse {
    HttpResponse::Created().json(Data { data: value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_must_decode_to_utf8() {
        assert!(is_utf8_query("filter=%7B%22a%22%3A1%7D&q=caf%C3%A9&x=%zz"));
        assert!(!is_utf8_query("filter=%FF%FE"));
        assert!(!is_utf8_query("q=%C3"));
    }

    #[test]
    fn serde_messages_name_their_field() {
        assert_eq!(field_error("missing field `slug` at line 1 column 2").field, "slug");
        assert_eq!(field_error("unknown field `tenant_id`, expected one of `a`").code, "unknown");
        assert_eq!(field_error("invalid type: integer `1`, expected a string at line 1 column 9").field, "body");
    }
}
