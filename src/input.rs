//! Input rules shared by services: list pagination, emails, display names.

use crate::error::{Code, Error, FieldError};

pub const DEFAULT_LIMIT: u64 = 100;
pub const MAX_LIMIT: u64 = 1000;

/// A validated page of a list (API.md "Conventions").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: u64,
    pub offset: u64,
    /// `meta=total_count` was asked for.
    pub with_total: bool,
}

impl Page {
    /// `limit` defaults to 100 and must be 0..=1000, `offset` must not be negative, and `meta`
    /// may only ask for `total_count`; anything else is 400 `invalid_query`.
    pub fn new(limit: Option<i64>, offset: Option<i64>, meta: Option<&str>) -> Result<Page, Error> {
        let limit = match limit {
            None => DEFAULT_LIMIT,
            Some(l) => u64::try_from(l)
                .ok()
                .filter(|l| *l <= MAX_LIMIT)
                .ok_or_else(|| Error::new(Code::InvalidQuery, format!("limit must be between 0 and {MAX_LIMIT}")))?,
        };
        let offset = match offset {
            None => 0,
            Some(o) => u64::try_from(o).map_err(|_| Error::new(Code::InvalidQuery, "offset must not be negative"))?,
        };
        let with_total = match meta {
            None | Some("") => false,
            Some(m) if m.split(',').all(|part| part == "total_count") => true,
            Some(other) => {
                return Err(Error::new(
                    Code::InvalidQuery,
                    format!("unknown meta `{other}`; only total_count is supported"),
                ));
            }
        };
        Ok(Page { limit, offset, with_total })
    }
}

/// Lower-cases and checks an email address (one `@`, a dotted domain, no spaces, ≤ 254 bytes).
pub fn normalize_email(field: &str, raw: &str) -> Result<String, FieldError> {
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if valid { Ok(email) } else { Err(FieldError::new(field, "invalid", "must be an email address")) }
}

/// Trims a display name and checks it is 1-200 characters.
pub fn check_name(field: &str, raw: &str) -> Result<String, FieldError> {
    let name = raw.trim();
    if name.chars().any(char::is_control) {
        return Err(FieldError::new(field, "invalid", "must not contain control characters"));
    }
    match name.chars().count() {
        0 => Err(FieldError::new(field, "required", "must not be empty")),
        n if n > 200 => Err(FieldError::new(field, "too_long", "must be at most 200 characters")),
        _ => Ok(name.to_string()),
    }
}

/// Largest magnitude a stored JSON number may have. PostgreSQL keeps jsonb numbers as exact
/// decimals; one near `f64::MAX` can come back expanded and round past it, and a row that
/// cannot be read back would make its tenant unreachable.
pub const MAX_JSON_NUMBER: f64 = 1e300;
/// Deepest nesting accepted in stored JSON.
pub const MAX_JSON_DEPTH: usize = 32;

/// Why `value` cannot be stored as given, if it cannot: a NUL in a string or key (PostgreSQL
/// refuses it), a number beyond ±1e300, or nesting deeper than 32 levels.
pub fn json_problem(value: &serde_json::Value) -> Option<&'static str> {
    fn walk(value: &serde_json::Value, depth: usize) -> Option<&'static str> {
        if depth > MAX_JSON_DEPTH {
            return Some("must not nest deeper than 32 levels");
        }
        match value {
            serde_json::Value::String(s) if s.contains('\0') => Some("must not contain NUL characters"),
            serde_json::Value::Number(n) if n.as_f64().is_some_and(|f| f.abs() > MAX_JSON_NUMBER) => {
                Some("must not contain numbers beyond ±1e300")
            }
            serde_json::Value::Array(items) => items.iter().find_map(|v| walk(v, depth + 1)),
            serde_json::Value::Object(map) => map.iter().find_map(|(k, v)| {
                if k.contains('\0') { Some("must not contain NUL characters") } else { walk(v, depth + 1) }
            }),
            _ => None,
        }
    }
    walk(value, 0)
}

/// Collects field errors while validating, then fails with all of them at once.
#[derive(Default)]
pub struct Checks(Vec<FieldError>);

impl Checks {
    /// Records the error of `result`, if any, and passes its value on.
    pub fn check<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        result.map_err(|e| self.0.push(e)).ok()
    }

    pub fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    /// How many errors are recorded so far.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok` if nothing failed, else 422 `validation_failed` listing every field.
    pub fn finish(self) -> Result<(), Error> {
        if self.0.is_empty() { Ok(()) } else { Err(Error::validation(self.0)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_json_refuses_nul_huge_numbers_and_deep_nesting() {
        assert!(json_problem(&serde_json::json!({"a": [1, {"b": "x\0"}]})).is_some());
        assert!(json_problem(&serde_json::json!({"k\0": 1})).is_some());
        assert!(json_problem(&serde_json::json!({"n": 1.7976931348623157e308})).is_some());
        let mut deep = serde_json::json!(1);
        for _ in 0..40 {
            deep = serde_json::json!([deep]);
        }
        assert!(json_problem(&deep).is_some());
        assert_eq!(json_problem(&serde_json::json!({"a": ["ok", 1, -2.5e10, null, {"b": true}]})), None);
        assert!(check_name("name", "Ac\0me").is_err());
    }

    #[test]
    fn pages_are_bounded() {
        assert_eq!(Page::new(None, None, None).unwrap(), Page { limit: 100, offset: 0, with_total: false });
        assert_eq!(Page::new(Some(1000), Some(5), Some("total_count")).unwrap().limit, 1000);
        for (limit, offset, meta) in
            [(Some(1001), None, None), (Some(-1), None, None), (None, Some(-1), None), (None, None, Some("x"))]
        {
            assert_eq!(Page::new(limit, offset, meta).unwrap_err().code(), Code::InvalidQuery);
        }
    }

    #[test]
    fn emails_are_normalized() {
        assert_eq!(normalize_email("e", " Ann@Example.COM ").unwrap(), "ann@example.com");
        for bad in ["", "ann", "@x.io", "a@b", "a b@x.io", "a@@x.io", "a@x.io.", "a\0@x.io"] {
            assert!(normalize_email("e", bad).is_err(), "{bad}");
        }
    }
}
