//! One error type for the whole request path, and the table that maps each stable error `code`
//! to its HTTP status and title (API.md "Conventions"). Only this file knows HTTP statuses; the
//! HTTP edge (`http::problem`) turns an [`Error`] into its `application/problem+json` response.

use std::fmt;

use serde::Serialize;

/// Defines [`Code`] and its table in one place: variant => (status, "code", "Title").
macro_rules! error_codes {
    ($($variant:ident => ($status:literal, $code:literal, $title:literal),)*) => {
        /// Every stable error code a client can branch on.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Code { $($variant,)* }

        impl Code {
            /// The snake_case string clients see in `code`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)* }
            }
            /// The HTTP status this code is answered with.
            pub fn status(self) -> u16 {
                match self { $(Code::$variant => $status,)* }
            }
            /// A short, fixed human title for the problem type.
            pub fn title(self) -> &'static str {
                match self { $(Code::$variant => $title,)* }
            }
            /// Every code, for documentation and tests.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];
        }
    };
}

error_codes! {
    InvalidJson => (400, "invalid_json", "Malformed JSON"),
    InvalidQuery => (400, "invalid_query", "Invalid query parameters"),
    TenantConflict => (400, "tenant_conflict", "Conflicting tenant"),
    TenantRequired => (400, "tenant_required", "Tenant required"),
    InvalidHeader => (400, "invalid_header", "Invalid header"),
    Unauthenticated => (401, "unauthenticated", "Authentication required"),
    InvalidToken => (401, "invalid_token", "Invalid token"),
    InvalidCredentials => (401, "invalid_credentials", "Invalid credentials"),
    RefreshTokenReused => (401, "refresh_token_reused", "Refresh token reused"),
    TokenTenantMismatch => (401, "token_tenant_mismatch", "Token belongs to another tenant"),
    Forbidden => (403, "forbidden", "Forbidden"),
    TenantSuspended => (403, "tenant_suspended", "Tenant suspended"),
    SettingLocked => (403, "setting_locked", "Setting locked"),
    NotFound => (404, "not_found", "Not found"),
    TenantNotFound => (404, "tenant_not_found", "Tenant not found"),
    UserNotFound => (404, "user_not_found", "User not found"),
    CollectionNotFound => (404, "collection_not_found", "Collection not found"),
    FieldNotFound => (404, "field_not_found", "Field not found"),
    ItemNotFound => (404, "item_not_found", "Item not found"),
    FileNotFound => (404, "file_not_found", "File not found"),
    MethodNotAllowed => (405, "method_not_allowed", "Method not allowed"),
    TenantExists => (409, "tenant_exists", "Tenant exists"),
    DomainTaken => (409, "domain_taken", "Domain taken"),
    UserExists => (409, "user_exists", "User exists"),
    LastAdmin => (409, "last_admin", "Last admin"),
    CollectionExists => (409, "collection_exists", "Collection exists"),
    UploadIncomplete => (409, "upload_incomplete", "Upload incomplete"),
    FileInUse => (409, "file_in_use", "File in use"),
    StorageQuotaExceeded => (403, "storage_quota_exceeded", "Storage quota exceeded"),
    FileTooLarge => (413, "file_too_large", "File too large"),
    ContentMismatch => (422, "content_mismatch", "Content does not match its type"),
    VersionConflict => (412, "version_conflict", "Version conflict"),
    PayloadTooLarge => (413, "payload_too_large", "Payload too large"),
    RateLimited => (429, "rate_limited", "Too many requests"),
    UnsupportedMediaType => (415, "unsupported_media_type", "Unsupported media type"),
    ValidationFailed => (422, "validation_failed", "Validation failed"),
    HookRejected => (400, "hook_rejected", "Rejected by a hook"),
    Internal => (500, "internal_error", "Internal server error"),
    HookFailed => (500, "hook_failed", "A hook failed"),
    HookTimeout => (504, "hook_timeout", "A hook ran too long"),
    HookDepthExceeded => (508, "hook_depth_exceeded", "Hooks nested too deep"),
    ServiceUnavailable => (503, "service_unavailable", "Service unavailable"),
    StorageNotConfigured => (503, "storage_not_configured", "File storage not configured"),
    StorageUnavailable => (503, "storage_unavailable", "File storage unavailable"),
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One failed field of a validation error (422).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct FieldError {
    /// The input field, e.g. `slug` or `domains[1]`.
    pub field: String,
    /// A stable snake_case reason: `required`, `invalid`, `reserved`, `too_long`, `taken`...
    pub code: &'static str,
    /// A human explanation.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        FieldError { field: field.into(), code, message: message.into() }
    }
}

/// The error of the request path: either a problem the client can act on, or an internal
/// failure whose cause is logged (with the request id) and never returned.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{code}: {detail}")]
    Problem { code: Code, detail: String, errors: Vec<FieldError> },
    /// Extension code (a filter hook) refused the operation, with its own status and code.
    #[error("rejected: {0}")]
    Rejected(Rejection),
    #[error("rate limited for {retry_after} s")]
    RateLimited { retry_after: u64 },
    #[error("database error: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A client-facing problem with a stable code.
    pub fn new(code: Code, detail: impl Into<String>) -> Self {
        Error::Problem { code, detail: detail.into(), errors: Vec::new() }
    }

    /// A 422 listing what is wrong with each field.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] => format!("{}: {}", one.field, one.message),
            _ => format!("{} fields are invalid", errors.len()),
        };
        Error::Problem { code: Code::ValidationFailed, detail, errors }
    }

    /// A failure that is our fault; `context` is logged, never shown.
    pub fn internal(context: impl fmt::Display) -> Self {
        Error::Internal(context.to_string())
    }

    /// The stable code of this error.
    pub fn code(&self) -> Code {
        match self {
            Error::Problem { code, .. } => *code,
            Error::RateLimited { .. } => Code::RateLimited,
            Error::Rejected(_) => Code::HookRejected,
            Error::Database(_) | Error::Internal(_) => Code::Internal,
        }
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            Error::Rejected(rejection) => rejection.status,
            other => other.code().status(),
        }
    }

    /// Whether this is our failure (5xx) rather than the client's.
    pub fn is_internal(&self) -> bool {
        matches!(self, Error::Database(_) | Error::Internal(_))
    }
}

/// A refusal with a status from 400 to 499 and a code chosen by the code that refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub status: u16,
    /// Stable snake_case code clients can branch on.
    pub code: String,
    pub message: String,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

/// The `application/problem+json` body (RFC 9457).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the problem type; stable per `code`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    /// Stable snake_case code; branch on this, never on `detail`.
    pub code: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// The request id, to quote when reporting a problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl Problem {
    /// The body that answers `error`. An internal error says only that the request failed: its
    /// cause is for the log, never for the client.
    pub fn of(error: &Error, request_id: Option<String>) -> Problem {
        let code = error.code();
        let (code_text, detail, errors) = match error {
            Error::Problem { detail, errors, .. } => (code.as_str().to_string(), detail.clone(), errors.clone()),
            Error::RateLimited { retry_after } => {
                (code.as_str().to_string(), format!("Too many requests; retry in {retry_after} s."), Vec::new())
            }
            Error::Rejected(rejection) => (rejection.code.clone(), rejection.message.clone(), Vec::new()),
            Error::Database(_) | Error::Internal(_) => {
                (code.as_str().to_string(), "The server could not complete the request.".to_string(), Vec::new())
            }
        };
        Problem {
            kind: format!("https://tenantbase.dev/problems/{}", code_text.replace('_', "-")),
            title: code.title(),
            status: error.status(),
            detail,
            code: code_text,
            errors,
            request_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case_and_map_to_error_statuses() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            assert!(seen.insert(code.as_str()), "duplicate code {code}");
            assert!(code.as_str().chars().all(|c| c.is_ascii_lowercase() || c == '_'));
            assert!((400..600).contains(&code.status()));
        }
    }

    #[test]
    fn internal_errors_do_not_leak_their_cause() {
        let problem = Problem::of(&Error::internal("password=hunter2 in SQL"), None);
        assert_eq!(problem.status, 500);
        let text = serde_json::to_string(&problem).unwrap();
        assert!(!text.contains("hunter2"));
        assert!(text.contains("internal_error"));
    }
}
