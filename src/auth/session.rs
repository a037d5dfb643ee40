//! Refresh tokens: opaque, random, stored only as SHA-256 hashes (SECURITY.md item 11).
//!
//! A token reads `{scope}.{secret}`: the scope (the tenant's id, or `platform`) says where its
//! session row lives, so a refresh needs no tenant header; the 256-bit secret is what proves it.

use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::token::{hex, random_token};
use crate::error::Error;

const PLATFORM: &str = "platform";

/// Where a session lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionScope {
    Tenant(Uuid),
    Platform,
}

/// A new refresh token and the hash to store for it.
pub struct NewRefreshToken {
    pub token: String,
    pub hash: String,
}

/// Makes a refresh token for a session in `scope`.
pub fn new_refresh_token(scope: SessionScope) -> Result<NewRefreshToken, Error> {
    let secret = random_token(32).map_err(Error::internal)?;
    let token = match scope {
        SessionScope::Tenant(id) => format!("{}.{secret}", id.simple()),
        SessionScope::Platform => format!("{PLATFORM}.{secret}"),
    };
    let hash = hash_refresh_token(&token);
    Ok(NewRefreshToken { token, hash })
}

/// Reads the scope of a presented token; `None` for anything that is not one of ours.
pub fn scope_of(token: &str) -> Option<SessionScope> {
    let (scope, secret) = token.split_once('.')?;
    if secret.len() != 43 || !secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return None;
    }
    match scope {
        PLATFORM => Some(SessionScope::Platform),
        id => Uuid::try_parse(id).ok().map(SessionScope::Tenant),
    }
}

/// The stored form of a refresh token. The token is 256 random bits, so a plain SHA-256 is
/// enough: there is nothing to guess that a salt or a slow hash would protect.
pub fn hash_refresh_token(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_their_scope_and_are_stored_hashed() {
        let tenant = Uuid::now_v7();
        let new = new_refresh_token(SessionScope::Tenant(tenant)).unwrap();
        assert_eq!(scope_of(&new.token), Some(SessionScope::Tenant(tenant)));
        assert_eq!(new.hash, hash_refresh_token(&new.token));
        assert!(!new.hash.contains(new.token.split('.').nth(1).unwrap()));
        let platform = new_refresh_token(SessionScope::Platform).unwrap();
        assert_eq!(scope_of(&platform.token), Some(SessionScope::Platform));
        for bad in ["", "platform", "platform.short", "nope.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "eyJ.a.b"] {
            assert_eq!(scope_of(bad), None, "{bad}");
        }
    }
}
