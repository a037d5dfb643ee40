use tenantbase::{
    db::{PlatformTxn, TenantTxn},
    hooks::HookContext,
};

fn main() {}

// Opening another tenant's scope inside a transaction is the crate's own (`tenants apply`).
async fn rescope(parent: &PlatformTxn, hook: &HookContext<'_>) {
    let _scoped = TenantTxn::nested(parent, hook.tenant_id()).await;
}
