//! Where a tenant's files are recorded: items of its system collection `tb_files`, so that files
//! take the same `filter`, `sort`, paging and `meta` as items; and the tenant's storage usage,
//! reserved before an upload is signed and released when a file goes.

use std::sync::Arc;

use sea_orm::{
    ActiveValue::Set,
    sea_query::{Expr, ExprTrait, OnConflict},
};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::{
    entities::tenant_usage,
    error::{Code, Error, Result},
    hooks::Ctx,
    schema::Collection,
    services::{
        collections::{self, FieldInput},
        items,
    },
};

pub(super) const COLLECTION: &str = "tb_files";
/// The members of a file, in the order the API shows them; the rest of a record is ours.
pub(super) const MEMBERS: [&str; 7] =
    ["id", "filename", "content_type", "size", "status", "date_created", "user_created"];
/// Longest filename, in characters.
pub(super) const MAX_FILENAME: usize = 255;

pub(super) const PENDING: &str = "pending";
pub(super) const READY: &str = "ready";

fn field(name: &str, field_type: &str, indexed: bool, max_length: Option<i64>) -> FieldInput {
    FieldInput {
        name: name.into(),
        field_type: field_type.into(),
        indexed: Some(indexed),
        max_length,
        ..FieldInput::default()
    }
}

fn definition() -> Vec<FieldInput> {
    vec![
        field("filename", "string", true, Some(MAX_FILENAME as i64)),
        field("content_type", "string", true, Some(255)),
        field("size", "integer", true, None),
        field("status", "string", true, Some(16)),
        // Pending uploads: when their URLs stop working and the sweep may remove them.
        field("expires_at", "datetime", true, None),
        // Multipart uploads: the store's id of the upload, and the size of every part but the last.
        field("upload_id", "string", false, Some(1024)),
        field("part_size", "integer", false, None),
    ]
}

/// The tenant's file collection, created with the first upload.
pub(super) async fn collection(ctx: &Ctx<'_>) -> Result<Arc<Collection>> {
    collections::ensure_system_in(ctx, COLLECTION, &definition()).await
}

/// The tenant's file collection if it has one yet (reads never create it).
pub(super) async fn existing(ctx: &Ctx<'_>) -> Result<Option<Arc<Collection>>> {
    Ok(ctx.runtime.schemas().get_in(ctx.txn).await?.get(COLLECTION).cloned())
}

/// A stored file record.
#[derive(Debug, Clone)]
pub(super) struct FileRecord {
    pub(super) id: Uuid,
    pub(super) content_type: String,
    pub(super) filename: String,
    pub(super) size: u64,
    pub(super) status: String,
    pub(super) upload_id: Option<String>,
    pub(super) part_size: Option<u64>,
    /// The item as stored, every field.
    pub(super) item: Value,
}

impl FileRecord {
    pub(super) fn from_item(item: Value) -> Result<FileRecord> {
        let text = |name: &str| item[name].as_str().map(str::to_string);
        let id = item["id"].as_str().and_then(|id| Uuid::parse_str(id).ok());
        let id = id.ok_or_else(|| Error::internal("a file record without an id"))?;
        Ok(FileRecord {
            id,
            content_type: text("content_type").unwrap_or_default(),
            filename: text("filename").unwrap_or_default(),
            size: item["size"].as_u64().unwrap_or_default(),
            status: text("status").unwrap_or_default(),
            upload_id: text("upload_id"),
            part_size: item["part_size"].as_u64(),
            item,
        })
    }

    pub(super) fn is_ready(&self) -> bool {
        self.status == READY
    }

    /// The file as the API shows it.
    pub(super) fn view(&self) -> Value {
        view(&self.item)
    }
}

/// Only the members of [`MEMBERS`].
pub(super) fn view(item: &Value) -> Value {
    let members: Map<String, Value> = MEMBERS.iter().map(|name| (name.to_string(), item[*name].clone())).collect();
    Value::Object(members)
}

pub(super) fn not_found() -> Error {
    Error::new(Code::FileNotFound, "No such file.")
}

/// The file `id` of the tenant (locked for update when `lock`), or 404 `file_not_found`.
pub(super) async fn find(ctx: &Ctx<'_>, id: Uuid, lock: bool) -> Result<FileRecord> {
    let Some(collection) = existing(ctx).await? else { return Err(not_found()) };
    find_in(ctx, &collection, id, lock).await
}

/// [`find`] in a collection already at hand (one this transaction may just have created).
pub(super) async fn find_in(ctx: &Ctx<'_>, collection: &Collection, id: Uuid, lock: bool) -> Result<FileRecord> {
    let item = items::find_system(ctx, collection, id, lock).await?;
    FileRecord::from_item(item.ok_or_else(not_found)?)
}

/// Sets members of a record; 404 when it is gone.
pub(super) async fn update(ctx: &Ctx<'_>, id: Uuid, changes: Map<String, Value>) -> Result<FileRecord> {
    let collection = collection(ctx).await?;
    let item = items::update_system(ctx, &collection, id, &changes).await?;
    ctx.txn.items_changed(COLLECTION).await?;
    FileRecord::from_item(item.ok_or_else(not_found)?)
}

/// Deletes a record and gives its bytes back to the tenant's quota.
pub(super) async fn remove(ctx: &Ctx<'_>, file: &FileRecord) -> Result<()> {
    let collection = collection(ctx).await?;
    if items::delete_system(ctx, &collection, file.id).await? {
        ctx.txn.items_changed(COLLECTION).await?;
        release(ctx, file.size).await?;
    }
    Ok(())
}

/// Reserves `size` bytes and one file of the tenant's `quota`: one conditional update, so
/// uploads signed in parallel cannot together pass the quota. False when they would.
pub(super) async fn reserve(ctx: &Ctx<'_>, size: u64, quota: u64) -> Result<bool> {
    if add_within(ctx, size, quota).await? {
        return Ok(true);
    }
    // No usage row yet (the tenant's first upload), or really over quota: make sure the row
    // exists and try once more. The common case stays one statement.
    let row = tenant_usage::ActiveModel { tenant_id: Set(ctx.tenant.id), storage_bytes: Set(0), files: Set(0) };
    ctx.txn.insert_if_absent(row, OnConflict::column(tenant_usage::Column::TenantId).do_nothing().to_owned()).await?;
    add_within(ctx, size, quota).await
}

/// Adds `size` bytes and one file unless that passes `quota`; false when no row was changed.
async fn add_within(ctx: &Ctx<'_>, size: u64, quota: u64) -> Result<bool> {
    let (size, quota) = (to_i64(size), to_i64(quota));
    let reserved = ctx
        .txn
        .update_many::<tenant_usage::Entity>()
        .map(|q| {
            q.col_expr(tenant_usage::Column::StorageBytes, Expr::col(tenant_usage::Column::StorageBytes).add(size))
                .col_expr(tenant_usage::Column::Files, Expr::col(tenant_usage::Column::Files).add(1))
        })
        .filter(Expr::col(tenant_usage::Column::StorageBytes).add(size).lte(quota))
        .exec(ctx.txn)
        .await?;
    Ok(reserved == 1)
}

/// Gives `size` bytes and one file back.
async fn release(ctx: &Ctx<'_>, size: u64) -> Result<()> {
    let size = to_i64(size);
    ctx.txn
        .update_many::<tenant_usage::Entity>()
        .map(|q| {
            q.col_expr(tenant_usage::Column::StorageBytes, Expr::col(tenant_usage::Column::StorageBytes).sub(size))
                .col_expr(tenant_usage::Column::Files, Expr::col(tenant_usage::Column::Files).sub(1))
        })
        .exec(ctx.txn)
        .await?;
    Ok(())
}

/// Bytes and files the tenant stores (pending uploads included).
pub(crate) async fn usage(txn: &crate::db::TenantTxn) -> Result<(u64, u64)> {
    let row = txn.find::<tenant_usage::Entity>().one(txn).await?;
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    Ok(row.map_or((0, 0), |r| (count(r.storage_bytes), count(r.files))))
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
