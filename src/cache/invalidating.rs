//! Per-instance caches whose entries are dropped the moment their source changes (locally at
//! once, on other instances through `LISTEN/NOTIFY`, see `db::notify`). A hit never touches the
//! database. `None` values cache "no such row", so floods of unknown names cost no queries.
//!
//! A load that races a change must not be cached, or the stale value would outlive the change.
//! Changes are counted per tenant (in striped generation counters), so one tenant changing often
//! never keeps another tenant's loads from being cached; only "no such row" results, which no
//! tenant owns, are held back by every change that may create a row.
//!
//! While this instance may be missing other instances' changes (its listener is away), a cache
//! is *untrusted*: every lookup loads and nothing is kept, until the listener is back.

use std::{
    hash::Hash,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use moka::sync::Cache;
use uuid::Uuid;

/// Generation counters, one per stripe of tenant ids.
const STRIPES: usize = 64;

/// Which tenant an entry belongs to, from its key or, once loaded, its value; `None` for
/// "no such row" entries that no key names a tenant of.
pub type TenantOf<K, V> = fn(&K, Option<&V>) -> Option<Uuid>;

/// A bounded cache of `Option<Arc<V>>` by `K` with explicit invalidation.
pub struct InvalidatingCache<K, V> {
    entries: Cache<K, Option<Arc<V>>>,
    generations: Arc<Generations>,
    tenant_of: TenantOf<K, V>,
    trusted: Arc<AtomicBool>,
}

/// How often each stripe of tenants, "no such row" entries, and everything changed.
struct Generations {
    tenants: [AtomicU64; STRIPES],
    absent: AtomicU64,
    all: AtomicU64,
}

/// The counters a load saw when it started.
struct Snapshot {
    tenants: [u64; STRIPES],
    absent: u64,
    all: u64,
}

fn stripe(tenant: Uuid) -> usize {
    (tenant.as_u128() % STRIPES as u128) as usize
}

impl Generations {
    fn snapshot(&self) -> Snapshot {
        Snapshot {
            tenants: std::array::from_fn(|i| self.tenants[i].load(Ordering::Acquire)),
            absent: self.absent.load(Ordering::Acquire),
            all: self.all.load(Ordering::Acquire),
        }
    }

    /// Whether nothing that could make a load of `tenant` stale changed since `before`.
    fn unchanged_for(&self, before: &Snapshot, tenant: Option<Uuid>) -> bool {
        let own = match tenant {
            Some(tenant) => self.tenants[stripe(tenant)].load(Ordering::Acquire) == before.tenants[stripe(tenant)],
            None => self.absent.load(Ordering::Acquire) == before.absent,
        };
        own && self.all.load(Ordering::Acquire) == before.all
    }
}

impl<K, V> Clone for InvalidatingCache<K, V> {
    fn clone(&self) -> Self {
        InvalidatingCache {
            entries: self.entries.clone(),
            generations: self.generations.clone(),
            tenant_of: self.tenant_of,
            trusted: self.trusted.clone(),
        }
    }
}

impl<K, V> InvalidatingCache<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    /// `ttl` is only a safety net; invalidation is explicit. `tenant_of` names an entry's tenant.
    pub fn new(capacity: u64, ttl: Duration, tenant_of: TenantOf<K, V>) -> Self {
        let entries = Cache::builder().max_capacity(capacity).time_to_live(ttl).support_invalidation_closures().build();
        let generations = Arc::new(Generations {
            tenants: std::array::from_fn(|_| AtomicU64::new(0)),
            absent: AtomicU64::new(0),
            all: AtomicU64::new(0),
        });
        InvalidatingCache { entries, generations, tenant_of, trusted: Arc::new(AtomicBool::new(true)) }
    }

    /// The cached entry, or `load()`'s result, cached unless its tenant changed while it loaded.
    ///
    /// `load` is called only on a miss, and its future is boxed: database futures are large, and
    /// on the hot path (a hit) they should be neither built nor carried in the caller's state.
    pub async fn get_or_load<F, Fut, E>(&self, key: K, load: F) -> Result<Option<Arc<V>>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<V>, E>>,
    {
        let trusted = self.trusted.load(Ordering::Acquire);
        if trusted && let Some(hit) = self.entries.get(&key) {
            return Ok(hit);
        }
        let before = self.generations.snapshot();
        let loaded = Box::pin(load()).await?.map(Arc::new);
        let tenant = (self.tenant_of)(&key, loaded.as_deref());
        if trusted && self.generations.unchanged_for(&before, tenant) {
            self.entries.insert(key, loaded.clone());
        }
        Ok(loaded)
    }

    /// Drops every entry of `tenant` for which `stale(key, value)` holds; with `absent`, also the
    /// "no such row" entries it selects (a change that may have created a row).
    pub fn invalidate_tenant_if(
        &self,
        tenant: Uuid,
        absent: bool,
        stale: impl Fn(&K, Option<&V>) -> bool + Send + Sync + 'static,
    ) {
        self.generations.tenants[stripe(tenant)].fetch_add(1, Ordering::AcqRel);
        if absent {
            self.generations.absent.fetch_add(1, Ordering::AcqRel);
        }
        if self.entries.invalidate_entries_if(move |k, v| stale(k, v.as_deref())).is_err() {
            self.entries.invalidate_all();
        }
    }

    /// Drops the entry of `key`, which belongs to `tenant`: the cheap form of
    /// [`InvalidatingCache::invalidate_tenant_if`] when one key is stale (a scan per change would
    /// make a burst of changes slow every lookup).
    pub fn invalidate_key(&self, tenant: Uuid, key: &K) {
        self.generations.tenants[stripe(tenant)].fetch_add(1, Ordering::AcqRel);
        self.entries.invalidate(key);
    }

    /// Drops everything (after a lost change notification).
    pub fn clear(&self) {
        self.generations.all.fetch_add(1, Ordering::AcqRel);
        self.entries.invalidate_all();
    }

    /// Whether changes made elsewhere are heard: when not, the cache is bypassed until they are
    /// again. Either way everything cached so far is dropped, since changes may have been missed.
    pub fn set_trusted(&self, trusted: bool) {
        self.trusted.store(trusted, Ordering::Release);
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use tokio::sync::oneshot;

    use super::*;

    fn cache() -> InvalidatingCache<Uuid, u32> {
        InvalidatingCache::new(100, Duration::from_secs(60), |tenant, _| Some(*tenant))
    }

    /// Loads `tenant`'s entry, with `change` happening while the load is in flight.
    async fn load_across(cache: &InvalidatingCache<Uuid, u32>, tenant: Uuid, change: impl FnOnce()) {
        let (started, wait) = oneshot::channel::<()>();
        let (release, released) = oneshot::channel::<()>();
        let loading = cache.get_or_load(tenant, || async move {
            let _ = started.send(());
            let _ = released.await;
            Ok::<_, ()>(Some(1))
        });
        let racing = async move {
            let _ = wait.await;
            change();
            let _ = release.send(());
        };
        let (loaded, ()) = tokio::join!(loading, racing);
        assert_eq!(loaded.unwrap().as_deref(), Some(&1));
    }

    #[tokio::test]
    async fn a_load_racing_its_own_tenants_change_is_not_cached() {
        let (cache, a) = (cache(), Uuid::now_v7());
        load_across(&cache, a, || cache.invalidate_tenant_if(a, false, move |k, _| *k == a)).await;
        assert!(cache.entries.get(&a).is_none());
    }

    #[tokio::test]
    async fn another_tenants_changes_never_keep_a_load_from_being_cached() {
        let cache = cache();
        let a = Uuid::now_v7();
        // A tenant in another stripe, changing over and over while a's entry loads.
        let b = std::iter::repeat_with(Uuid::now_v7).find(|b| stripe(*b) != stripe(a)).unwrap();
        load_across(&cache, a, || {
            for _ in 0..100 {
                cache.invalidate_tenant_if(b, false, move |k, _| *k == b);
            }
        })
        .await;
        assert_eq!(cache.entries.get(&a).flatten().as_deref(), Some(&1));
    }

    #[tokio::test]
    async fn an_untrusted_cache_loads_every_time_and_keeps_nothing() {
        let (cache, a) = (cache(), Uuid::now_v7());
        let loads = std::sync::atomic::AtomicU32::new(0);
        let load = || async {
            loads.fetch_add(1, Ordering::Relaxed);
            Ok::<_, ()>(Some(1))
        };
        cache.get_or_load(a, load).await.unwrap();
        cache.set_trusted(false);
        cache.get_or_load(a, load).await.unwrap();
        cache.get_or_load(a, load).await.unwrap();
        assert_eq!(loads.load(Ordering::Relaxed), 3);
        assert!(cache.entries.get(&a).is_none());
        cache.set_trusted(true);
        cache.get_or_load(a, load).await.unwrap();
        cache.get_or_load(a, load).await.unwrap();
        assert_eq!(loads.load(Ordering::Relaxed), 4);
    }

    #[tokio::test]
    async fn clearing_keeps_every_racing_load_out() {
        let (cache, a) = (cache(), Uuid::now_v7());
        load_across(&cache, a, || cache.clear()).await;
        assert!(cache.entries.get(&a).is_none());
    }
}
