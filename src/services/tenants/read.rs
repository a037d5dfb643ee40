//! Reading tenants for platform routes: by id or slug, listed with filters, and their usage.
#![allow(clippy::disallowed_methods, reason = "tenants and tenant_domains are platform tables")]

use sea_orm::{
    ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, Func, LikeExpr},
};
use serde::Serialize;
use uuid::Uuid;

use super::input::TenantFilter;
use crate::{
    entities::{tenant, tenant_domain, user},
    error::{Code, Error, Result},
    input::Page,
    services::{
        Env,
        usage::{self, DayRange, DayUsage},
    },
    tenancy::{Tenant, TenantKey, TenantStatus, directory, validate},
};

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
    /// Traffic per day of the requested range (UTC; days without traffic are left out).
    pub days: Vec<DayUsage>,
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

/// Counts what the tenant holds (files and bytes include pending uploads, which hold their
/// quota) and its traffic over `range` and the last 24 hours, every instance's flushed counts
/// and this instance's latest.
#[tracing::instrument(skip(env))]
pub async fn usage(env: &Env, id_or_slug: &str, range: DayRange) -> Result<Usage> {
    let id = get(env, id_or_slug).await?.id;
    usage::flush(env).await;
    let txn = env.db().tenant(id).read().await?;
    let users = txn.find::<user::Entity>().count(&txn).await?;
    let (collections, items) = crate::services::collections::usage(&txn).await?;
    let (storage_bytes, files) = crate::services::files::usage(&txn).await?;
    let (days, last_24h) = usage::traffic(&txn, range).await?;
    txn.commit().await?;
    Ok(Usage {
        users,
        collections,
        items,
        files,
        storage_bytes,
        requests_24h: last_24h.requests,
        rate_limited_24h: last_24h.rate_limited,
        days,
    })
}
