//! Authentication: password hashing, access tokens, and the extractors that turn a request's
//! token into a [`Caller`] with a role.

pub mod caller;
pub mod members;
pub mod password;
pub mod roles;
pub mod session;
pub mod token;

pub use caller::{Authenticated, Caller, PlatformAdmin, TenantCaller};
pub use roles::Role;
pub use token::{Claims, TokenKeys};
