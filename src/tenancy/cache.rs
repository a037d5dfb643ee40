//! The per-instance tenant cache: tenants by every name they answer to. A suspension bites on
//! the very next request because every change drops the tenant's entries at once.

use std::time::Duration;

use uuid::Uuid;

use super::Tenant;
use crate::{
    cache::InvalidatingCache,
    db::{Change, Notice},
};

/// How a request can name a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TenantKey {
    Id(Uuid),
    Slug(String),
    Domain(String),
}

/// Tenants by name; also caches "no such tenant".
pub type TenantCache = InvalidatingCache<TenantKey, Tenant>;

/// A tenant cache for `capacity` names.
pub fn tenant_cache(capacity: u64) -> TenantCache {
    // A tenant loaded by any of its names is that tenant's; "no such tenant" is nobody's.
    InvalidatingCache::new(capacity, Duration::from_secs(600), |_, tenant| tenant.map(|t| t.id))
}

impl TenantCache {
    /// Drops every entry of this tenant, and every "no such tenant" entry (a new tenant or a
    /// new domain may now answer to those names).
    pub fn invalidate(&self, tenant_id: Uuid) {
        self.invalidate_tenant_if(tenant_id, true, move |_, tenant| tenant.is_none_or(|t| t.id == tenant_id));
    }

    /// Drops what a change made stale.
    pub fn on_change(&self, notice: &Notice) {
        match notice {
            Notice::Changed(Change::Tenant(id)) => self.invalidate(*id),
            Notice::Changed(_) => {}
            Notice::Reset => self.clear(),
            Notice::Listening(listening) => self.set_trusted(*listening),
        }
    }
}
