//! The file layer's hooks, registered through the extension API like any other: items may refer
//! only to ready files of their tenant, expired pending uploads are swept on a schedule, and the
//! bucket's CORS rules follow the tenants' custom domains. Always on: none of it is optional for
//! a tenant.

use serde_json::Value;

use crate::{
    hooks::{Cron, HookContext, HookResult, Hooks, Register, ScheduleScope},
    services::files,
};

/// The sweep of expired pending uploads; `TB_FILES_CLEANUP_SCHEDULE` retimes it.
pub const CLEANUP: &str = "files.cleanup";
/// Every five minutes unless configured otherwise.
const CLEANUP_CRON: &str = "0 */5 * * * *";

pub fn register(hooks: &mut Hooks) {
    for event in ["items.create", "items.update"] {
        hooks.filter(event, |ctx, item| Box::pin(check_file_fields(ctx, item)));
    }
    if let Ok(cron) = CLEANUP_CRON.parse::<Cron>() {
        hooks.schedule(CLEANUP, cron, ScheduleScope::PerTenant, |ctx| async move {
            if let Some(tenant) = ctx.tenant_arc() {
                files::sweep_expired(ctx.runtime(), tenant).await?;
            }
            Ok(())
        });
    }
    for event in ["tenants.create", "tenants.update", "tenants.delete"] {
        hooks.action(event, |ctx, _| async move { Ok(files::sync_bucket_cors(ctx.runtime()).await?) });
    }
}

async fn check_file_fields<'a>(ctx: &'a HookContext<'a>, item: Value) -> HookResult<Value> {
    if let Some(collection) = ctx.collection() {
        files::check_file_fields(ctx.unit(), collection, &item).await?;
    }
    Ok(item)
}
