//! Built-in behaviour, registered through the same API any extension uses.

pub mod article_stats;
pub mod audit;
pub mod noop;

use super::Hooks;

/// Registers every built-in hook.
pub fn register(hooks: &mut Hooks) {
    audit::register(hooks);
    article_stats::register(hooks);
    noop::register(hooks);
}
