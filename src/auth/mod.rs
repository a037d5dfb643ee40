//! Authentication: password hashing, access and refresh tokens, roles and the policies that
//! guard routes, and the caller a token speaks for (checked against the member's current state).

pub mod caller;
pub mod members;
pub mod password;
pub mod roles;
pub mod session;
pub mod token;

pub use caller::Caller;
pub use roles::Role;
pub use token::{Claims, TokenKeys};
