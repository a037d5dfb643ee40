//! Built-in behaviour, registered through the same extension API any user's extension uses:
//! the audit log, query-cache invalidation, the file layer's checks and sweep, the example `article_stats` extension, and
//! the benchmark's no-op hooks.

pub mod article_stats;
pub mod audit;
pub mod cache;
pub mod files;
pub mod noop;

use crate::hooks::Hooks;

/// Registers every built-in hook.
pub fn register(hooks: &mut Hooks) {
    audit::register(hooks);
    cache::register(hooks);
    files::register(hooks);
    article_stats::register(hooks);
    noop::register(hooks);
}

// Defined here rather than in `hooks/`: the registry knows no extension.
impl Hooks {
    /// The built-in hooks: the audit log (on unless a tenant turns it off), the example
    /// `article_stats` extension and the benchmark's `bench_noop` (off unless a tenant turns
    /// them on). Register your own after them.
    pub fn with_builtins() -> Self {
        let mut hooks = Hooks::new();
        register(&mut hooks);
        hooks
    }
}
