//! Per-instance caches, dropped the moment their source changes (locally at once, on other
//! instances through `LISTEN/NOTIFY`): [`InvalidatingCache`] for rows (tenants, members,
//! schemas) and [`AnswerCache`] for rendered answers to item queries.

mod answers;
mod invalidating;

pub use answers::{Answer, AnswerCache, AnswerKey};
pub use invalidating::{InvalidatingCache, TenantOf};
