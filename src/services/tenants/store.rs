//! Writing tenant rows: a new tenant, its custom domains, the live row locked for a change, and
//! a manifest's tenant created or updated inside a platform transaction (`tenants apply`).
#![allow(clippy::disallowed_methods, reason = "tenants and tenant_domains are platform tables")]

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QuerySelect, SqlErr};
use secrecy::SecretString;
use uuid::Uuid;

use super::{read::not_found, spec::TenantSpec};
use crate::{
    auth::{Role, password},
    db::{Change, PlatformDb, TenantTxn},
    entities::{tenant, tenant_domain, user},
    error::{Code, Error, Result},
    services::users,
    tenancy::{TenantStatus, directory::with_domains},
};

/// What `apply_spec` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Created,
    Updated,
    Unchanged,
}

pub(super) async fn insert_tenant(txn: &TenantTxn, id: Uuid, spec: &TenantSpec) -> Result<()> {
    let taken = tenant::Entity::find().filter(tenant::Column::Slug.eq(&spec.slug)).one(txn.platform_conn()).await?;
    if taken.is_some() {
        return Err(Error::new(Code::TenantExists, format!("A tenant with slug `{}` already exists.", spec.slug)));
    }
    let now = Utc::now();
    tenant::ActiveModel {
        id: Set(id),
        slug: Set(spec.slug.clone()),
        name: Set(spec.name.clone()),
        plan: Set(spec.plan.as_str().into()),
        status: Set(TenantStatus::Active.as_str().into()),
        settings: Set(spec.settings.clone()),
        rate_limits: Set(serde_json::json!({})),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
    }
    .insert(txn.platform_conn())
    .await
    .map_err(|e| on_unique(e, Code::TenantExists))?;
    add_domains(txn, &spec.domains).await
}

pub(super) async fn add_domains(txn: &TenantTxn, domains: &[String]) -> Result<()> {
    for domain in domains {
        let owner = tenant_domain::Entity::find_by_id(domain.clone()).one(txn.platform_conn()).await?;
        if owner.is_some_and(|d| d.tenant_id != txn.tenant_id()) {
            return Err(Error::new(Code::DomainTaken, format!("The domain `{domain}` belongs to another tenant.")));
        }
    }
    txn.delete_many::<tenant_domain::Entity>()
        .filter(tenant_domain::Column::Domain.is_not_in(domains.iter().cloned()))
        .exec(txn)
        .await?;
    let existing: Vec<String> =
        txn.find::<tenant_domain::Entity>().all(txn).await?.into_iter().map(|d| d.domain).collect();
    for domain in domains.iter().filter(|d| !existing.contains(d)) {
        let row = tenant_domain::ActiveModel {
            domain: Set(domain.clone()),
            tenant_id: Set(txn.tenant_id()),
            created_at: Set(Utc::now()),
        };
        txn.insert(row).await.map_err(|e| on_unique(e, Code::DomainTaken))?;
    }
    Ok(())
}

/// Turns a unique-constraint violation (a concurrent insert won the race) into `code`.
pub(super) fn on_unique(error: sea_orm::DbErr, code: Code) -> Error {
    match error.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => Error::new(code, "That name is already taken."),
        _ => Error::Database(error),
    }
}

/// Loads a live tenant row for change, inside `txn`.
pub(super) async fn live_row(txn: &TenantTxn) -> Result<tenant::Model> {
    tenant::Entity::find_by_id(txn.tenant_id())
        .filter(tenant::Column::Status.ne(TenantStatus::Deleted.as_str()))
        .lock_exclusive()
        .one(txn.platform_conn())
        .await?
        .ok_or_else(not_found)
}

/// Creates or updates a tenant from a manifest inside the caller's transaction (`tenants
/// apply`); changes nothing when the tenant already matches.
pub(crate) async fn apply_spec(txn: &TenantTxn, spec: &TenantSpec) -> Result<Applied> {
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
pub(crate) async fn id_by_slug(db: &PlatformDb, slug: &str) -> Result<Option<Uuid>> {
    let row = tenant::Entity::find().filter(tenant::Column::Slug.eq(slug)).one(db.platform_conn()).await?;
    Ok(row.map(|r| r.id))
}

/// Ensures a tenant user with this email exists (manifest admins); never resets a password.
pub(crate) async fn ensure_admin_user(txn: &TenantTxn, email: &str, password: SecretString) -> Result<bool> {
    let exists = txn.find::<user::Entity>().filter(user::Column::Email.eq(email)).one(txn).await?;
    if exists.is_some() {
        return Ok(false);
    }
    users::insert_user(txn, email, password::hash(password).await?, Role::Admin, None).await?;
    Ok(true)
}
