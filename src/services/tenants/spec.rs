//! A validated tenant definition, shared by the API and `tenants apply`, and applying one from
//! a manifest inside a platform transaction.
#![allow(clippy::disallowed_methods, reason = "the tenants table is a platform table")]

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use secrecy::SecretString;
use uuid::Uuid;

use super::store::{add_domains, insert_tenant};
use crate::{
    auth::{Role, password},
    db::{Change, PlatformDb, TenantTxn},
    entities::{tenant, user},
    error::{Code, Error, FieldError, Result},
    input::{Checks, check_name, json_problem},
    services::users,
    tenancy::{Plan, TenantStatus, directory::with_domains, validate},
};

/// At most this many custom domains per tenant.
pub const MAX_DOMAINS: usize = 20;

/// A validated tenant definition, shared by the API and `tenants apply`.
#[derive(Debug, Clone)]
pub struct TenantSpec {
    pub slug: String,
    pub name: String,
    pub plan: Plan,
    pub domains: Vec<String>,
    pub settings: serde_json::Value,
}

/// What `apply_spec` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Created,
    Updated,
    Unchanged,
}

pub(super) fn check_plan(field: &str, plan: &str) -> Result<Plan, FieldError> {
    Plan::parse(plan).ok_or_else(|| {
        let names: Vec<_> = Plan::ALL.iter().map(|p| p.as_str()).collect();
        FieldError::new(field, "invalid", format!("must be one of {}", names.join(", ")))
    })
}

pub(super) fn check_settings(field: &str, settings: serde_json::Value) -> Result<serde_json::Value, FieldError> {
    if !settings.is_object() {
        return Err(FieldError::new(field, "invalid", "must be a JSON object"));
    }
    if let Some(problem) = json_problem(&settings) {
        return Err(FieldError::new(field, "invalid", problem));
    }
    Ok(settings)
}

pub(super) fn check_domains(checks: &mut Checks, raw: &[String], base_domain: &str) -> Vec<String> {
    if raw.len() > MAX_DOMAINS {
        checks.push(FieldError::new("domains", "too_many", format!("at most {MAX_DOMAINS} domains")));
        return Vec::new();
    }
    let mut domains = Vec::new();
    for (i, domain) in raw.iter().enumerate() {
        if let Some(d) = checks.check(validate::normalize_domain(&format!("domains[{i}]"), domain, base_domain))
            && !domains.contains(&d)
        {
            domains.push(d);
        }
    }
    domains
}

impl TenantSpec {
    /// Validates every field at once, so a client sees all its mistakes in one 422.
    pub fn parse(
        checks: &mut Checks,
        slug: &str,
        name: &str,
        plan: Option<&str>,
        domains: &[String],
        settings: Option<serde_json::Value>,
        base_domain: &str,
    ) -> Option<TenantSpec> {
        let slug_ok = checks.check(validate::check_slug("slug", slug).map_or(Ok(()), Err));
        let name = checks.check(check_name("name", name));
        let plan = checks.check(plan.map_or(Ok(Plan::default()), |p| check_plan("plan", p)));
        let domains = check_domains(checks, domains, base_domain);
        let settings = checks.check(check_settings("settings", settings.unwrap_or_else(|| serde_json::json!({}))));
        Some(TenantSpec {
            slug: slug_ok.map(|_| slug.to_string())?,
            name: name?,
            plan: plan?,
            domains,
            settings: settings?,
        })
    }
}

/// Creates or updates a tenant from a manifest inside the caller's transaction (`tenants
/// apply`); changes nothing when the tenant already matches.
pub async fn apply_spec(txn: &TenantTxn, spec: &TenantSpec) -> Result<Applied> {
    let existing = tenant::Entity::find().filter(tenant::Column::Slug.eq(&spec.slug)).one(txn.platform_conn()).await?;
    let Some(row) = existing else {
        insert_tenant(txn, txn.tenant_id(), spec).await?;
        txn.announce(Change::Tenant(txn.tenant_id())).await?;
        return Ok(Applied::Created);
    };
    if row.status == TenantStatus::Deleted.as_str() {
        return Err(Error::new(
            Code::TenantExists,
            format!("tenant `{}` is being deleted; apply again later", spec.slug),
        ));
    }
    let current = with_domains(txn.platform_conn(), row.clone()).await?;
    let same = current.name == spec.name
        && current.plan == spec.plan
        && current.domains == sorted(&spec.domains)
        && current.settings == spec.settings;
    if same {
        return Ok(Applied::Unchanged);
    }
    add_domains(txn, &spec.domains).await?;
    let mut active: tenant::ActiveModel = row.into();
    active.name = Set(spec.name.clone());
    active.plan = Set(spec.plan.as_str().into());
    active.settings = Set(spec.settings.clone());
    active.updated_at = Set(Utc::now());
    active.update(txn.platform_conn()).await?;
    txn.announce(Change::Tenant(txn.tenant_id())).await?;
    Ok(Applied::Updated)
}

fn sorted(domains: &[String]) -> Vec<String> {
    let mut domains = domains.to_vec();
    domains.sort();
    domains
}

/// The id of the tenant with `slug`, if any (live or being deleted).
pub async fn id_by_slug(db: &PlatformDb, slug: &str) -> Result<Option<Uuid>> {
    let row = tenant::Entity::find().filter(tenant::Column::Slug.eq(slug)).one(db.platform_conn()).await?;
    Ok(row.map(|r| r.id))
}

/// Ensures a tenant user with this email exists (manifest admins); never resets a password.
pub async fn ensure_admin_user(txn: &TenantTxn, email: &str, password: SecretString) -> Result<bool> {
    let exists = txn.find::<user::Entity>().filter(user::Column::Email.eq(email)).one(txn).await?;
    if exists.is_some() {
        return Ok(false);
    }
    users::insert_user(txn, email, password::hash(password).await?, Role::Admin, None).await?;
    Ok(true)
}
