//! Refuses, on every route, a query string whose percent-decoded bytes are not UTF-8: the query
//! parser would otherwise replace them with U+FFFD and answer a question that was never asked.

use actix_web::{
    body::{EitherBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    middleware::Next,
};

use crate::error::{Code, Error};

pub async fn require_utf8_query(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_must_decode_to_utf8() {
        assert!(is_utf8_query("filter=%7B%22a%22%3A1%7D&q=caf%C3%A9&x=%zz"));
        assert!(!is_utf8_query("filter=%FF%FE"));
        assert!(!is_utf8_query("q=%C3"));
    }
}
