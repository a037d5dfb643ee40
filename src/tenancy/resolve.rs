//! The tenant resolution rules of API.md, as pure functions: what a Host header or an
//! `X-Tenant-ID` header names, and which tenant (or error) the named sources add up to.

use std::sync::Arc;

use uuid::Uuid;

use super::{Tenant, TenantKey, TenantStatus, validate};
use crate::error::{Code, Error};

/// Reads the Host header: a tenant subdomain names a slug, any other well-formed domain may be a
/// registered custom domain, and the bare base domain, IP addresses and garbage name no tenant.
/// Ports, upper case and a trailing dot are ignored.
pub fn host_key(host: &str, base_domain: &str) -> Option<TenantKey> {
    if host.starts_with('[') {
        return None; // IPv6 literal
    }
    let host = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        Some(_) => return None,
        None => host,
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.is_empty() || host.len() > 253 || !host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return None;
    }
    let host = host.to_ascii_lowercase();
    if host == base_domain || host.split('.').all(|l| l.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    match host.strip_suffix(base_domain).and_then(|p| p.strip_suffix('.')) {
        Some(label) if validate::is_valid_slug(label) && !validate::RESERVED_SLUGS.contains(&label) => {
            Some(TenantKey::Slug(label.to_string()))
        }
        Some(_) => None, // www.base, a.b.acme.base: under our domain but not a tenant
        None if host.contains('.') => Some(TenantKey::Domain(host)),
        None => None,
    }
}

/// Reads `X-Tenant-ID`: a tenant uuid or slug (case-insensitive). `Err` for a value that can
/// name no tenant, which is answered like an unknown tenant.
pub fn header_key(value: &[u8]) -> Result<TenantKey, Code> {
    let value = std::str::from_utf8(value).map_err(|_| Code::TenantNotFound)?.trim();
    if let Ok(id) = Uuid::parse_str(value) {
        return Ok(TenantKey::Id(id));
    }
    let slug = value.to_ascii_lowercase();
    if validate::is_valid_slug(&slug) { Ok(TenantKey::Slug(slug)) } else { Err(Code::TenantNotFound) }
}

/// The outcome of looking one named source up: `None` when no such tenant exists.
pub type Lookup = Option<Arc<Tenant>>;

/// What the sources a request carries add up to, before the token-only case is looked up.
#[derive(Debug, PartialEq)]
pub enum Decision {
    /// Host and/or header named this tenant (and the token, if any, agrees).
    Named(Arc<Tenant>),
    /// Only the token names a tenant, by id.
    TokenOnly(Uuid),
    /// Nothing names a tenant.
    NoTenant,
}

/// Combines the named sources. `host` and `header` are `None` when absent, `Some(lookup)` when
/// present; `token_tenant` is the `tid` of a valid access token.
pub fn decide(host: Option<Lookup>, header: Option<Lookup>, token_tenant: Option<Uuid>) -> Result<Decision, Code> {
    let host = host.map(|t| t.ok_or(Code::TenantNotFound)).transpose()?;
    let header = header.map(|t| t.ok_or(Code::TenantNotFound)).transpose()?;
    let named = match (host, header) {
        (Some(h), Some(x)) if h.id != x.id => return Err(Code::TenantConflict),
        (Some(t), _) | (None, Some(t)) => t,
        (None, None) => return Ok(token_tenant.map_or(Decision::NoTenant, Decision::TokenOnly)),
    };
    match token_tenant {
        Some(tid) if tid != named.id => Err(Code::TokenTenantMismatch),
        _ => Ok(Decision::Named(named)),
    }
}

/// Lets a request into a tenant only while it is active.
pub fn admit(tenant: Arc<Tenant>) -> Result<Arc<Tenant>, Code> {
    match tenant.status {
        TenantStatus::Active => Ok(tenant),
        TenantStatus::Suspended => Err(Code::TenantSuspended),
        TenantStatus::Deleted => Err(Code::TenantNotFound),
    }
}

/// The problem a failed resolution is answered with.
pub fn problem(code: Code) -> Error {
    let detail = match code {
        Code::TenantConflict => "The Host and X-Tenant-ID headers name different tenants.",
        Code::TokenTenantMismatch => "The access token belongs to a different tenant than the one requested.",
        Code::TenantNotFound => "No such tenant.",
        Code::TenantSuspended => "This tenant is suspended.",
        Code::TenantRequired => "This route needs a tenant: use its subdomain, X-Tenant-ID, or a tenant token.",
        _ => "The tenant could not be resolved.",
    };
    Error::new(code, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(slug: &str) -> Arc<Tenant> {
        let row = crate::entities::tenant::Model {
            id: Uuid::now_v7(),
            slug: slug.into(),
            name: slug.into(),
            plan: "free".into(),
            status: "active".into(),
            settings: serde_json::json!({}),
            rate_limits: serde_json::json!({}),
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
            deleted_at: None,
        };
        Arc::new(Tenant::from_row(row, vec![]))
    }

    fn slug(s: &str) -> Option<TenantKey> {
        Some(TenantKey::Slug(s.into()))
    }

    #[test]
    fn subdomains_name_slugs_whatever_the_case_port_or_trailing_dot() {
        for host in ["acme.localhost", "ACME.localhost.", "acme.localhost:8080", "Acme.LocalHost"] {
            assert_eq!(host_key(host, "localhost"), slug("acme"), "{host}");
        }
    }

    #[test]
    fn bare_base_ips_reserved_nested_and_garbage_hosts_name_no_tenant() {
        let long = format!("{}.localhost", "a".repeat(300));
        for host in [
            "localhost",
            "localhost:8080",
            "127.0.0.1",
            "127.0.0.1:80",
            "[::1]:8080",
            "www.localhost",
            "a.b.acme.localhost",
            "",
            ".",
            "ac me.localhost",
            "acmé.localhost",
            "acme.localhost:x",
            &long,
        ] {
            assert_eq!(host_key(host, "localhost"), None, "{host:?}");
        }
    }

    #[test]
    fn other_domains_are_custom_domain_candidates() {
        assert_eq!(host_key("App.Example.com:443", "localhost"), Some(TenantKey::Domain("app.example.com".into())));
        assert_eq!(host_key("intranet", "localhost"), None);
    }

    #[test]
    fn header_takes_slug_or_uuid() {
        let id = Uuid::now_v7();
        assert_eq!(header_key(id.to_string().as_bytes()), Ok(TenantKey::Id(id)));
        assert_eq!(header_key(b"ACME"), Ok(TenantKey::Slug("acme".into())));
        assert_eq!(header_key(b"no such!"), Err(Code::TenantNotFound));
        assert_eq!(header_key(&[0xff, 0xfe]), Err(Code::TenantNotFound));
    }

    #[test]
    fn sources_must_agree() {
        let (a, b) = (tenant("a"), tenant("b"));
        assert_eq!(decide(Some(Some(a.clone())), None, None), Ok(Decision::Named(a.clone())));
        assert_eq!(decide(None, Some(Some(a.clone())), Some(a.id)), Ok(Decision::Named(a.clone())));
        assert_eq!(decide(Some(Some(a.clone())), Some(Some(a.clone())), None), Ok(Decision::Named(a.clone())));
        assert_eq!(decide(Some(Some(a.clone())), Some(Some(b.clone())), None), Err(Code::TenantConflict));
        assert_eq!(decide(Some(Some(a.clone())), None, Some(b.id)), Err(Code::TokenTenantMismatch));
        assert_eq!(decide(Some(None), None, None), Err(Code::TenantNotFound));
        assert_eq!(decide(None, Some(None), Some(a.id)), Err(Code::TenantNotFound));
        assert_eq!(decide(None, None, Some(a.id)), Ok(Decision::TokenOnly(a.id)));
        assert_eq!(decide(None, None, None), Ok(Decision::NoTenant));
    }

    #[test]
    fn only_active_tenants_are_admitted() {
        let mut t = (*tenant("a")).clone();
        t.status = TenantStatus::Suspended;
        assert_eq!(admit(Arc::new(t.clone())), Err(Code::TenantSuspended));
        t.status = TenantStatus::Deleted;
        assert_eq!(admit(Arc::new(t)), Err(Code::TenantNotFound));
    }
}
