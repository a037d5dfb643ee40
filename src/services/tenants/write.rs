//! Changing tenants: create (with domains and a first admin, all or nothing), change name,
//! plan, domains, settings or status; every change reaches every instance's caches.

use std::sync::Arc;

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use uuid::Uuid;

use super::{
    input::{NewTenant, TenantPatch},
    read::get,
    spec::{TenantSpec, check_domains, check_plan, check_settings},
    store::{add_domains, insert_tenant, live_row},
};
use crate::{
    auth::{Caller, Role, password},
    db::{Change, TenantTxn},
    entities::tenant,
    error::{Code, Error, FieldError, Result},
    hooks::{self, Unit},
    input::{Checks, check_name, normalize_email},
    services::{Env, users},
    tenancy::{Tenant, TenantStatus, directory::with_domains},
};

/// Creates a tenant, its domains and optionally its first admin, all or nothing.
#[tracing::instrument(skip_all, fields(slug = %input.slug))]
pub async fn create(env: &Env, input: NewTenant) -> Result<Tenant> {
    let mut checks = Checks::default();
    let spec = TenantSpec::parse(
        &mut checks,
        &input.slug,
        &input.name,
        input.plan.as_deref(),
        input.domains.as_deref().unwrap_or_default(),
        input.settings,
        &env.config().base_domain,
    );
    let admin = input.admin.map(|a| {
        use secrecy::ExposeSecret;
        let email = checks.check(normalize_email("admin.email", &a.email));
        let password_ok = checks.check(password::check_policy("admin.password", a.password.expose_secret()));
        (email, password_ok, a.password)
    });
    checks.finish()?;
    let spec = spec.ok_or_else(|| Error::internal("validated spec missing"))?;
    let admin = match admin {
        Some((Some(email), Some(()), secret)) => Some((email, password::hash(secret).await?)),
        _ => None,
    };

    let id = Uuid::now_v7();
    let txn = env.db().tenant(id).begin_lifecycle().await?;
    insert_tenant(&txn, id, &spec).await?;
    if let Some((email, hash)) = admin {
        users::insert_user(&txn, &email, hash, Role::Admin, None).await?;
    }
    txn.announce(Change::Tenant(id)).await?;
    txn.commit().await?;
    let tenant = get(env, &id.to_string()).await?;
    announce(env, "tenants.create", &tenant);
    Ok(tenant)
}

/// What a change to a tenant's row is, for its hooks.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum TenantEvent {
    Update,
    Delete,
}

/// Runs `change` on a tenant's row inside one unit of work of that tenant, whose `after` hooks
/// (the audit log) write with it, then announces the change so every instance drops the tenant
/// from its cache; the action hooks get the changed tenant (the tenant as it was, for a delete).
pub(super) async fn change<F>(
    env: &Env,
    caller: &Caller,
    id_or_slug: &str,
    kind: TenantEvent,
    change: F,
) -> Result<Tenant>
where
    F: AsyncFnOnce(&TenantTxn, tenant::ActiveModel) -> Result<tenant::ActiveModel>,
{
    let before = Arc::new(get(env, id_or_slug).await?);
    let event = match kind {
        TenantEvent::Update => "tenants.update",
        TenantEvent::Delete => "tenants.delete",
    };
    let unit = Unit::begin_changing_tenant(env.runtime(), &before, Some(caller)).await?;
    let ctx = unit.ctx();
    let outcome = async {
        let txn = ctx.txn();
        let row: tenant::ActiveModel = live_row(txn).await?.into();
        let mut row = change(txn, row).await?;
        row.updated_at = Set(Utc::now());
        let row = row.update(txn.platform_conn()).await?;
        txn.announce(Change::Tenant(before.id)).await?;
        let changed = with_domains(txn.platform_conn(), row).await?;
        let shown = if kind == TenantEvent::Delete { &*before } else { &changed };
        ctx.written(event, None, Some(before.id), || serde_json::to_value(shown).unwrap_or_default()).await?;
        Ok(changed)
    }
    .await;
    unit.finish(outcome, event, None).await
}

/// Fires the (platform) action hooks of a tenant event; the hooks' context is that tenant.
fn announce(env: &Env, event: &'static str, tenant: &Tenant) {
    let payload = || serde_json::to_value(tenant).unwrap_or_default();
    hooks::announce(env.runtime(), Some(&Arc::new(tenant.clone())), None, event, payload);
}

/// Changes name, plan and/or domains.
#[tracing::instrument(skip(env, caller, patch))]
pub async fn update(env: &Env, caller: &Caller, id_or_slug: &str, patch: TenantPatch) -> Result<Tenant> {
    let mut checks = Checks::default();
    let name = patch.name.as_deref().and_then(|n| checks.check(check_name("name", n)));
    let plan = patch.plan.as_deref().and_then(|p| checks.check(check_plan("plan", p)));
    let domains = patch.domains.as_deref().map(|d| check_domains(&mut checks, d, &env.config().base_domain));
    let rate_limits = patch.rate_limits;
    if let Some(limits) = rate_limits
        && [limits.tenant_per_minute, limits.caller_per_minute].contains(&Some(0))
    {
        checks.push(FieldError::new("rate_limits", "invalid", "rates must be at least 1 per minute"));
    }
    checks.finish()?;
    change(env, caller, id_or_slug, TenantEvent::Update, async move |txn, mut row| {
        if let Some(name) = name {
            row.name = Set(name);
        }
        if let Some(plan) = plan {
            row.plan = Set(plan.as_str().into());
        }
        if let Some(domains) = domains {
            add_domains(txn, &domains).await?;
        }
        if let Some(limits) = rate_limits {
            row.rate_limits = Set(serde_json::to_value(limits).map_err(|e| Error::internal(e.to_string()))?);
        }
        Ok(row)
    })
    .await
}

/// Settings only a platform admin may change: turning the audit log off would let a tenant
/// admin act unrecorded.
const PLATFORM_ONLY_SETTINGS: [(&str, &str); 1] = [("extensions", "audit")];

/// Replaces the settings object. A tenant admin may not change what [`PLATFORM_ONLY_SETTINGS`]
/// names (403 `setting_locked`); a platform admin may.
#[tracing::instrument(skip(env, caller, settings))]
pub async fn replace_settings(
    env: &Env,
    caller: &Caller,
    id_or_slug: &str,
    settings: serde_json::Value,
) -> Result<Tenant> {
    let settings = check_settings("settings", settings).map_err(|e| Error::validation(vec![e]))?;
    let platform = caller.is_platform_admin();
    change(env, caller, id_or_slug, TenantEvent::Update, async move |_, mut row| {
        if !platform {
            let current = row.settings.try_as_ref().cloned().unwrap_or_default();
            for (section, key) in PLATFORM_ONLY_SETTINGS {
                if current[section][key] != settings[section][key] {
                    return Err(Error::new(
                        Code::SettingLocked,
                        format!("Only a platform admin may change settings.{section}.{key}."),
                    ));
                }
            }
        }
        row.settings = Set(settings);
        Ok(row)
    })
    .await
}

/// Suspends or resumes; effective on the next request on every instance.
#[tracing::instrument(skip(env, caller))]
pub async fn set_status(env: &Env, caller: &Caller, id_or_slug: &str, status: TenantStatus) -> Result<Tenant> {
    change(env, caller, id_or_slug, TenantEvent::Update, async move |_, mut row| {
        row.status = Set(status.as_str().into());
        Ok(row)
    })
    .await
}
