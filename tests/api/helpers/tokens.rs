//! Reading the app's access tokens and forging bad ones with the test's own secret.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Value, json};

use super::TEST_JWT_SECRET;

/// The issuer and audience the app writes with the default configuration.
pub const ISSUER: &str = "tenantbase";
pub const AUDIENCE: &str = "tenantbase";

/// Verifies `token` as the app should have signed it and returns its claims.
pub fn decode_claims(token: &str) -> Value {
    verify_with(token, TEST_JWT_SECRET)
        .unwrap_or_else(|e| panic!("the app's access token does not verify with the test secret: {e}"))
}

/// Verifies `token` with `secret` (and the app's issuer and audience) and returns its claims, or
/// why it does not verify.
pub fn verify_with(token: &str, secret: &str) -> Result<Value, jsonwebtoken::errors::Error> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    jsonwebtoken::decode::<Value>(token, &DecodingKey::from_secret(secret.as_bytes()), &validation).map(|t| t.claims)
}

/// The `kid` of the token's header, if it has one.
pub fn kid(token: &str) -> Option<String> {
    jsonwebtoken::decode_header(token).expect("a JWT header").kid
}

/// Signs `claims` with HS256, the given secret, and `kid` in the header.
pub fn sign_with_kid(claims: &Value, secret: &[u8], kid: &str) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).expect("signing a test token")
}

/// Signs `claims` with HS256 and the given secret.
pub fn sign(claims: &Value, secret: &[u8]) -> String {
    sign_with(Algorithm::HS256, claims, secret)
}

pub fn sign_with(algorithm: Algorithm, claims: &Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(&Header::new(algorithm), claims, &EncodingKey::from_secret(secret))
        .expect("signing a test token")
}

/// An unsigned token: `{"alg":"none"}` header, the claims, and an empty signature.
pub fn unsigned(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "JWT"}).to_string());
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.")
}

/// `token` with its payload replaced by `claims` and the original signature kept.
pub fn with_payload(token: &str, claims: &Value) -> String {
    let mut parts = token.split('.');
    let (header, _, signature) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
    format!("{header}.{}.{signature}", URL_SAFE_NO_PAD.encode(claims.to_string()))
}

/// `claims` with fresh `iat`/`nbf`/`exp` around now and a new `jti`, so a re-signed copy is
/// exactly as valid as the original.
pub fn refreshed(claims: &Value) -> Value {
    let now = now();
    let mut claims = claims.clone();
    claims["iat"] = json!(now);
    claims["nbf"] = json!(now);
    claims["exp"] = json!(now + 600);
    claims["jti"] = json!(uuid::Uuid::new_v4().to_string());
    claims
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}
