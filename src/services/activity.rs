//! The audit log's storage (API.md "Activity"): entries of the tenant's system collection
//! `tb_activity`, written without hooks inside the transaction of the change they record, and
//! read with the same `filter`, `sort`, paging and `meta` as items. The `audit` extension decides what is recorded; no route changes or deletes
//! an entry.

use std::sync::Arc;

use serde_json::Value;

use super::{
    Env,
    collections::{self, FieldInput},
    item_query::{Columns, ListParams},
    items,
};
use crate::{
    auth::Caller,
    error::Result,
    hooks::{HookContext, Runtime, Unit},
    schema::{Collection, format_datetime},
    tenancy::Tenant,
};

const COLLECTION: &str = "tb_activity";
/// The members of an entry, in the order the API shows them.
const MEMBERS: &str = "id,action,collection,item,user,timestamp,delta";

fn field(name: &str, field_type: &str, indexed: bool) -> FieldInput {
    FieldInput {
        name: name.into(),
        field_type: field_type.into(),
        indexed: Some(indexed),
        max_length: (field_type == "string").then_some(255),
        ..FieldInput::default()
    }
}

fn definition() -> Vec<FieldInput> {
    vec![
        field("action", "string", true),
        field("collection", "string", true),
        field("item", "string", true),
        field("user", "uuid", true),
        field("timestamp", "datetime", true),
        field("delta", "json", false),
    ]
}

/// The tenant's activity collection, created on first use.
async fn collection(runtime: &Runtime, tenant: &Tenant) -> Result<Arc<Collection>> {
    collections::ensure_system(runtime.db(), runtime.schemas(), tenant.id, COLLECTION, &definition()).await
}

/// Stores one entry (`{"action","collection"?,"item"?,"delta"?}`) of the change `ctx` is
/// making, by its caller, now, in the same transaction: the entry commits with the change or
/// not at all.
pub async fn record(ctx: &HookContext<'_>, mut entry: Value) -> Result<()> {
    let unit = ctx.unit();
    entry["user"] = ctx.caller().map(|c| c.id.to_string()).into();
    entry["timestamp"] = format_datetime(chrono::Utc::now()).into();
    let collection = collections::ensure_system_in(unit, COLLECTION, &definition()).await?;
    items::insert_system(unit, &collection, uuid::Uuid::now_v7(), &entry).await
}

/// `GET /api/activity`: the tenant's entries, newest first unless `sort` says otherwise. `filter`
/// and `sort` take the entry's members; every entry has exactly those members.
pub async fn list(
    env: &Env,
    tenant: &Arc<Tenant>,
    caller: &Caller,
    params: ListParams,
) -> Result<(Vec<Value>, Option<u64>)> {
    let collection = collection(env.runtime(), tenant).await?;
    let params = ListParams {
        sort: params.sort.or_else(|| Some("-timestamp".into())),
        fields: Some(MEMBERS.into()),
        search: None,
        ..params
    };
    let unit = Unit::begin(env.runtime(), tenant, Some(caller), 0, false).await?;
    let outcome = items::query_in(&unit.ctx(), &collection, &params, Columns::FieldsOnly).await;
    unit.finish(outcome, "activity.query", Some(COLLECTION)).await
}
