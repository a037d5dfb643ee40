//! The query cache: rendered answers (body and `ETag`) to item lists and reads, per tenant,
//! collection, caller role and normalised query, bounded by weight (`TB_CACHE_MAX_BYTES`) with a
//! TTL as a safety net.
//!
//! Invalidation is by generation: every write to a collection bumps the generation of its
//! `(tenant, collection)` stripe when the write commits, a change of a tenant or its collection
//! definitions bumps the tenant's stripe, and a reset bumps everything. An entry remembers the
//! generation it was rendered under and is served only while that is still current; an answer
//! rendered while a bump happened is not kept at all, so a write is never hidden by a read that
//! raced it. While the listener that hears other instances' writes is away, nothing is served
//! or kept.

use std::{
    hash::{DefaultHasher, Hash, Hasher},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
};

use moka::sync::Cache;
use uuid::Uuid;

use crate::config::CacheConfig;

/// Generation counters of `(tenant, collection)` pairs, and of tenants.
const COLLECTION_STRIPES: usize = 4096;
const TENANT_STRIPES: usize = 256;

/// A rendered answer, served as is: the same bytes and `ETag` whether cached or not.
#[derive(Debug)]
pub struct Answer {
    pub body: bytes::Bytes,
    pub etag: String,
}

/// What an answer depends on besides the data: tenant, collection, the caller's role, and the
/// request in a normal form (e.g. `list:{…}` or `one:{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AnswerKey {
    pub tenant: Uuid,
    pub collection: Arc<str>,
    pub role: &'static str,
    pub request: String,
}

type Generation = [u64; 3];

/// The answers of this instance.
pub struct AnswerCache {
    entries: Option<Cache<AnswerKey, (Generation, Arc<Answer>)>>,
    collections: Box<[AtomicU64]>,
    tenants: Box<[AtomicU64]>,
    all: AtomicU64,
    trusted: AtomicBool,
}

fn stripe_of(tenant: Uuid, collection: &str) -> usize {
    let mut hasher = DefaultHasher::new();
    tenant.hash(&mut hasher);
    collection.hash(&mut hasher);
    (hasher.finish() % COLLECTION_STRIPES as u64) as usize
}

fn tenant_stripe(tenant: Uuid) -> usize {
    (tenant.as_u128() % TENANT_STRIPES as u128) as usize
}

impl AnswerCache {
    /// A cache as configured; with `TB_CACHE=false` it keeps nothing and every lookup renders.
    pub fn new(config: &CacheConfig) -> Self {
        let entries = config.enabled.then(|| {
            Cache::builder()
                .max_capacity(config.max_bytes)
                .weigher(|key: &AnswerKey, (_, answer): &(Generation, Arc<Answer>)| {
                    let bytes = answer.body.len() + answer.etag.len() + key.request.len() + key.collection.len() + 96;
                    u32::try_from(bytes).unwrap_or(u32::MAX)
                })
                .time_to_live(config.ttl)
                .build()
        });
        AnswerCache {
            entries,
            collections: (0..COLLECTION_STRIPES).map(|_| AtomicU64::new(0)).collect(),
            tenants: (0..TENANT_STRIPES).map(|_| AtomicU64::new(0)).collect(),
            all: AtomicU64::new(0),
            trusted: AtomicBool::new(true),
        }
    }

    pub fn enabled(&self) -> bool {
        self.entries.is_some()
    }

    fn generation(&self, tenant: Uuid, collection: &str) -> Generation {
        [
            self.collections[stripe_of(tenant, collection)].load(Ordering::Acquire),
            self.tenants[tenant_stripe(tenant)].load(Ordering::Acquire),
            self.all.load(Ordering::Acquire),
        ]
    }

    /// The cached answer for `key`, or `render()`'s, kept unless the collection changed while it
    /// was rendered. `render` is called only on a miss.
    pub async fn get_or_render<F, Fut, E>(&self, key: AnswerKey, render: F) -> Result<Arc<Answer>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Answer, E>>,
    {
        let Some(entries) = &self.entries else { return render().await.map(Arc::new) };
        if !self.trusted.load(Ordering::Acquire) {
            return render().await.map(Arc::new);
        }
        let before = self.generation(key.tenant, &key.collection);
        if let Some((generation, answer)) = entries.get(&key)
            && generation == before
        {
            return Ok(answer);
        }
        let answer = Arc::new(Box::pin(render()).await?);
        if self.generation(key.tenant, &key.collection) == before && self.trusted.load(Ordering::Acquire) {
            entries.insert(key, (before, answer.clone()));
        }
        Ok(answer)
    }

    /// Items of `collection` of `tenant` were written.
    pub fn items_changed(&self, tenant: Uuid, collection: &str) {
        self.collections[stripe_of(tenant, collection)].fetch_add(1, Ordering::AcqRel);
    }

    /// The tenant or its collection definitions changed: none of its answers stand.
    pub fn tenant_changed(&self, tenant: Uuid) {
        self.tenants[tenant_stripe(tenant)].fetch_add(1, Ordering::AcqRel);
    }

    /// Anything may have changed.
    pub fn clear(&self) {
        self.all.fetch_add(1, Ordering::AcqRel);
        if let Some(entries) = &self.entries {
            entries.invalidate_all();
        }
    }

    /// Whether other instances' changes are heard; when not, the cache is bypassed. Either way
    /// what it held is dropped.
    pub fn set_trusted(&self, trusted: bool) {
        self.trusted.store(trusted, Ordering::Release);
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use std::{sync::atomic::AtomicU32, time::Duration};

    use super::*;

    fn cache() -> AnswerCache {
        AnswerCache::new(&CacheConfig { enabled: true, max_bytes: 1 << 20, ttl: Duration::from_secs(60) })
    }

    fn key(tenant: Uuid, collection: &str, role: &'static str) -> AnswerKey {
        AnswerKey { tenant, collection: collection.into(), role, request: "list:{}".into() }
    }

    async fn render(cache: &AnswerCache, key: AnswerKey, renders: &AtomicU32) -> String {
        let answer = cache
            .get_or_render(key.clone(), || async {
                renders.fetch_add(1, Ordering::Relaxed);
                Ok::<_, ()>(Answer { body: format!("{}:{}", key.tenant, key.role).into(), etag: String::new() })
            })
            .await
            .unwrap();
        String::from_utf8(answer.body.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn answers_are_kept_per_tenant_and_role_until_their_collection_changes() {
        let (cache, renders) = (cache(), AtomicU32::new(0));
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let first = render(&cache, key(a, "articles", "viewer"), &renders).await;
        assert_eq!(render(&cache, key(a, "articles", "viewer"), &renders).await, first);
        assert_eq!(renders.load(Ordering::Relaxed), 1);
        assert_ne!(render(&cache, key(b, "articles", "viewer"), &renders).await, first);
        assert_ne!(render(&cache, key(a, "articles", "admin"), &renders).await, first);
        assert_eq!(renders.load(Ordering::Relaxed), 3);
        cache.items_changed(a, "articles");
        render(&cache, key(a, "articles", "viewer"), &renders).await;
        assert_eq!(renders.load(Ordering::Relaxed), 4);
        cache.tenant_changed(a);
        render(&cache, key(a, "articles", "viewer"), &renders).await;
        assert_eq!(renders.load(Ordering::Relaxed), 5);
    }

    #[tokio::test]
    async fn an_answer_rendered_across_a_write_is_not_kept() {
        let (cache, renders) = (cache(), AtomicU32::new(0));
        let a = Uuid::now_v7();
        let answer = cache
            .get_or_render(key(a, "articles", "viewer"), || async {
                cache.items_changed(a, "articles");
                Ok::<_, ()>(Answer { body: "old".into(), etag: String::new() })
            })
            .await
            .unwrap();
        assert_eq!(&answer.body[..], b"old");
        render(&cache, key(a, "articles", "viewer"), &renders).await;
        assert_eq!(renders.load(Ordering::Relaxed), 1, "the racing answer was not served again");
    }
}
