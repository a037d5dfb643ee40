//! Answers served as rendered bytes with an `ETag` (the query cache's unit): rendering them, and
//! answering `If-None-Match` with `304 Not Modified`.

use actix_web::{
    HttpRequest, HttpResponse,
    http::header::{CONTENT_TYPE, ETAG, IF_NONE_MATCH},
};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{Data, List};
use crate::{cache::Answer, error::Error};

/// `{"data": value}` with the given `ETag`.
pub(crate) fn data_answer(value: impl Serialize, etag: String) -> Result<Answer, Error> {
    let body = serde_json::to_vec(&Data { data: value }).map_err(|e| Error::internal(e.to_string()))?;
    Ok(Answer { body: body.into(), etag })
}

/// `{"data": value}` with a strong `ETag` of its bytes.
pub(crate) fn digest_answer(value: impl Serialize) -> Result<Answer, Error> {
    let mut answer = data_answer(value, String::new())?;
    answer.etag = digest(&answer.body);
    Ok(answer)
}

/// A list page with a strong `ETag` of its bytes.
pub(crate) fn list_answer(items: Vec<Value>, total: Option<u64>) -> Result<Answer, Error> {
    let body = serde_json::to_vec(&List::new(items, total)).map_err(|e| Error::internal(e.to_string()))?;
    let etag = digest(&body);
    Ok(Answer { body: body.into(), etag })
}

fn digest(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    format!("\"{}\"", digest[..16].iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// Whether `If-None-Match` names `etag` (weak comparison, as RFC 9110 asks for it) or is `*`.
fn not_modified(req: &HttpRequest, etag: &str) -> bool {
    let Some(header) = req.headers().get(IF_NONE_MATCH).and_then(|v| v.to_str().ok()) else { return false };
    let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_string();
    header.split(',').any(|tag| tag.trim() == "*" || opaque(tag) == opaque(etag))
}

/// The answer as `200`, or `304 Not Modified` when the client holds it already.
pub(crate) fn respond(req: &HttpRequest, answer: &Answer) -> HttpResponse {
    if not_modified(req, &answer.etag) {
        return HttpResponse::NotModified().insert_header((ETAG, answer.etag.as_str())).finish();
    }
    ok(answer)
}

/// The answer as `200`.
pub(crate) fn ok(answer: &Answer) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((ETAG, answer.etag.as_str()))
        .insert_header((CONTENT_TYPE, "application/json"))
        .body(answer.body.clone())
}
