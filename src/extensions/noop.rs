//! `bench_noop`: five filter hooks on `items.create` that change nothing. Off unless a tenant
//! enables it; `deploy/bench/hooks.sh` uses it to measure what the hook pipeline itself costs.

use crate::hooks::{Hooks, Register};

pub const EXTENSION: &str = "bench_noop";

pub fn register(hooks: &mut Hooks) {
    let mut extension = hooks.extension(EXTENSION, false);
    for _ in 0..5 {
        extension.filter("items.create", |_, payload| Box::pin(std::future::ready(Ok(payload))));
    }
}
