//! The tenant directory: finding tenants by any of their names, from the cache when warm, and
//! the resolution of a request's tenant from the names it carries. Resolution at the HTTP edge,
//! refresh tokens, platform routes and the scheduler all ask here.
#![allow(clippy::disallowed_methods, reason = "tenants and tenant_domains are platform tables")]

use std::sync::Arc;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use super::{
    Tenant, TenantCache, TenantKey, TenantStatus,
    resolve::{self, Decision, Lookup},
};
use crate::{
    db::PlatformDb,
    entities::{tenant, tenant_domain},
    error::{Code, Error, Result},
};

/// Tenants by name, cached on this instance and dropped the moment they change.
#[derive(Clone)]
pub struct TenantDirectory {
    db: PlatformDb,
    cache: TenantCache,
    base_domain: String,
}

impl TenantDirectory {
    /// `base_domain`: tenants live at `{slug}.{base_domain}`.
    pub fn new(db: PlatformDb, cache: TenantCache, base_domain: &str) -> Self {
        TenantDirectory { db, cache, base_domain: base_domain.to_ascii_lowercase() }
    }

    /// The tenant a name names, deleted ones included; `None` when no tenant has it.
    pub async fn lookup(&self, key: TenantKey) -> Result<Lookup> {
        self.cache.get_or_load(key.clone(), || find(&self.db, key)).await
    }

    /// The active tenant with this id, as resolution would admit it (refresh tokens name theirs).
    pub async fn admitted(&self, id: Uuid) -> Result<Arc<Tenant>> {
        let tenant = self.lookup(TenantKey::Id(id)).await?.ok_or_else(|| resolve::problem(Code::TenantNotFound))?;
        resolve::admit(tenant).map_err(resolve::problem)
    }

    /// The tenant a request names by its Host header, its `X-Tenant-ID` header and its access
    /// token's `tid` (API.md "Tenant resolution"): `Ok(None)` when it names none.
    pub async fn resolve(
        &self,
        host: Option<&str>,
        tenant_header: Option<&[u8]>,
        token_tenant: Option<Uuid>,
    ) -> Result<Option<Arc<Tenant>>> {
        let host_lookup = match host.and_then(|h| resolve::host_key(h, &self.base_domain)) {
            // A domain nobody registered names no tenant; an unknown subdomain names a missing one.
            Some(key @ TenantKey::Domain(_)) => self.lookup(key).await?.map(Some),
            Some(key) => Some(self.lookup(key).await?),
            None => None,
        };
        let header_lookup = match tenant_header.map(resolve::header_key) {
            Some(Ok(key)) => Some(self.lookup(key).await?),
            Some(Err(_)) => Some(None),
            None => None,
        };
        let tenant = match resolve::decide(host_lookup, header_lookup, token_tenant).map_err(resolve::problem)? {
            Decision::Named(tenant) => tenant,
            Decision::TokenOnly(id) => {
                self.lookup(TenantKey::Id(id)).await?.ok_or_else(|| resolve::problem(Code::TenantNotFound))?
            }
            Decision::NoTenant => return Ok(None),
        };
        resolve::admit(tenant).map(Some).map_err(resolve::problem)
    }
}

/// Loads a tenant by any of its names, deleted ones included (with status `Deleted`), so that
/// resolution can tell "deleted" (404) from "no such name" — a custom domain nobody registered
/// names no tenant at all. Rows disappear only when the purge finishes.
pub async fn find(db: &PlatformDb, key: TenantKey) -> Result<Option<Tenant>> {
    let conn = db.platform_conn();
    let row = match key {
        TenantKey::Id(id) => tenant::Entity::find_by_id(id).one(conn).await?,
        TenantKey::Slug(slug) => tenant::Entity::find().filter(tenant::Column::Slug.eq(slug)).one(conn).await?,
        TenantKey::Domain(domain) => {
            let Some(route) = tenant_domain::Entity::find_by_id(domain).one(conn).await? else {
                return Ok(None);
            };
            tenant::Entity::find_by_id(route.tenant_id).one(conn).await?
        }
    };
    match row {
        Some(row) => Ok(Some(with_domains(conn, row).await?)),
        None => Ok(None),
    }
}

/// Loads a tenant that is not deleted, by any of its names (platform routes; no cache, so
/// admins see the current row).
pub async fn find_live(db: &PlatformDb, key: TenantKey) -> Result<Option<Tenant>> {
    Ok(find(db, key).await?.filter(|t| t.status != TenantStatus::Deleted))
}

/// Every active tenant, by slug (for per-tenant scheduled jobs).
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

/// The tenant of a row, with its custom domains.
pub(crate) async fn with_domains(conn: &impl ConnectionTrait, row: tenant::Model) -> Result<Tenant, Error> {
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
