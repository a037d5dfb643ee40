//! Per-instance caches whose entries are dropped the moment their source changes (locally at
//! once, on other instances through `LISTEN/NOTIFY`, see `db::notify`). A hit never touches the
//! database. `None` values cache "no such row", so floods of unknown names cost no queries.

use std::{
    hash::Hash,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use moka::sync::Cache;

/// A bounded cache of `Option<Arc<V>>` by `K` with explicit invalidation.
pub struct InvalidatingCache<K, V> {
    entries: Cache<K, Option<Arc<V>>>,
    /// Bumped on every invalidation, so a load that raced with a change is not cached.
    generation: Arc<AtomicU64>,
}

impl<K, V> Clone for InvalidatingCache<K, V> {
    fn clone(&self) -> Self {
        InvalidatingCache { entries: self.entries.clone(), generation: self.generation.clone() }
    }
}

impl<K, V> InvalidatingCache<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    /// `ttl` is only a safety net; invalidation is explicit.
    pub fn new(capacity: u64, ttl: Duration) -> Self {
        let entries = Cache::builder().max_capacity(capacity).time_to_live(ttl).support_invalidation_closures().build();
        InvalidatingCache { entries, generation: Arc::new(AtomicU64::new(0)) }
    }

    /// The cached entry, or `load()`'s result, cached unless something changed while it loaded.
    ///
    /// `load` is called only on a miss, and its future is boxed: database futures are large, and
    /// on the hot path (a hit) they should be neither built nor carried in the caller's state.
    pub async fn get_or_load<F, Fut, E>(&self, key: K, load: F) -> Result<Option<Arc<V>>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<V>, E>>,
    {
        if let Some(hit) = self.entries.get(&key) {
            return Ok(hit);
        }
        let generation = self.generation.load(Ordering::Acquire);
        let loaded = Box::pin(load()).await?.map(Arc::new);
        if self.generation.load(Ordering::Acquire) == generation {
            self.entries.insert(key, loaded.clone());
        }
        Ok(loaded)
    }

    /// Drops every entry for which `stale(key, value)` holds.
    pub fn invalidate_if(&self, stale: impl Fn(&K, Option<&V>) -> bool + Send + Sync + 'static) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        if self.entries.invalidate_entries_if(move |k, v| stale(k, v.as_deref())).is_err() {
            self.entries.invalidate_all();
        }
    }

    /// Drops everything (after a lost change notification).
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.invalidate_all();
    }
}
