//! Success envelopes (API.md "Conventions"): `{"data": ...}` and lists with optional `meta`.

use actix_web::HttpResponse;
use serde::Serialize;

/// `{"data": ...}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Data<T> {
    pub data: T,
}

/// `{"data": [...], "meta": {"total_count": N}}`; `meta` only when asked for.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct List<T> {
    pub data: Vec<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<ListMeta>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ListMeta {
    pub total_count: u64,
}

impl<T> List<T> {
    pub fn new(data: Vec<T>, total_count: Option<u64>) -> Self {
        List { data, meta: total_count.map(|total_count| ListMeta { total_count }) }
    }
}

/// `201 Created` with a `{"data": ...}` body.
pub(crate) fn created<T: serde::Serialize>(value: T) -> HttpResponse {
    HttpResponse::Created().json(Data { data: value })
}
