//! The per-instance tenant cache (DESIGN.md principle 5). A hit never touches the database; an
//! entry is dropped the moment its tenant changes — locally at once, on other instances through
//! `LISTEN/NOTIFY` — so a suspension bites on the very next request.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use moka::sync::Cache;
use uuid::Uuid;

use super::Tenant;

/// How a request can name a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TenantKey {
    Id(Uuid),
    Slug(String),
    Domain(String),
}

/// Tenants by every name they answer to; `None` caches "no such tenant" (so floods of unknown
/// hosts cost no queries), and any tenant change drops those negative entries too.
#[derive(Clone)]
pub struct TenantCache {
    entries: Cache<TenantKey, Option<Arc<Tenant>>>,
    /// Bumped on every invalidation, so a load that raced with a change is not cached.
    generation: Arc<AtomicU64>,
}

impl TenantCache {
    pub fn new(capacity: u64) -> Self {
        let entries = Cache::builder()
            .max_capacity(capacity)
            // A safety net only: invalidation is explicit.
            .time_to_live(Duration::from_secs(600))
            .support_invalidation_closures()
            .build();
        TenantCache { entries, generation: Arc::new(AtomicU64::new(0)) }
    }

    /// Returns the cached entry, or loads it with `load` and caches it unless the tenants
    /// changed while it was loading.
    pub async fn get_or_load<F, E>(&self, key: TenantKey, load: F) -> Result<Option<Arc<Tenant>>, E>
    where
        F: Future<Output = Result<Option<Tenant>, E>>,
    {
        // The synchronous cache: a hit is a plain lookup with no future to drive.
        if let Some(hit) = self.entries.get(&key) {
            return Ok(hit);
        }
        let generation = self.generation.load(Ordering::Acquire);
        let loaded = load.await?.map(Arc::new);
        if self.generation.load(Ordering::Acquire) == generation {
            self.entries.insert(key, loaded.clone());
        }
        Ok(loaded)
    }

    /// Drops every entry of this tenant and every negative entry.
    pub fn invalidate(&self, tenant_id: Uuid) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        let dropped =
            self.entries.invalidate_entries_if(move |_, entry| entry.as_ref().is_none_or(|t| t.id == tenant_id));
        if dropped.is_err() {
            self.clear();
        }
    }

    /// Drops everything (after a lost change notification).
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.invalidate_all();
    }
}
