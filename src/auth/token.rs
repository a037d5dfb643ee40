//! Access tokens: short-lived HS256 JWTs (SECURITY.md items 9-12). One algorithm is pinned;
//! `exp`, `iss`, `aud` and `sub` are required and checked, `nbf` too, with 5 s of leeway.

use std::{path::Path, sync::Arc, time::Duration};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Role;
use crate::config::{Config, MIN_SECRET_BYTES};

/// The `aud` every access token carries and every request requires.
pub const AUDIENCE: &str = "tenantbase";
/// Clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECONDS: u64 = 5;
/// How many verified tokens each instance remembers (about 1 KiB each).
const VERIFIED_CACHE_CAPACITY: u64 = 50_000;

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user (or platform admin) id.
    pub sub: Uuid,
    /// The tenant the token is bound to; absent for platform admins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tid: Option<Uuid>,
    pub role: Role,
    /// The session epoch of the user when the token was issued; a token whose epoch is not the
    /// user's current one is refused (see `auth::members`).
    #[serde(default)]
    pub sep: u64,
    pub iat: u64,
    pub nbf: u64,
    pub exp: u64,
    pub iss: String,
    pub aud: String,
    pub jti: Uuid,
}

/// Why a token was refused. All of these answer 401 `invalid_token`.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("token rejected: {0}")]
    Rejected(#[from] jsonwebtoken::errors::Error),
    #[error("token claims are inconsistent")]
    Inconsistent,
    #[error("token expired")]
    Expired,
    #[error("token signed with an unknown key")]
    UnknownKey,
}

/// Errors of preparing the signing key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read or write the JWT secret at {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("the JWT secret at {0} is shorter than 32 bytes; delete it to generate a new one")]
    TooShort(String),
    #[error("cannot generate a random secret: {0}")]
    Random(String),
}

/// A key that verifies tokens, named by the `kid` its tokens carry.
struct VerifyingKey {
    kid: String,
    key: DecodingKey,
}

/// Signs access tokens with the current key and verifies them with the current or a previous one.
pub struct TokenKeys {
    encoding: EncodingKey,
    kid: String,
    verifying: Vec<VerifyingKey>,
    validation: Validation,
    issuer: String,
    ttl: Duration,
    /// Tokens that already passed full verification, by their exact text. Checking a token is
    /// the costliest step of an authenticated request (base64, HMAC, two JSON parses); a repeat
    /// costs one lookup. Only the identical string hits, and time claims are checked again.
    verified: moka::sync::Cache<String, Arc<Claims>>,
}

impl TokenKeys {
    /// `previous` are earlier secrets still accepted for verification (key rotation).
    pub fn new(secret: &SecretString, previous: &[SecretString], issuer: &str, ttl: Duration) -> Self {
        let bytes = secret.expose_secret().as_bytes();
        let verifying = std::iter::once(secret)
            .chain(previous)
            .map(|s| VerifyingKey { kid: key_id(s), key: DecodingKey::from_secret(s.expose_secret().as_bytes()) })
            .collect();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[AUDIENCE]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS;
        TokenKeys {
            encoding: EncodingKey::from_secret(bytes),
            kid: key_id(secret),
            verifying,
            validation,
            issuer: issuer.to_string(),
            ttl,
            verified: moka::sync::Cache::builder()
                .max_capacity(VERIFIED_CACHE_CAPACITY)
                .time_to_live(ttl + Duration::from_secs(LEEWAY_SECONDS))
                .build(),
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Issues an access token for a user of `tenant` (or a platform admin when `None`) at their
    /// current session epoch.
    pub fn issue(&self, subject: Uuid, tenant: Option<Uuid>, role: Role, epoch: u64) -> Result<String, TokenError> {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: subject,
            tid: tenant,
            role,
            sep: epoch,
            iat: now,
            nbf: now,
            exp: now + self.ttl.as_secs(),
            iss: self.issuer.clone(),
            aud: AUDIENCE.to_string(),
            jti: Uuid::new_v4(),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.kid.clone());
        Ok(jsonwebtoken::encode(&header, &claims, &self.encoding)?)
    }

    /// Verifies signature, algorithm and claims. A platform-admin role must come without a
    /// tenant and a tenant role with one.
    pub fn verify(&self, token: &str) -> Result<Arc<Claims>, TokenError> {
        if let Some(claims) = self.verified.get(token) {
            let now = jsonwebtoken::get_current_timestamp();
            if now > claims.exp + LEEWAY_SECONDS || now + LEEWAY_SECONDS < claims.nbf {
                self.verified.invalidate(token);
                return Err(TokenError::Expired);
            }
            return Ok(claims);
        }
        // A token without `kid` can only be checked against the current key.
        let key = match jsonwebtoken::decode_header(token)?.kid {
            Some(kid) => self.verifying.iter().find(|k| k.kid == kid).ok_or(TokenError::UnknownKey)?,
            None => &self.verifying[0],
        };
        let claims = jsonwebtoken::decode::<Claims>(token, &key.key, &self.validation)?.claims;
        if (claims.role == Role::PlatformAdmin) != claims.tid.is_none() {
            return Err(TokenError::Inconsistent);
        }
        let claims = Arc::new(claims);
        self.verified.insert(token.to_string(), claims.clone());
        Ok(claims)
    }
}

/// Names a key without revealing it: the first 8 bytes of its SHA-256, in hex.
fn key_id(secret: &SecretString) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(secret.expose_secret().as_bytes())[..8])
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// The signing secret: `TB_JWT_SECRET`, or one generated on first run and kept in
/// `{data_dir}/jwt_secret` (mode 0600). Instances that share a database must share the secret.
pub fn load_secret(config: &Config) -> Result<SecretString, KeyError> {
    if let Some(secret) = &config.jwt_secret {
        return Ok(secret.clone());
    }
    let path = config.data_dir.join("jwt_secret");
    let io = |source| KeyError::Io { path: path.display().to_string(), source };
    match std::fs::read_to_string(&path) {
        Ok(existing) => {
            let existing = existing.trim().to_string();
            if existing.len() < MIN_SECRET_BYTES {
                return Err(KeyError::TooShort(path.display().to_string()));
            }
            Ok(SecretString::from(existing))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let secret = random_token(48).map_err(KeyError::Random)?;
            std::fs::create_dir_all(&config.data_dir).map_err(io)?;
            write_private(&path, &secret).map_err(io)?;
            tracing::info!(path = %path.display(), "generated a JWT signing secret");
            Ok(SecretString::from(secret))
        }
        Err(error) => Err(io(error)),
    }
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents.as_bytes())
}

/// `len` bytes from the OS CSPRNG, base64url-encoded.
pub fn random_token(len: usize) -> Result<String, String> {
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes).map_err(|e| e.to_string())?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys::new(&SecretString::from("k".repeat(32)), &[], "tenantbase", Duration::from_secs(60))
    }

    #[test]
    fn signs_and_verifies_with_the_crypto_backend() {
        let keys = keys();
        let (user, tenant) = (Uuid::now_v7(), Uuid::now_v7());
        let token = keys.issue(user, Some(tenant), Role::Editor, 0).unwrap();
        let claims = keys.verify(&token).unwrap();
        assert_eq!((claims.sub, claims.tid, claims.role), (user, Some(tenant), Role::Editor));
        assert_eq!(claims.aud, AUDIENCE);
    }

    #[test]
    fn refuses_other_keys_issuers_and_tampering() {
        let token = keys().issue(Uuid::now_v7(), None, Role::PlatformAdmin, 0).unwrap();
        let other_key = TokenKeys::new(&SecretString::from("x".repeat(32)), &[], "tenantbase", Duration::from_secs(60));
        assert!(other_key.verify(&token).is_err());
        let other_issuer = TokenKeys::new(&SecretString::from("k".repeat(32)), &[], "other", Duration::from_secs(60));
        assert!(other_issuer.verify(&token).is_err());
        let mut tampered = token.clone();
        tampered.insert(token.find('.').unwrap() + 2, 'A');
        assert!(keys().verify(&tampered).is_err());
    }

    #[test]
    fn a_remembered_token_is_refused_once_it_expires() {
        let keys = TokenKeys::new(&SecretString::from("k".repeat(32)), &[], "tenantbase", Duration::from_secs(0));
        let token = keys.issue(Uuid::now_v7(), None, Role::PlatformAdmin, 0).unwrap();
        assert!(keys.verify(&token).is_ok());
        std::thread::sleep(Duration::from_secs(LEEWAY_SECONDS + 1));
        assert!(keys.verify(&token).is_err());
    }

    #[test]
    fn previous_keys_verify_but_only_the_current_one_signs() {
        let (old, new) = (SecretString::from("o".repeat(32)), SecretString::from("n".repeat(32)));
        let before = TokenKeys::new(&old, &[], "tenantbase", Duration::from_secs(60));
        let rotated = TokenKeys::new(&new, std::slice::from_ref(&old), "tenantbase", Duration::from_secs(60));
        let after = TokenKeys::new(&new, &[], "tenantbase", Duration::from_secs(60));
        let old_token = before.issue(Uuid::now_v7(), None, Role::PlatformAdmin, 0).unwrap();
        assert!(rotated.verify(&old_token).is_ok());
        assert!(after.verify(&old_token).is_err());
        let new_token = rotated.issue(Uuid::now_v7(), None, Role::PlatformAdmin, 0).unwrap();
        assert!(after.verify(&new_token).is_ok());
        assert!(before.verify(&new_token).is_err());
    }

    #[test]
    fn a_tenant_role_without_a_tenant_is_refused() {
        let token = keys().issue(Uuid::now_v7(), None, Role::Admin, 0).unwrap();
        assert!(matches!(keys().verify(&token), Err(TokenError::Inconsistent)));
    }
}
