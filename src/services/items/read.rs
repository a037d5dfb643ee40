//! Reading items: lists through the query language and single items, with `items.query` and
//! `items.read` filter hooks.

use std::sync::Arc;

use sea_orm::{ColumnTrait, QuerySelect};
use serde_json::Value;
use uuid::Uuid;

use super::stored::Stored;
use crate::{
    auth::Caller,
    db::TenantTxn,
    entities::item,
    error::{Code, Error, Result},
    hooks::{Ctx, Unit},
    schema::Collection,
    services::{
        Env, collections,
        item_query::{self, Columns, ListParams},
    },
    tenancy::Tenant,
};

pub(super) fn not_found() -> Error {
    Error::new(Code::ItemNotFound, "No such item in this collection.")
}

/// An item id from the path; anything that is not a UUID names no item.
pub(super) fn item_id(raw: &str) -> Result<Uuid> {
    Uuid::parse_str(raw).map_err(|_| not_found())
}

/// Lists a collection's items (docs/data-api.md "Listing").
#[tracing::instrument(skip(env, tenant, caller, params), fields(tenant = %tenant.id))]
pub async fn list(
    env: &Env,
    tenant: &Arc<Tenant>,
    caller: &Caller,
    name: &str,
    params: &ListParams,
) -> Result<(Vec<Value>, Option<u64>)> {
    let unit = Unit::begin(env.runtime(), tenant, Some(caller), 0, false).await?;
    let outcome = list_in(&unit.ctx(), name, params).await;
    unit.finish(outcome, "items.query", Some(name)).await
}

/// [`list`] inside a unit of work. `items.query` filters may rewrite the query (as
/// `{"filter", "sort", "limit", "offset", "fields", "search", "meta"}`), `items.read` filters the
/// items found.
pub(crate) async fn list_in(ctx: &Ctx<'_>, name: &str, params: &ListParams) -> Result<(Vec<Value>, Option<u64>)> {
    let collection = collections::get_in(ctx, name).await?;
    let rewritten;
    let params = if ctx.has_filters("items.query", Some(name)) {
        let payload = ctx.filter("items.query", Some(name), None, params.to_payload()).await?;
        rewritten = ListParams::from_payload(&payload)?;
        &rewritten
    } else {
        params
    };
    let (items, total) = query_in(ctx, &collection, params, Columns::WithSystem).await?;
    let items = match ctx.filter("items.read", Some(name), None, Value::Array(items)).await? {
        Value::Array(items) => items,
        _ => return Err(Error::new(Code::HookFailed, "An items.read hook must return the array of items.")),
    };
    Ok((items, total))
}

/// The items of `collection` that `params` select, without hooks (system collections use it).
pub(crate) async fn query_in(
    ctx: &Ctx<'_>,
    collection: &Collection,
    params: &ListParams,
    columns: Columns,
) -> Result<(Vec<Value>, Option<u64>)> {
    let request = item_query::parse_with(collection, params, columns)?;
    let rows = ctx.txn.list_items(&request.query).await?;
    let total = if request.with_total { Some(ctx.txn.count_items(&request.query).await?) } else { None };
    let items = rows
        .into_iter()
        .map(|row| Ok(Stored::try_from(row)?.render(collection, request.fields.as_deref())))
        .collect::<Result<Vec<_>>>()?;
    Ok((items, total))
}

/// One item.
#[tracing::instrument(skip(env, tenant, caller), fields(tenant = %tenant.id))]
pub async fn get(env: &Env, tenant: &Arc<Tenant>, caller: &Caller, name: &str, id: &str) -> Result<Value> {
    let unit = Unit::begin(env.runtime(), tenant, Some(caller), 0, false).await?;
    let outcome = match item_id(id) {
        Ok(id) => get_in(&unit.ctx(), name, id).await,
        Err(error) => Err(error),
    };
    unit.finish(outcome, "items.read", Some(name)).await
}

/// [`get`] inside a unit of work; `items.read` filters see (and may change) the item.
pub(crate) async fn get_in(ctx: &Ctx<'_>, name: &str, id: Uuid) -> Result<Value> {
    let collection = collections::get_in(ctx, name).await?;
    let row = find(ctx.txn, &collection, id, false).await?;
    let item = Stored::from(row).render(&collection, None);
    ctx.filter("items.read", Some(name), Some(id), item).await
}

/// One item of a system collection as stored (every field), locked for update when `lock`;
/// `None` when there is none.
pub(crate) async fn find_system(ctx: &Ctx<'_>, collection: &Collection, id: Uuid, lock: bool) -> Result<Option<Value>> {
    match find(ctx.txn, collection, id, lock).await {
        Ok(row) => Ok(Some(Stored::from(row).render(collection, None))),
        Err(error) if error.code() == Code::ItemNotFound => Ok(None),
        Err(error) => Err(error),
    }
}

/// The item `id` of the collection (locked for update when `lock`), or 404.
pub(super) async fn find(txn: &TenantTxn, collection: &Collection, id: Uuid, lock: bool) -> Result<item::Model> {
    txn.find::<item::Entity>()
        .filter(item::Column::CollectionId.eq(collection.id))
        .filter(item::Column::Id.eq(id))
        .map(|q| if lock { q.lock_exclusive() } else { q })
        .one(txn)
        .await?
        .ok_or_else(not_found)
}
