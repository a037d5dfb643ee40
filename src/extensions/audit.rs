//! The audit log (API.md "Activity"): `after` hooks record, inside the transaction of each
//! change, who created, changed or deleted which item, every change to the tenant's users and
//! settings, and every login, in the tenant's activity log (`services::activity`). An entry
//! commits with its change or not at all. On for every tenant; only a platform admin may turn it
//! off (`{"extensions": {"audit": false}}`).

use serde_json::{Value, json};

use crate::{
    hooks::{HookContext, HookResult, Hooks, Register},
    services::activity,
};

pub const EXTENSION: &str = "audit";

/// Collection names the log gives what is not an item (they cannot clash with a tenant's own
/// collections, which may not start with `tb_`).
const USERS: &str = "tb_users";
const SETTINGS: &str = "tb_settings";

pub fn register(hooks: &mut Hooks) {
    let mut audit = hooks.extension(EXTENSION, true);
    for (event, action) in [("items.create", "create"), ("items.update", "update"), ("items.delete", "delete")] {
        audit.after(event, move |ctx, payload| {
            let entry = json!({
                "action": action,
                "collection": ctx.collection(),
                "item": payload["key"].as_str(),
                "delta": payload["delta"],
            });
            Box::pin(record(ctx, entry))
        });
    }
    for (event, action) in [("users.create", "create"), ("users.update", "update"), ("users.delete", "delete")] {
        audit.after(event, move |ctx, user| {
            let delta = if action == "delete" { Value::Null } else { user_delta(user) };
            let entry = json!({"action": action, "collection": USERS, "item": user["id"], "delta": delta});
            Box::pin(record(ctx, entry))
        });
    }
    audit.after("tenants.update", |ctx, tenant| {
        let entry = json!({"action": "update", "collection": SETTINGS, "item": tenant["id"], "delta": {
            "name": tenant["name"], "plan": tenant["plan"], "status": tenant["status"],
            "domains": tenant["domains"], "settings": tenant["settings"],
        }});
        Box::pin(record(ctx, entry))
    });
    audit.after("auth.login", |ctx, _| Box::pin(record(ctx, json!({"action": "login"}))));
}

/// What a user change shows: the user as the API shows them (never a password or its hash).
fn user_delta(user: &Value) -> Value {
    json!({"email": user["email"], "name": user["name"], "role": user["role"], "status": user["status"]})
}

async fn record(ctx: &HookContext<'_>, entry: Value) -> HookResult<()> {
    Ok(activity::record(ctx, entry).await?)
}
