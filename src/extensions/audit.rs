//! The audit log (API.md "Activity"): action hooks record who created, changed or deleted which
//! item, and every login, in the tenant's activity log (`services::activity`). On for every
//! tenant unless its settings say `{"extensions": {"audit": false}}`.

use serde_json::json;

use crate::{
    hooks::{ActionContext, HookResult, Hooks, Register},
    services::activity,
};

pub const EXTENSION: &str = "audit";

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

async fn record(ctx: ActionContext, entry: serde_json::Value) -> HookResult<()> {
    Ok(activity::record(&ctx, entry).await?)
}
