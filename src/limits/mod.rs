//! Rate limits: the strict budgets of login attempts ([`LoginLimiter`]) and the plan's request
//! quotas per tenant and per caller ([`RequestLimiter`]), whose share on this instance follows
//! how many instances are live ([`Instances`]).

mod login;
mod requests;

pub use login::{LoginLimiter, LoginLimits};
pub use requests::{CallerKey, Decision, Instances, PolicyState, RequestLimiter, WINDOW_SECONDS};
