//! The audit log (API.md "Activity"): action hooks record who created, changed or deleted which
//! item, and every login, as entries of the tenant's system collection `tb_activity`. Entries
//! are stored through the same item machinery, so `GET /api/activity` takes the same `filter`,
//! `sort`, paging and `meta` as items; no route changes or deletes them. On for every tenant
//! unless its settings say `{"extensions": {"audit": false}}`.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::{
    auth::Caller,
    error::Result,
    hooks::{ActionContext, Env, HookResult, Hooks, Register, Unit},
    services::{
        collections,
        collections::FieldInput,
        fields::format_datetime,
        item_query::{Columns, ListParams},
        items,
    },
    tenancy::Tenant,
};

pub const EXTENSION: &str = "audit";
const COLLECTION: &str = "tb_activity";
/// The members of an entry, in the order the API shows them.
const MEMBERS: &str = "id,action,collection,item,user,timestamp,delta";

pub fn register(hooks: &mut Hooks) {
    let mut audit = hooks.extension(EXTENSION, true);
    for (event, action) in [("items.create", "create"), ("items.update", "update"), ("items.delete", "delete")] {
        audit.action(event, move |ctx, payload| async move {
            let entry = json!({
                "action": action,
                "collection": ctx.collection,
                "item": payload["key"].as_str(),
                "delta": payload["delta"],
            });
            record(ctx, entry).await
        });
    }
    audit.action("auth.login", |ctx, _| async move { record(ctx, json!({"action": "login"})).await });
}

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

/// Stores one entry for the action's tenant, by its caller, now.
async fn record(ctx: ActionContext, mut entry: Value) -> HookResult<()> {
    let (Some(tenant), env) = (ctx.tenant_arc(), ctx.env()) else { return Ok(()) };
    entry["user"] = ctx.caller().map(|c| c.id.to_string()).into();
    let collection = collections::ensure_system(env, tenant.id, COLLECTION, &definition()).await?;
    entry["timestamp"] = format_datetime(chrono::Utc::now()).into();
    let unit = Unit::begin(env, &tenant, ctx.caller(), 0, true).await?;
    let outcome = items::insert_system(&unit.ctx(), &collection, &entry).await;
    unit.finish(outcome, "activity.create", Some(COLLECTION)).await?;
    Ok(())
}

/// `GET /api/activity`: the tenant's entries, newest first unless `sort` says otherwise. `filter`
/// and `sort` take the entry's members; every entry has exactly those members.
pub async fn list(
    env: &Env,
    tenant: &Arc<Tenant>,
    caller: &Caller,
    params: ListParams,
) -> Result<(Vec<Value>, Option<u64>)> {
    let collection = collections::ensure_system(env, tenant.id, COLLECTION, &definition()).await?;
    let params = ListParams {
        sort: params.sort.or_else(|| Some("-timestamp".into())),
        fields: Some(MEMBERS.into()),
        search: None,
        ..params
    };
    let unit = Unit::begin(env, tenant, Some(caller), 0, false).await?;
    let outcome = items::query_in(&unit.ctx(), &collection, &params, Columns::FieldsOnly).await;
    unit.finish(outcome, "activity.query", Some(COLLECTION)).await
}
