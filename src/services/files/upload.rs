//! Uploading: `POST /api/files` checks the declared file against the plan, reserves its bytes in
//! the tenant's quota, records it `pending` and signs the URLs the client uploads to (one PUT, or
//! the parts of a multipart upload above the threshold); `complete` checks what the store holds
//! against what was declared, lets the `files.upload` filters refuse it, and marks it `ready`.

use std::sync::Arc;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{
    content::{self, SNIFF_BYTES},
    record::{self, FileRecord, PENDING, READY},
};
use crate::{
    auth::Caller,
    error::{Code, Error, FieldError, Result},
    hooks::{Ctx, Unit},
    input::Checks,
    schema::format_datetime,
    services::Env,
    storage::{Presigned, Storage, StorageError},
    tenancy::Tenant,
};

/// S3's most parts in one multipart upload.
const MAX_PARTS: u64 = 10_000;
const MIB: u64 = 1024 * 1024;

/// `POST /api/files`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFile {
    /// Any Unicode, at most 255 characters; shown on download, never part of the object's key.
    pub filename: String,
    /// A media type such as `image/png`; the plan says which are allowed.
    pub content_type: String,
    /// Bytes; the upload must be exactly this long.
    pub size: u64,
}

/// `POST /api/files/{id}/complete` of a multipart upload: every part's number and `ETag`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Completion {
    #[serde(default)]
    pub parts: Option<Vec<UploadedPart>>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadedPart {
    pub number: u32,
    pub etag: String,
}

/// How the client uploads the bytes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(tag = "method")]
pub enum Upload {
    /// One `PUT` to `url` with exactly `headers`.
    #[serde(rename = "PUT")]
    Put {
        url: String,
        #[schema(value_type = Object)]
        headers: Map<String, Value>,
        expires_at: String,
    },
    /// A `PUT` of each part to its URL, then `complete` with the parts' `ETag`s.
    #[serde(rename = "multipart")]
    Multipart { part_size: u64, parts: Vec<PartUrl>, expires_at: String },
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PartUrl {
    pub number: u32,
    pub url: String,
    #[schema(value_type = Object)]
    pub headers: Map<String, Value>,
}

/// A new pending file and how to upload it.
#[derive(Debug)]
pub struct Presign {
    pub file: Value,
    pub upload: Upload,
}

/// Checks the declared file, reserves its bytes, records it and signs its upload.
#[tracing::instrument(skip(env, tenant, caller, input), fields(tenant = %tenant.id))]
pub async fn presign(env: &Env, tenant: &Arc<Tenant>, caller: &Caller, input: NewFile) -> Result<Presign> {
    let files = env.runtime().files();
    let storage = files.storage()?;
    let rules = files.rules();
    let mut checks = Checks::default();
    checks.check(content::check_filename(&input.filename));
    let content_type = checks.check(content::normalize_type(&input.content_type));
    checks.finish()?;
    let Some(content_type) = content_type else { return Err(Error::internal("a checked type is missing")) };
    let plan = rules.plan(tenant.plan.as_str());
    if input.size > plan.max_size {
        return Err(Error::new(
            Code::FileTooLarge,
            format!("Files on the {} plan are at most {} bytes.", tenant.plan, plan.max_size),
        ));
    }
    if !plan.allows(&content_type) {
        return Err(Error::new(
            Code::UnsupportedMediaType,
            format!("Files of type {content_type} are not allowed on the {} plan.", tenant.plan),
        ));
    }

    let expires_at = Utc::now() + rules.upload_expiry;
    let multipart = (input.size > rules.multipart_threshold).then(|| part_size(input.size, rules.part_size));
    let unit = Unit::begin(env.runtime(), tenant, Some(caller), 0, true).await?;
    let ctx = unit.ctx();
    let id = Uuid::now_v7();
    let key = storage.key(tenant.id, id);
    let outcome = async {
        if !record::reserve(&ctx, input.size, plan.quota).await? {
            return Err(Error::new(
                Code::StorageQuotaExceeded,
                format!("This upload would take the tenant past its storage quota of {} bytes.", plan.quota),
            ));
        }
        // The store is asked only for a multipart upload's id; a single PUT is signed locally.
        let upload_id = match multipart {
            Some(_) => Some(storage.create_multipart(&key, &content_type).await?),
            None => None,
        };
        let record = json!({
            "filename": input.filename, "content_type": content_type, "size": input.size, "status": PENDING,
            "expires_at": format_datetime(expires_at), "upload_id": upload_id, "part_size": multipart,
        });
        let collection = record::collection(&ctx).await?;
        crate::services::items::insert_system(&ctx, &collection, id, &record).await?;
        ctx.txn.items_changed(record::COLLECTION).await?;
        let file = record::find_in(&ctx, &collection, id, false).await?;
        ctx.written("files.create", None, Some(id), || file.view()).await?;
        Ok(file)
    }
    .await;
    let file = unit.finish(outcome, "files.create", None).await?;
    let expires_in = rules.upload_expiry;
    let expires_at = format_datetime(expires_at);
    let upload = match (&file.upload_id, multipart) {
        (Some(upload_id), Some(part_size)) => {
            let mut parts = Vec::new();
            for (number, size) in part_sizes(input.size, part_size) {
                let Presigned { url, headers } =
                    storage.presign_part(&key, upload_id, number, size, expires_in).await?;
                parts.push(PartUrl { number, url, headers });
            }
            Upload::Multipart { part_size, parts, expires_at }
        }
        _ => {
            let Presigned { url, headers } =
                storage.presign_put(&key, &file.content_type, file.size, expires_in).await?;
            Upload::Put { url, headers, expires_at }
        }
    };
    env.metrics().count_presigned(tenant.id, true, file.size);
    Ok(Presign { file: file.view(), upload })
}

/// The size of every part but the last: the configured one, or larger when the file would
/// otherwise need more than S3's 10,000 parts (rounded up to whole MiB).
fn part_size(size: u64, configured: u64) -> u64 {
    let least = size.div_ceil(MAX_PARTS).div_ceil(MIB) * MIB;
    configured.max(least)
}

/// `(number, bytes)` of each part.
fn part_sizes(size: u64, part_size: u64) -> impl Iterator<Item = (u32, u64)> {
    let count = size.div_ceil(part_size).max(1);
    (0..count).map(move |i| {
        let start = i * part_size;
        ((i + 1) as u32, part_size.min(size - start))
    })
}

/// Marks an uploaded file `ready` once the store holds exactly what was declared; repeated, it
/// answers the ready file again.
#[tracing::instrument(skip(env, tenant, caller, completion), fields(tenant = %tenant.id))]
pub async fn complete(
    env: &Env,
    tenant: &Arc<Tenant>,
    caller: &Caller,
    id: Uuid,
    completion: Completion,
) -> Result<Value> {
    let storage = env.runtime().files().storage()?;
    // What was declared, read without holding anything while the store is asked.
    let unit = Unit::begin(env.runtime(), tenant, Some(caller), 0, false).await?;
    let found = record::find(&unit.ctx(), id, false).await;
    let file = unit.finish(found, "files.read", None).await?;
    if file.is_ready() {
        return Ok(file.view());
    }
    let key = storage.key(tenant.id, id);
    if let Some(upload_id) = &file.upload_id {
        join_parts(storage, &key, upload_id, &file, completion).await?;
    }
    check_stored(storage, &key, &file).await?;
    let first_bytes = storage.first_bytes(&key, SNIFF_BYTES).await?;
    let sniffed = content::matches_declared(&file.content_type, &first_bytes);

    let unit = Unit::begin(env.runtime(), tenant, Some(caller), 0, true).await?;
    let ctx = unit.ctx();
    let outcome = accept(&ctx, storage, &key, id, sniffed).await;
    match unit.finish(outcome, "files.upload", None).await? {
        Accepted::Ready(file) => Ok(file),
        Accepted::Refused(error) => Err(error),
    }
}

enum Accepted {
    Ready(Value),
    /// Refused and removed (committed); the refusal is the answer.
    Refused(Error),
}

/// Inside the writing unit: a file completed meanwhile is answered as it is; one that fails the
/// content check or a `files.upload` filter is removed with its object; any other is marked
/// `ready`, and its actions fire on commit.
async fn accept(ctx: &Ctx<'_>, storage: &Storage, key: &str, id: Uuid, sniffed: bool) -> Result<Accepted> {
    let file = record::find(ctx, id, true).await?;
    if file.is_ready() {
        return Ok(Accepted::Ready(file.view()));
    }
    let verdict = if sniffed {
        ctx.filter("files.upload", None, Some(id), file.view()).await.map(drop)
    } else {
        Err(Error::new(
            Code::ContentMismatch,
            format!("The uploaded bytes are not {}; the file was removed.", file.content_type),
        ))
    };
    if let Err(refusal) = verdict {
        if refusal.is_internal() || refusal.code() == Code::HookTimeout || refusal.code() == Code::HookFailed {
            return Err(refusal);
        }
        storage.delete(key).await?;
        record::remove(ctx, &file).await?;
        tracing::info!(file = %id, code = %refusal.code(), "an upload was refused and removed");
        return Ok(Accepted::Refused(refusal));
    }
    let changes = json!({"status": READY, "expires_at": null, "upload_id": null});
    let Value::Object(changes) = changes else { return Err(Error::internal("changes are an object")) };
    let file = record::update(ctx, id, changes).await?;
    let view = file.view();
    ctx.written("files.upload", None, Some(id), || view.clone()).await?;
    Ok(Accepted::Ready(view))
}

/// Joins the parts of a multipart upload. A missing upload is one already joined (by an earlier
/// `complete` whose answer was lost); the object check that follows decides.
async fn join_parts(
    storage: &Storage,
    key: &str,
    upload_id: &str,
    file: &FileRecord,
    completion: Completion,
) -> Result<()> {
    let expected = file.part_size.map_or(1, |part| file.size.div_ceil(part.max(1)).max(1));
    let Some(parts) = completion.parts else {
        return Err(Error::validation(vec![FieldError::new(
            "parts",
            "required",
            format!("a multipart upload completes with all {expected} parts: [{{\"number\", \"etag\"}}]"),
        )]));
    };
    let numbered = parts.iter().enumerate().all(|(i, part)| part.number as usize == i + 1);
    if parts.len() as u64 != expected || !numbered || parts.iter().any(|p| p.etag.is_empty() || p.etag.len() > 256) {
        return Err(Error::validation(vec![FieldError::new(
            "parts",
            "invalid",
            format!("must list parts 1 to {expected} in order, each with the ETag its upload answered"),
        )]));
    }
    let parts: Vec<(u32, String)> = parts.into_iter().map(|p| (p.number, p.etag)).collect();
    match storage.complete_multipart(key, upload_id, &parts).await {
        Ok(()) | Err(StorageError::NotFound) => Ok(()),
        Err(StorageError::Refused { code, message, .. }) => Err(Error::new(
            Code::UploadIncomplete,
            format!("The store refused to join the parts ({code}: {message}); upload every part, then complete again."),
        )),
        Err(other) => Err(other.into()),
    }
}

/// The object must exist with the declared size and type.
async fn check_stored(storage: &Storage, key: &str, file: &FileRecord) -> Result<()> {
    let Some(stored) = storage.head(key).await? else {
        return Err(Error::new(Code::UploadIncomplete, "Nothing has been uploaded for this file yet."));
    };
    if stored.size != file.size {
        return Err(Error::new(
            Code::UploadIncomplete,
            format!("The stored object has {} bytes, not the {} declared.", stored.size, file.size),
        ));
    }
    let stored_type = stored.content_type.as_deref().unwrap_or_default().to_ascii_lowercase();
    if stored_type.split(';').next().unwrap_or_default().trim() != file.content_type {
        return Err(Error::new(
            Code::UploadIncomplete,
            format!("The stored object is of type {stored_type}, not the {} declared.", file.content_type),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_cover_the_file_and_stay_within_s3_limits() {
        let parts: Vec<_> = part_sizes(11 * MIB, 5 * MIB).collect();
        assert_eq!(parts, [(1, 5 * MIB), (2, 5 * MIB), (3, MIB)]);
        assert_eq!(part_sizes(10 * MIB, 5 * MIB).count(), 2);
        let huge = 5 * 1024 * 1024 * MIB; // 5 TiB
        let size = part_size(huge, 16 * MIB);
        assert!(huge.div_ceil(size) <= MAX_PARTS && size.is_multiple_of(MIB));
        assert_eq!(part_size(100 * MIB, 16 * MIB), 16 * MIB);
    }
}
