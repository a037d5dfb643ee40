//! How a hook refuses: [`HookError`] is answered as a 4xx problem with the hook's own code, and
//! the error of an operation the hook ran (passed on with `?`) goes through unchanged.

use std::fmt;

use crate::error::{Error, Rejection};

/// A filter hook's rejection, answered as a 4xx problem with its code; or the error of an
/// operation the hook ran (`?` on it), which passes through unchanged.
#[derive(Debug)]
pub struct HookError {
    /// 400-499 for a rejection.
    pub status: u16,
    /// Stable snake_case code clients can branch on.
    pub code: String,
    pub message: String,
    /// The operation's own error, when the hook passed one on.
    passed_on: Option<Box<Error>>,
}

/// What hooks return.
pub type HookResult<T> = Result<T, HookError>;

impl HookError {
    /// Rejects with a status from 400 to 499 (anything else becomes 400).
    pub fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> Self {
        let status = if (400..500).contains(&status) { status } else { 400 };
        HookError { status, code: code.into(), message: message.into(), passed_on: None }
    }

    /// 422: the payload breaks a business rule.
    pub fn invalid(code: impl Into<String>, message: impl Into<String>) -> Self {
        HookError::new(422, code, message)
    }

    /// 403: the caller may not do this.
    pub fn forbidden(code: impl Into<String>, message: impl Into<String>) -> Self {
        HookError::new(403, code, message)
    }

    /// The error to answer with: the operation's own, or this rejection.
    pub(crate) fn into_error(self) -> Error {
        match self.passed_on {
            Some(error) => *error,
            None => Error::Rejected(Rejection { status: self.status, code: self.code, message: self.message }),
        }
    }
}

impl fmt::Display for HookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.passed_on {
            Some(error) => write!(f, "{error}"),
            None => write!(f, "{} ({}): {}", self.code, self.status, self.message),
        }
    }
}

impl From<Error> for HookError {
    /// An operation a hook ran failed: its error (status, code, field errors) passes through.
    fn from(error: Error) -> Self {
        let code = error.code();
        HookError {
            status: error.status(),
            code: code.as_str().to_string(),
            message: code.title().to_string(),
            passed_on: Some(Box::new(error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_errors_keep_to_client_statuses() {
        assert_eq!(HookError::new(500, "x", "y").status, 400);
        assert_eq!(HookError::invalid("x", "y").status, 422);
        assert_eq!(HookError::forbidden("x", "y").status, 403);
    }
}
