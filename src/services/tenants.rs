//! Tenant management (API.md "Platform: tenant management"): create, list, read, change,
//! suspend, resume, delete (with a background purge), and usage.
//!
//! The platform service: tenants and their domains are platform tables, read and changed through
//! the named platform connection; a tenant's own rows still go through its `TenantTxn`.
#![allow(clippy::disallowed_methods, reason = "tenants and tenant_domains are platform tables")]

use std::sync::Arc;

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, SqlErr,
    sea_query::{Expr, Func, LikeExpr},
};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    input::{Checks, Page, check_name, json_problem, normalize_email},
    users,
};
use crate::{
    auth::{Role, password},
    db::{
        PlatformDb, TenantTxn,
        notify::{Caches, Change},
    },
    entities::{session, tenant, tenant_domain, user},
    error::{Code, Error, FieldError, Result},
    hooks::{self, Env},
    state::AppState,
    tenancy::{Plan, Tenant, TenantKey, TenantStatus, validate},
};

/// At most this many custom domains per tenant.
pub const MAX_DOMAINS: usize = 20;

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

fn check_plan(field: &str, plan: &str) -> Result<Plan, FieldError> {
    Plan::parse(plan).ok_or_else(|| {
        let names: Vec<_> = Plan::ALL.iter().map(|p| p.as_str()).collect();
        FieldError::new(field, "invalid", format!("must be one of {}", names.join(", ")))
    })
}

fn check_settings(field: &str, settings: serde_json::Value) -> Result<serde_json::Value, FieldError> {
    if !settings.is_object() {
        return Err(FieldError::new(field, "invalid", "must be a JSON object"));
    }
    if let Some(problem) = json_problem(&settings) {
        return Err(FieldError::new(field, "invalid", problem));
    }
    Ok(settings)
}

fn check_domains(checks: &mut Checks, raw: &[String], base_domain: &str) -> Vec<String> {
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

/// Loads a tenant that is not deleted, by any of its names (platform routes).
pub async fn find_live(db: &PlatformDb, key: TenantKey) -> Result<Option<Tenant>> {
    Ok(find(db, key).await?.filter(|t| t.status != TenantStatus::Deleted))
}

/// Loads a tenant by any of its names, deleted ones included (with status `Deleted`), so that
/// resolution can tell "deleted" (404) from "no such name" — a custom domain nobody registered
/// names no tenant at all. Rows disappear only when the purge finishes.
pub async fn find(db: &PlatformDb, key: TenantKey) -> Result<Option<Tenant>> {
    let row = match key {
        TenantKey::Id(id) => tenant::Entity::find_by_id(id).one(db.platform_conn()).await?,
        TenantKey::Slug(slug) => {
            tenant::Entity::find().filter(tenant::Column::Slug.eq(slug)).one(db.platform_conn()).await?
        }
        TenantKey::Domain(domain) => {
            let Some(route) = tenant_domain::Entity::find_by_id(domain).one(db.platform_conn()).await? else {
                return Ok(None);
            };
            tenant::Entity::find_by_id(route.tenant_id).one(db.platform_conn()).await?
        }
    };
    match row {
        Some(row) => Ok(Some(with_domains(db.platform_conn(), row).await?)),
        None => Ok(None),
    }
}

async fn with_domains(conn: &impl ConnectionTrait, row: tenant::Model) -> Result<Tenant> {
    let domains = tenant_domain::Entity::find()
        .filter(tenant_domain::Column::TenantId.eq(row.id))
        .order_by_asc(tenant_domain::Column::Domain)
        .all(conn)
        .await?
        .into_iter()
        .map(|d| d.domain)
        .collect();
    Ok(Tenant::from_row(row, domains))
}

fn not_found() -> Error {
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
#[tracing::instrument(skip(db))]
pub async fn get(db: &PlatformDb, id_or_slug: &str) -> Result<Tenant> {
    match key_of(id_or_slug) {
        TenantKey::Slug(slug) if !validate::is_valid_slug(&slug) => Err(not_found()),
        key => find_live(db, key).await?.ok_or_else(not_found),
    }
}

/// Lists live tenants by slug, with optional filters and the total count.
#[tracing::instrument(skip(db))]
pub async fn list(db: &PlatformDb, filter: &TenantFilter, page: Page) -> Result<(Vec<Tenant>, Option<u64>)> {
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
    let total = if page.with_total { Some(query.clone().count(db.platform_conn()).await?) } else { None };
    let rows =
        query.order_by_asc(tenant::Column::Slug).limit(page.limit).offset(page.offset).all(db.platform_conn()).await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut domains = tenant_domain::Entity::find()
        .filter(tenant_domain::Column::TenantId.is_in(ids))
        .order_by_asc(tenant_domain::Column::Domain)
        .all(db.platform_conn())
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
pub async fn create(state: &AppState, input: NewTenant) -> Result<Tenant> {
    let mut checks = Checks::default();
    let spec = TenantSpec::parse(
        &mut checks,
        &input.slug,
        &input.name,
        input.plan.as_deref(),
        input.domains.as_deref().unwrap_or_default(),
        input.settings,
        &state.config.base_domain,
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
    let txn = state.db.tenant(id).begin().await?;
    insert_tenant(&txn, id, &spec).await?;
    if let Some((email, hash)) = admin {
        users::insert_user(&txn, &email, hash, Role::Admin, None).await?;
    }
    txn.announce(Change::Tenant(id)).await?;
    txn.commit().await?;
    state.caches.apply(Change::Tenant(id));
    let tenant = get(&state.db, &id.to_string()).await?;
    announce(state, "tenants.create", &tenant);
    Ok(tenant)
}

async fn insert_tenant(txn: &TenantTxn, id: Uuid, spec: &TenantSpec) -> Result<()> {
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
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
    }
    .insert(txn.platform_conn())
    .await
    .map_err(|e| on_unique(e, Code::TenantExists))?;
    add_domains(txn, &spec.domains).await
}

async fn add_domains(txn: &TenantTxn, domains: &[String]) -> Result<()> {
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
fn on_unique(error: sea_orm::DbErr, code: Code) -> Error {
    match error.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => Error::new(code, "That name is already taken."),
        _ => Error::Database(error),
    }
}

/// Loads a live tenant row for change, inside `txn`.
async fn live_row(txn: &TenantTxn) -> Result<tenant::Model> {
    tenant::Entity::find_by_id(txn.tenant_id())
        .filter(tenant::Column::Status.ne(TenantStatus::Deleted.as_str()))
        .lock_exclusive()
        .one(txn.platform_conn())
        .await?
        .ok_or_else(not_found)
}

/// Runs `change` on a tenant's row inside one scoped transaction, then announces the change
/// so every instance drops the tenant from its cache. Returns the tenant's id.
async fn change<F>(state: &AppState, id_or_slug: &str, change: F) -> Result<Uuid>
where
    F: AsyncFnOnce(&TenantTxn, tenant::ActiveModel) -> Result<tenant::ActiveModel>,
{
    let id = get(&state.db, id_or_slug).await?.id;
    let txn = state.db.tenant(id).begin().await?;
    let row: tenant::ActiveModel = live_row(&txn).await?.into();
    let mut row = change(&txn, row).await?;
    row.updated_at = Set(Utc::now());
    row.update(txn.platform_conn()).await?;
    txn.announce(Change::Tenant(id)).await?;
    txn.commit().await?;
    state.caches.apply(Change::Tenant(id));
    Ok(id)
}

/// [`change`], then the changed tenant.
async fn change_and_get<F>(state: &AppState, id_or_slug: &str, f: F) -> Result<Tenant>
where
    F: AsyncFnOnce(&TenantTxn, tenant::ActiveModel) -> Result<tenant::ActiveModel>,
{
    let id = change(state, id_or_slug, f).await?;
    let tenant = get(&state.db, &id.to_string()).await?;
    announce(state, "tenants.update", &tenant);
    Ok(tenant)
}

/// Fires the (platform) action hooks of a tenant event; the hooks' context is that tenant.
fn announce(state: &AppState, event: &'static str, tenant: &Tenant) {
    let payload = || serde_json::to_value(tenant).unwrap_or_default();
    hooks::context::announce(&Env::new(state), Some(&Arc::new(tenant.clone())), None, event, payload);
}

/// Changes name, plan and/or domains.
#[tracing::instrument(skip(state, patch))]
pub async fn update(state: &AppState, id_or_slug: &str, patch: TenantPatch) -> Result<Tenant> {
    let mut checks = Checks::default();
    let name = patch.name.as_deref().and_then(|n| checks.check(check_name("name", n)));
    let plan = patch.plan.as_deref().and_then(|p| checks.check(check_plan("plan", p)));
    let domains = patch.domains.as_deref().map(|d| check_domains(&mut checks, d, &state.config.base_domain));
    checks.finish()?;
    change_and_get(state, id_or_slug, async move |txn, mut row| {
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
#[tracing::instrument(skip(state, settings))]
pub async fn replace_settings(state: &AppState, id_or_slug: &str, settings: serde_json::Value) -> Result<Tenant> {
    let settings = check_settings("settings", settings).map_err(|e| Error::validation(vec![e]))?;
    change_and_get(state, id_or_slug, async move |_, mut row| {
        row.settings = Set(settings);
        Ok(row)
    })
    .await
}

/// Suspends or resumes; effective on the next request on every instance.
#[tracing::instrument(skip(state))]
pub async fn set_status(state: &AppState, id_or_slug: &str, status: TenantStatus) -> Result<Tenant> {
    change_and_get(state, id_or_slug, async move |_, mut row| {
        row.status = Set(status.as_str().into());
        Ok(row)
    })
    .await
}

/// Counts what the tenant holds. Features not built yet count 0.
#[tracing::instrument(skip(state))]
pub async fn usage(state: &AppState, id_or_slug: &str) -> Result<Usage> {
    let id = get(&state.db, id_or_slug).await?.id;
    let txn = state.db.tenant(id).read().await?;
    let users = txn.find::<user::Entity>().count(&txn).await?;
    let (collections, items) = super::collections::usage(&txn).await?;
    txn.commit().await?;
    Ok(Usage { users, collections, items, files: 0, storage_bytes: 0, requests_24h: 0, rate_limited_24h: 0 })
}

/// Makes the tenant unreachable at once and purges its rows in the background. A purge cut
/// short (crash, restart) is finished by [`resume_purges`] at the next start.
#[tracing::instrument(skip(state))]
pub async fn delete(state: &Arc<AppState>, id_or_slug: &str) -> Result<()> {
    let before = get(&state.db, id_or_slug).await?;
    let id = change(state, id_or_slug, async move |_, mut row| {
        row.status = Set(TenantStatus::Deleted.as_str().into());
        row.deleted_at = Set(Some(Utc::now()));
        Ok(row)
    })
    .await?;
    state.metrics.forget_tenant(id);
    announce(state, "tenants.delete", &before);
    let (db, caches) = (state.db.clone(), state.caches.clone());
    tokio::spawn(async move {
        if let Err(error) = purge(&db, &caches, id).await {
            tracing::error!(%error, tenant = %id, "tenant purge failed; it resumes at the next start");
        }
    });
    Ok(())
}

/// Deletes every row of a deleted tenant, inside that tenant's own scope so nothing of any other
/// tenant can be touched, then the tenant row itself; every instance then forgets it, which
/// frees its slug and domains.
#[tracing::instrument(skip(db, caches))]
pub async fn purge(db: &PlatformDb, caches: &Caches, id: Uuid) -> Result<()> {
    let txn = db.tenant(id).begin().await?;
    let deleted = tenant::Entity::find_by_id(id)
        .filter(tenant::Column::Status.eq(TenantStatus::Deleted.as_str()))
        .one(txn.platform_conn())
        .await?;
    if deleted.is_none() {
        return Ok(()); // already purged, or not deleted at all
    }
    let items = super::collections::purge(&txn).await?;
    txn.delete_many::<session::Entity>().exec(&txn).await?;
    let users = txn.delete_many::<user::Entity>().exec(&txn).await?;
    txn.delete_many::<tenant_domain::Entity>().exec(&txn).await?;
    tenant::Entity::delete_by_id(id).exec(txn.platform_conn()).await?;
    txn.announce(Change::Tenant(id)).await?;
    txn.commit().await?;
    caches.apply(Change::Tenant(id));
    tracing::info!(tenant = %id, users, items, "tenant purged");
    Ok(())
}

/// Every active tenant (for per-tenant scheduled jobs).
pub async fn active(db: &PlatformDb) -> Result<Vec<Tenant>> {
    let rows = tenant::Entity::find()
        .filter(tenant::Column::Status.eq(TenantStatus::Active.as_str()))
        .order_by_asc(tenant::Column::Slug)
        .all(db.platform_conn())
        .await?;
    let mut tenants = Vec::with_capacity(rows.len());
    for row in rows {
        tenants.push(with_domains(db.platform_conn(), row).await?);
    }
    Ok(tenants)
}

/// Finishes purges that a previous run left unfinished.
pub async fn resume_purges(db: &PlatformDb, caches: &Caches) -> Result<()> {
    let pending = tenant::Entity::find()
        .filter(tenant::Column::Status.eq(TenantStatus::Deleted.as_str()))
        .all(db.platform_conn())
        .await?;
    for row in pending {
        purge(db, caches, row.id).await?;
    }
    Ok(())
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
