//! The one path form every later step sees. RFC 3986 makes `%61` and `a` the same path, and
//! actix's router matches the decoded form while `ServiceRequest::path` gives the raw one; a
//! middleware testing the raw path (is this `/api/…`?) could then let `/%61pi/tenant` reach a
//! handler with no tenant resolved. This outermost middleware decodes every percent-encoded
//! unreserved character (`A-Z a-z 0-9 - . _ ~`) once, before anything reads the path; escapes
//! that change meaning (`%2F`, `%25`, …) stay as they are.

use actix_web::{
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::Uri,
    middleware::Next,
};

pub async fn normalize_path(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if let Some(path) = decode_unreserved(req.path()) {
        let path_and_query = match req.query_string() {
            "" => path,
            query => format!("{path}?{query}"),
        };
        let mut parts = req.uri().clone().into_parts();
        // The decoded form only loses escapes, so it is a valid path whenever the raw one was.
        if let Ok(path_and_query) = path_and_query.parse() {
            parts.path_and_query = Some(path_and_query);
            if let Ok(uri) = Uri::from_parts(parts) {
                req.match_info_mut().get_mut().update(&uri);
                req.head_mut().uri = uri;
            }
        }
    }
    next.call(req).await
}

/// `raw` with its percent-encoded unreserved characters decoded; `None` when it has none.
fn decode_unreserved(raw: &str) -> Option<String> {
    if !raw.contains('%') {
        return None;
    }
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let (mut i, mut changed) = (0, false);
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        let escaped = match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex))
        {
            (b'%', Some(high), Some(low)) => Some((high * 16 + low) as u8),
            _ => None,
        };
        match escaped {
            Some(byte) if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') => {
                out.push(byte as char);
                changed = true;
                i += 3;
            }
            _ => {
                out.push(bytes[i] as char);
                i += 1;
            }
        }
    }
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreserved_escapes_decode_and_the_others_stay() {
        assert_eq!(decode_unreserved("/%61pi/tenant").as_deref(), Some("/api/tenant"));
        assert_eq!(decode_unreserved("/%61%50%69/x%2Dy%7e").as_deref(), Some("/aPi/x-y~"));
        assert_eq!(decode_unreserved("/api/a%2Fb%25c%20d"), None);
        assert_eq!(decode_unreserved("/api/%2F%61").as_deref(), Some("/api/%2Fa"));
        assert_eq!(decode_unreserved("/api/tenant"), None);
        assert_eq!(decode_unreserved("/bad%zz%6"), None);
    }
}
