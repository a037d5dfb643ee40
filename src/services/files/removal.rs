//! Removing files: one by a client (refused while an item refers to it, unless forced), the
//! sweep of pending uploads past their expiry, and every object of a purged tenant. The object
//! goes first and the record after, inside one transaction: a failure leaves the record (and its
//! quota) in place, and repeating the removal finishes it.

use std::sync::Arc;

use chrono::Utc;
use serde_json::{Value, json};
use uuid::Uuid;

use super::record::{self, FileRecord, PENDING};
use crate::{
    auth::Caller,
    error::{Code, Error, Result},
    hooks::{Ctx, Runtime, Unit},
    schema::{FieldType, format_datetime},
    services::{
        Env,
        item_query::{Columns, ListParams},
        items,
    },
    storage::Storage,
    tenancy::Tenant,
};

/// Most expired uploads one sweep of one tenant removes (the next sweep takes the rest).
const SWEEP_BATCH: i64 = 100;

/// Deletes a file and its object. While items refer to it: 409 `file_in_use`, or with `force`
/// their references are cleared first (through the items' own update, hooks and all).
#[tracing::instrument(skip(env, tenant, caller), fields(tenant = %tenant.id))]
pub async fn delete(env: &Env, tenant: &Arc<Tenant>, caller: &Caller, id: Uuid, force: bool) -> Result<()> {
    let storage = env.runtime().files().storage()?;
    let unit = Unit::begin(env.runtime(), tenant, Some(caller), 0, true).await?;
    let ctx = unit.ctx();
    let outcome = async {
        let file = record::find(&ctx, id, true).await?;
        let referrers = references(&ctx, id).await?;
        if !referrers.is_empty() {
            if !force {
                let (collection, item, _) = &referrers[0];
                return Err(Error::new(
                    Code::FileInUse,
                    format!(
                        "Item {item} of {collection} (and {} more) refers to this file; remove the references or delete with ?force=true.",
                        referrers.len() - 1
                    ),
                ));
            }
            for (collection, item, field) in &referrers {
                items::update_in(&ctx, collection, *item, json!({ field.as_str(): null }), None).await?;
            }
        }
        remove_stored(&ctx, storage, &file).await?;
        ctx.written("files.delete", None, Some(id), || file.view()).await
    }
    .await;
    unit.finish(outcome, "files.delete", None).await
}

/// The object (and any unfinished multipart upload) first, then the record and its quota.
async fn remove_stored(ctx: &Ctx<'_>, storage: &Storage, file: &FileRecord) -> Result<()> {
    let key = storage.key(ctx.tenant.id, file.id);
    if let Some(upload_id) = &file.upload_id {
        storage.abort_multipart(&key, upload_id).await?;
    }
    storage.delete(&key).await?;
    record::remove(ctx, file).await
}

/// `(collection, item, field)` of every reference to file `id` in the tenant's collections
/// (at most 100 per field: enough to refuse, and a forced delete repeats until none is left).
async fn references(ctx: &Ctx<'_>, id: Uuid) -> Result<Vec<(String, Uuid, String)>> {
    let schema = ctx.runtime.schemas().get_in(ctx.txn).await?;
    let mut found = Vec::new();
    for collection in schema.values().filter(|c| !c.is_system()) {
        for field in collection.fields.iter().filter(|f| f.field.field_type == FieldType::File) {
            let name = field.name();
            let params = ListParams {
                filter: Some(json!({ name: {"_eq": id.to_string()} }).to_string()),
                fields: Some("id".into()),
                limit: Some(100),
                ..ListParams::default()
            };
            let (items, _) = items::query_in(ctx, collection, &params, Columns::WithSystem).await?;
            for item in items {
                if let Some(item) = item["id"].as_str().and_then(|i| Uuid::parse_str(i).ok()) {
                    found.push((collection.name.clone(), item, name.to_string()));
                }
            }
        }
    }
    Ok(found)
}

/// Removes the tenant's pending uploads whose URLs have expired, with their objects and
/// multipart uploads, and gives their quota back; returns how many. Run by the `files.cleanup`
/// schedule for every tenant.
pub async fn sweep_expired(runtime: &Runtime, tenant: &Arc<Tenant>) -> Result<u64> {
    let Some(storage) = runtime.files().configured() else { return Ok(0) };
    let unit = Unit::begin(runtime, tenant, None, 0, true).await?;
    let ctx = unit.ctx();
    let outcome = async {
        let Some(collection) = record::existing(&ctx).await? else { return Ok(0) };
        let filter = json!({"status": {"_eq": PENDING}, "expires_at": {"_lt": format_datetime(Utc::now())}});
        let params = ListParams {
            filter: Some(filter.to_string()),
            fields: Some("*".into()),
            limit: Some(SWEEP_BATCH),
            sort: Some("expires_at".into()),
            ..ListParams::default()
        };
        let (expired, _) = items::query_in(&ctx, &collection, &params, Columns::WithSystem).await?;
        let mut removed = 0;
        for item in expired {
            let file = record::find(&ctx, FileRecord::from_item(item)?.id, true).await?;
            if file.status == PENDING {
                remove_stored(&ctx, storage, &file).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }
    .await;
    let removed = unit.finish(outcome, "files.cleanup", None).await?;
    if removed > 0 {
        tracing::info!(tenant = %tenant.id, removed, "removed expired pending uploads");
    }
    Ok(removed)
}

/// Deletes every object and unfinished upload under a purged tenant's prefix, in batches; safe
/// to repeat (a purge cut short starts over from what is left).
pub(crate) async fn purge_objects(runtime: &Runtime, tenant_id: Uuid) -> Result<u64> {
    let Some(storage) = runtime.files().configured() else { return Ok(0) };
    Ok(storage.delete_prefix(&storage.tenant_prefix(tenant_id)).await?)
}

/// A `files.upload`-style check for items: every `file` field being written names a ready file
/// of this tenant. Values that are not UUIDs are left to the field's own validation.
pub(crate) async fn check_file_fields(ctx: &Ctx<'_>, collection: &str, values: &Value) -> Result<()> {
    let Some(values) = values.as_object() else { return Ok(()) };
    let schema = ctx.runtime.schemas().get_in(ctx.txn).await?;
    let Some(collection) = schema.get(collection) else { return Ok(()) };
    let mut problems = Vec::new();
    for field in collection.fields.iter().filter(|f| f.field.field_type == FieldType::File) {
        let Some(id) = values.get(field.name()).and_then(Value::as_str).and_then(|v| Uuid::parse_str(v).ok()) else {
            continue;
        };
        let ready = match record::find(ctx, id, false).await {
            Ok(file) => file.is_ready(),
            Err(error) if error.code() == Code::FileNotFound => false,
            Err(error) => return Err(error),
        };
        if !ready {
            problems.push(crate::error::FieldError::new(
                field.name(),
                "file_not_ready",
                "must be the id of a ready file of this tenant",
            ));
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(Error::validation(problems)) }
}
