//! Reading files: lists with the items' query language, one file, and short-lived download URLs.

use std::sync::Arc;

use chrono::Utc;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::record::{self, COLLECTION, MEMBERS};
use crate::{
    auth::Caller,
    cache::Answer,
    error::{Code, Error, Result},
    hooks::Unit,
    schema::format_datetime,
    services::{
        Env,
        item_query::{Columns, ListParams},
        items,
    },
    storage::content_disposition,
    tenancy::Tenant,
};

/// A presigned download.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Download {
    pub url: String,
    pub expires_at: String,
}

/// `GET /api/files`: newest first unless `sort` says otherwise; `filter`, `sort` and `fields`
/// take the file's members.
pub async fn list(
    env: &Env,
    tenant: &Arc<Tenant>,
    caller: &Caller,
    params: ListParams,
) -> Result<(Vec<Value>, Option<u64>)> {
    let fields = match params.fields.as_deref() {
        None | Some("*") => MEMBERS.join(","),
        Some(asked) => {
            let unknown = asked.split(',').map(str::trim).find(|f| !MEMBERS.contains(f));
            if let Some(unknown) = unknown {
                return Err(Error::new(Code::InvalidQuery, format!("Files have no member `{unknown}`.")));
            }
            asked.to_string()
        }
    };
    let params =
        ListParams { sort: params.sort.or_else(|| Some("-date_created".into())), fields: Some(fields), ..params };
    let unit = Unit::begin(env.runtime(), tenant, Some(caller), 0, false).await?;
    let ctx = unit.ctx();
    let outcome = async {
        match record::existing(&ctx).await? {
            Some(collection) => items::query_in(&ctx, &collection, &params, Columns::WithSystem).await,
            // No upload yet: nothing to list, but the query must still be valid.
            None => Ok((Vec::new(), params.meta.as_deref().map(|_| 0))),
        }
    }
    .await;
    unit.finish(outcome, "files.query", None).await
}

/// [`list`] as a rendered answer, from the query cache while the tenant's files are unchanged
/// (and no `files.query` / `files.read` filter hook applies).
pub async fn list_answer(
    env: &Env,
    tenant: &Arc<Tenant>,
    caller: &Caller,
    params: ListParams,
    render: impl FnOnce(Vec<Value>, Option<u64>) -> Result<Answer>,
) -> Result<Arc<Answer>> {
    let request = params.cache_key();
    items::cached(env, tenant, caller, (COLLECTION, &["files.query", "files.read"]), request, async || {
        let (found, total) = list(env, tenant, caller, params).await?;
        render(found, total)
    })
    .await
}

/// [`get`] as a rendered answer, from the query cache while the tenant's files are unchanged.
pub async fn get_answer(
    env: &Env,
    tenant: &Arc<Tenant>,
    caller: &Caller,
    id: Uuid,
    render: impl FnOnce(Value) -> Result<Answer>,
) -> Result<Arc<Answer>> {
    let request = format!("one:{id}");
    items::cached(env, tenant, caller, (COLLECTION, &["files.read"]), request, async || {
        render(get(env, tenant, caller, id).await?)
    })
    .await
}

/// `GET /api/files/{id}`.
pub async fn get(env: &Env, tenant: &Arc<Tenant>, caller: &Caller, id: Uuid) -> Result<Value> {
    let unit = Unit::begin(env.runtime(), tenant, Some(caller), 0, false).await?;
    let found = record::find(&unit.ctx(), id, false).await.map(|file| file.view());
    unit.finish(found, "files.read", None).await
}

/// A short-lived GET of a ready file, `attachment` unless its type is safe to show inline.
pub async fn download(env: &Env, tenant: &Arc<Tenant>, caller: &Caller, id: Uuid) -> Result<Download> {
    let files = env.runtime().files();
    let storage = files.storage()?;
    let unit = Unit::begin(env.runtime(), tenant, Some(caller), 0, false).await?;
    let found = record::find(&unit.ctx(), id, false).await;
    let file = unit.finish(found, "files.read", None).await?;
    if !file.is_ready() {
        return Err(Error::new(Code::UploadIncomplete, "The file has not been completed yet."));
    }
    let expires_in = files.rules().download_expiry;
    let disposition = content_disposition(&file.filename, &file.content_type);
    let signed = storage.presign_get(&storage.key(tenant.id, id), &disposition, &file.content_type, expires_in).await?;
    env.metrics().count_presigned(tenant.id, false, file.size);
    Ok(Download { url: signed.url, expires_at: format_datetime(Utc::now() + expires_in) })
}
