//! Item lists and reads as rendered answers, from the query cache when it holds them
//! (docs/caching.md). The cache keeps only what the hook-free path answers: when an `items.query`
//! or `items.read` filter hook applies to the tenant and collection, every request renders, so a
//! hook can never be bypassed by an answer it did not see. Answers are keyed by tenant,
//! collection, the caller's role and the normalised query, and dropped by every write to the
//! collection (`extensions::cache`).

use std::sync::Arc;

use serde_json::Value;

use super::read::{get, item_id, list};
use crate::{
    auth::Caller,
    cache::{Answer, AnswerKey},
    error::Result,
    services::{Env, item_query::ListParams},
    tenancy::Tenant,
};

/// Whether answers about `collection` may be cached for `tenant`: no read filter hook applies.
fn cacheable(env: &Env, tenant: &Tenant, collection: &str, events: &[&str]) -> bool {
    env.answers().enabled()
        && events.iter().all(|event| env.hooks().filters_for(event, Some(collection), tenant).next().is_none())
}

/// The answer about `collection` to `request` (a normal form of what was asked): from the
/// cache, unless a filter hook of one of `events` applies, else `fresh()`'s.
pub(crate) async fn cached<F, Fut>(
    env: &Env,
    tenant: &Tenant,
    caller: &Caller,
    (collection, events): (&str, &[&str]),
    request: String,
    fresh: F,
) -> Result<Arc<Answer>>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Answer>>,
{
    if !cacheable(env, tenant, collection, events) {
        return fresh().await.map(Arc::new);
    }
    let key = AnswerKey { tenant: tenant.id, collection: collection.into(), role: caller.role.as_str(), request };
    env.answers().get_or_render(key, fresh).await
}

/// The answer to a list request; `render` shapes the items (and total) into the answer.
pub async fn list_answer(
    env: &Env,
    tenant: &Arc<Tenant>,
    caller: &Caller,
    collection: &str,
    params: &ListParams,
    render: impl FnOnce(Vec<Value>, Option<u64>) -> Result<Answer>,
) -> Result<Arc<Answer>> {
    let request = params.cache_key();
    cached(env, tenant, caller, (collection, &["items.query", "items.read"]), request, async || {
        let (items, total) = list(env, tenant, caller, collection, params).await?;
        render(items, total)
    })
    .await
}

/// The answer to a read of one item; `render` shapes the item into the answer.
pub async fn get_answer(
    env: &Env,
    tenant: &Arc<Tenant>,
    caller: &Caller,
    collection: &str,
    id: &str,
    render: impl FnOnce(Value) -> Result<Answer>,
) -> Result<Arc<Answer>> {
    let fresh = async || render(get(env, tenant, caller, collection, id).await?);
    // The id's canonical form, so that one item has one entry; a malformed id is a 404 to render.
    let Ok(canonical) = item_id(id) else { return fresh().await.map(Arc::new) };
    cached(env, tenant, caller, (collection, &["items.read"]), format!("one:{canonical}"), fresh).await
}
