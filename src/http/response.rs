//! Success envelopes (API.md "Conventions"): `{"data": ...}` and lists with optional `meta`.

use actix_web::HttpResponse;
use serde::{Deserialize, Serialize};

use crate::{error::Error, input::Page};

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

/// The paging of every list route: `limit` (0-1000, default 100), `offset`, and
/// `meta=total_count` for `meta.total_count` (API.md "Conventions").
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 0-1000, default 100.
    limit: Option<i64>,
    offset: Option<i64>,
    /// `total_count` adds `meta.total_count`.
    meta: Option<String>,
}

impl PageQuery {
    /// The validated page, or 400 `invalid_query`.
    pub fn page(&self) -> Result<Page, Error> {
        Page::new(self.limit, self.offset, self.meta.as_deref())
    }
}
