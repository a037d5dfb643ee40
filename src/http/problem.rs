//! Errors as HTTP responses: every [`Error`] answers `application/problem+json` with its
//! status, and the framework's own failures (bad JSON, bad query, bad path) become errors with
//! stable codes first.

use actix_web::{
    HttpResponse, ResponseError,
    error::{JsonPayloadError, PathError, PayloadError, QueryPayloadError},
    http::{StatusCode, header::RETRY_AFTER},
};

use crate::{
    error::{Code, Error, FieldError, Problem},
    telemetry,
};

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        if self.is_internal() {
            tracing::error!(error = %self, "request failed");
        }
        let body = Problem::of(self, telemetry::current_request_id());
        let mut response = HttpResponse::build(self.status_code());
        if let Error::RateLimited { retry_after } = self {
            response.insert_header((RETRY_AFTER, retry_after.to_string()));
        }
        response.content_type("application/problem+json").json(body)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_messages_name_their_field() {
        assert_eq!(field_error("missing field `slug` at line 1 column 2").field, "slug");
        assert_eq!(field_error("unknown field `tenant_id`, expected one of `a`").code, "unknown");
        assert_eq!(field_error("invalid type: integer `1`, expected a string at line 1 column 9").field, "body");
    }

    #[test]
    fn internal_errors_answer_500_without_their_cause() {
        let response = Error::internal("password=hunter2 in SQL").error_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = actix_web::body::to_bytes(response.into_body());
        let bytes = futures_util::FutureExt::now_or_never(body).unwrap().unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("hunter2"));
        assert!(text.contains("internal_error"));
    }
}
