//! Feathers-style composition of filter hooks: run one only `when` something holds, `unless` it
//! does, or `chain` several as one.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde_json::Value;

use super::{FilterFn, HookContext, HookResult};

/// Feathers-style composition: `hook` runs only when `predicate` holds for the context and payload.
pub fn when<P, F>(
    predicate: P,
    hook: F,
) -> impl for<'a> Fn(&'a HookContext<'a>, Value) -> BoxFuture<'a, HookResult<Value>> + Send + Sync + 'static
where
    P: Fn(&HookContext<'_>, &Value) -> bool + Send + Sync + 'static,
    F: for<'a> Fn(&'a HookContext<'a>, Value) -> BoxFuture<'a, HookResult<Value>> + Send + Sync + 'static,
{
    move |ctx, payload| {
        if predicate(ctx, &payload) { hook(ctx, payload) } else { Box::pin(std::future::ready(Ok(payload))) }
    }
}

/// The opposite of [`when`]: `hook` runs unless `predicate` holds.
pub fn unless<P, F>(
    predicate: P,
    hook: F,
) -> impl for<'a> Fn(&'a HookContext<'a>, Value) -> BoxFuture<'a, HookResult<Value>> + Send + Sync + 'static
where
    P: Fn(&HookContext<'_>, &Value) -> bool + Send + Sync + 'static,
    F: for<'a> Fn(&'a HookContext<'a>, Value) -> BoxFuture<'a, HookResult<Value>> + Send + Sync + 'static,
{
    when(move |ctx, payload| !predicate(ctx, payload), hook)
}

/// Several filter hooks used as one, run in order; the first rejection stops the chain.
pub fn chain(
    hooks: Vec<FilterFn>,
) -> impl for<'a> Fn(&'a HookContext<'a>, Value) -> BoxFuture<'a, HookResult<Value>> + Send + Sync + 'static {
    move |ctx, payload| {
        let hooks = hooks.clone();
        Box::pin(async move {
            let mut payload = payload;
            for hook in hooks {
                payload = hook(ctx, payload).await?;
            }
            Ok(payload)
        })
    }
}

/// Wraps a filter closure as a shareable [`FilterFn`] (for [`chain`]).
pub fn filter_fn<F>(hook: F) -> FilterFn
where
    F: for<'a> Fn(&'a HookContext<'a>, Value) -> BoxFuture<'a, HookResult<Value>> + Send + Sync + 'static,
{
    Arc::new(hook)
}
