//! Tenant management (API.md "Platform: tenant management"): create, list, read, change,
//! suspend, resume, delete (with a background purge), and usage.
//!
//! The platform service: tenants and their domains are platform tables, read and changed through
//! the named platform connection; a tenant's own rows still go through its `TenantTxn`.
//! `spec.rs` holds the validated definition (shared with manifests), `store.rs` the row writes,
//! `purge.rs` deletion.
#![allow(clippy::disallowed_methods, reason = "tenants and tenant_domains are platform tables")]

mod purge;
mod spec;
mod store;

use std::sync::Arc;

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, Func, LikeExpr},
};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use purge::{delete, purge, resume_purges};
pub use spec::{MAX_DOMAINS, TenantSpec};
use spec::{check_domains, check_plan, check_settings};
pub use store::{Applied, apply_spec, ensure_admin_user, id_by_slug};
use store::{add_domains, insert_tenant, live_row};

use super::{Env, users};
use crate::{
    auth::{Role, password},
    db::{Change, TenantTxn},
    entities::{tenant, tenant_domain, user},
    error::{Code, Error, Result},
    hooks,
    input::{Checks, Page, check_name, normalize_email},
    tenancy::{Tenant, TenantKey, TenantStatus, directory, validate},
};

/// `POST /api/tenants`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    pub slug: String,
    pub name: String,
    pub plan: Option<String>,
    pub domains: Option<Vec<String>>,
    #[schema(value_type = Option<Object>)]
    pub settings: Option<serde_json::Value>,
    /// The tenant's first user, created with the `admin` role.
    pub admin: Option<NewAdmin>,
}

/// The first admin user of a new tenant.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAdmin {
    pub email: String,
    #[schema(value_type = String, format = Password)]
    pub password: SecretString,
}

/// `PATCH /api/tenants/{id}`: only the fields present change; `domains` replaces the list.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantPatch {
    pub name: Option<String>,
    pub plan: Option<String>,
    pub domains: Option<Vec<String>>,
}

/// Filters of `GET /api/tenants`.
#[derive(Debug, Default)]
pub struct TenantFilter {
    pub status: Option<TenantStatus>,
    /// Case-insensitive substring of slug or name.
    pub q: Option<String>,
}

/// `GET /api/tenants/{id}/usage`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Usage {
    pub users: u64,
    pub collections: u64,
    pub items: u64,
    pub files: u64,
    pub storage_bytes: u64,
    pub requests_24h: u64,
    pub rate_limited_24h: u64,
}

pub(super) fn not_found() -> Error {
    Error::new(Code::TenantNotFound, "No such tenant.")
}

/// `{id or slug}` of a platform route.
pub fn key_of(id_or_slug: &str) -> TenantKey {
    match Uuid::parse_str(id_or_slug) {
        Ok(id) => TenantKey::Id(id),
        Err(_) => TenantKey::Slug(id_or_slug.to_ascii_lowercase()),
    }
}

/// Reads a live tenant for a platform route (no cache: admins see the current row).
#[tracing::instrument(skip(env))]
pub async fn get(env: &Env, id_or_slug: &str) -> Result<Tenant> {
    match key_of(id_or_slug) {
        TenantKey::Slug(slug) if !validate::is_valid_slug(&slug) => Err(not_found()),
        key => directory::find_live(env.db(), key).await?.ok_or_else(not_found),
    }
}

/// Lists live tenants by slug, with optional filters and the total count.
#[tracing::instrument(skip(env))]
pub async fn list(env: &Env, filter: &TenantFilter, page: Page) -> Result<(Vec<Tenant>, Option<u64>)> {
    let conn = env.db().platform_conn();
    let mut query = tenant::Entity::find().filter(tenant::Column::Status.ne(TenantStatus::Deleted.as_str()));
    if let Some(status) = filter.status {
        query = query.filter(tenant::Column::Status.eq(status.as_str()));
    }
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        if q.contains('\0') || q.chars().count() > 200 {
            return Err(Error::new(Code::InvalidQuery, "q must be at most 200 characters, without NUL"));
        }
        let pattern = format!("%{}%", q.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        use sea_orm::sea_query::ExprTrait;
        let like = |col: tenant::Column| {
            Expr::expr(Func::lower(Expr::col(col))).like(LikeExpr::new(pattern.clone()).escape('\\'))
        };
        query = query.filter(like(tenant::Column::Slug).or(like(tenant::Column::Name)));
    }
    let total = if page.with_total { Some(query.clone().count(conn).await?) } else { None };
    let rows = query.order_by_asc(tenant::Column::Slug).limit(page.limit).offset(page.offset).all(conn).await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut domains = tenant_domain::Entity::find()
        .filter(tenant_domain::Column::TenantId.is_in(ids))
        .order_by_asc(tenant_domain::Column::Domain)
        .all(conn)
        .await?;
    let tenants = rows
        .into_iter()
        .map(|row| {
            let mine = domains.extract_if(.., |d| d.tenant_id == row.id).map(|d| d.domain).collect();
            Tenant::from_row(row, mine)
        })
        .collect();
    Ok((tenants, total))
}

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
    let txn = env.db().tenant(id).begin().await?;
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

/// Runs `change` on a tenant's row inside one scoped transaction, then announces the change
/// so every instance drops the tenant from its cache. Returns the tenant's id.
async fn change<F>(env: &Env, id_or_slug: &str, change: F) -> Result<Uuid>
where
    F: AsyncFnOnce(&TenantTxn, tenant::ActiveModel) -> Result<tenant::ActiveModel>,
{
    let id = get(env, id_or_slug).await?.id;
    let txn = env.db().tenant(id).begin().await?;
    let row: tenant::ActiveModel = live_row(&txn).await?.into();
    let mut row = change(&txn, row).await?;
    row.updated_at = Set(Utc::now());
    row.update(txn.platform_conn()).await?;
    txn.announce(Change::Tenant(id)).await?;
    txn.commit().await?;
    Ok(id)
}

/// [`change`], then the changed tenant.
async fn change_and_get<F>(env: &Env, id_or_slug: &str, f: F) -> Result<Tenant>
where
    F: AsyncFnOnce(&TenantTxn, tenant::ActiveModel) -> Result<tenant::ActiveModel>,
{
    let id = change(env, id_or_slug, f).await?;
    let tenant = get(env, &id.to_string()).await?;
    announce(env, "tenants.update", &tenant);
    Ok(tenant)
}

/// Fires the (platform) action hooks of a tenant event; the hooks' context is that tenant.
fn announce(env: &Env, event: &'static str, tenant: &Tenant) {
    let payload = || serde_json::to_value(tenant).unwrap_or_default();
    hooks::announce(env.runtime(), Some(&Arc::new(tenant.clone())), None, event, payload);
}

/// Changes name, plan and/or domains.
#[tracing::instrument(skip(env, patch))]
pub async fn update(env: &Env, id_or_slug: &str, patch: TenantPatch) -> Result<Tenant> {
    let mut checks = Checks::default();
    let name = patch.name.as_deref().and_then(|n| checks.check(check_name("name", n)));
    let plan = patch.plan.as_deref().and_then(|p| checks.check(check_plan("plan", p)));
    let domains = patch.domains.as_deref().map(|d| check_domains(&mut checks, d, &env.config().base_domain));
    checks.finish()?;
    change_and_get(env, id_or_slug, async move |txn, mut row| {
        if let Some(name) = name {
            row.name = Set(name);
        }
        if let Some(plan) = plan {
            row.plan = Set(plan.as_str().into());
        }
        if let Some(domains) = domains {
            add_domains(txn, &domains).await?;
        }
        Ok(row)
    })
    .await
}

/// Replaces the settings object.
#[tracing::instrument(skip(env, settings))]
pub async fn replace_settings(env: &Env, id_or_slug: &str, settings: serde_json::Value) -> Result<Tenant> {
    let settings = check_settings("settings", settings).map_err(|e| Error::validation(vec![e]))?;
    change_and_get(env, id_or_slug, async move |_, mut row| {
        row.settings = Set(settings);
        Ok(row)
    })
    .await
}

/// Suspends or resumes; effective on the next request on every instance.
#[tracing::instrument(skip(env))]
pub async fn set_status(env: &Env, id_or_slug: &str, status: TenantStatus) -> Result<Tenant> {
    change_and_get(env, id_or_slug, async move |_, mut row| {
        row.status = Set(status.as_str().into());
        Ok(row)
    })
    .await
}

/// Counts what the tenant holds. Features not built yet count 0.
#[tracing::instrument(skip(env))]
pub async fn usage(env: &Env, id_or_slug: &str) -> Result<Usage> {
    let id = get(env, id_or_slug).await?.id;
    let txn = env.db().tenant(id).read().await?;
    let users = txn.find::<user::Entity>().count(&txn).await?;
    let (collections, items) = super::collections::usage(&txn).await?;
    txn.commit().await?;
    Ok(Usage { users, collections, items, files: 0, storage_bytes: 0, requests_24h: 0, rate_limited_24h: 0 })
}
