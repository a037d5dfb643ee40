//! Naming rules for tenants: slugs and custom domains (API.md "Tenant resolution").

use crate::error::FieldError;

/// Slugs that would shadow the platform's own hosts.
pub const RESERVED_SLUGS: &[&str] = &[
    "www",
    "api",
    "admin",
    "app",
    "static",
    "assets",
    "mail",
    "platform",
    "docs",
    "status",
    "auth",
    "login",
    "dashboard",
    "cdn",
    "ftp",
    "smtp",
    "imap",
    "pop",
    "ns1",
    "ns2",
    "dev",
    "staging",
    "test",
    "internal",
    "metrics",
    "health",
    "support",
    "help",
    "billing",
    "blog",
    "root",
    "system",
    "tenantbase",
];

/// `^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`: a DNS label, lower case.
pub fn is_valid_slug(slug: &str) -> bool {
    let bytes = slug.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

/// Checks a slug for creation: syntax first, then the reserved words.
pub fn check_slug(field: &str, slug: &str) -> Option<FieldError> {
    if !is_valid_slug(slug) {
        return Some(FieldError::new(
            field,
            "invalid",
            "must be 1-63 lower-case letters, digits or hyphens, not starting or ending with a hyphen",
        ));
    }
    if RESERVED_SLUGS.contains(&slug) {
        return Some(FieldError::new(field, "reserved", format!("`{slug}` is reserved")));
    }
    None
}

/// Normalises a custom domain (lower case, no trailing dot) and checks its syntax: at least two
/// labels, each a valid DNS label, at most 253 characters, not an IP address, and not under the
/// platform's own base domain (those hosts are tenant subdomains).
pub fn normalize_domain(field: &str, raw: &str, base_domain: &str) -> Result<String, FieldError> {
    let domain = raw.trim().trim_end_matches('.').to_ascii_lowercase();
    let invalid = |message: &str| FieldError::new(field, "invalid", message);
    if domain.len() > 253 || domain.is_empty() {
        return Err(invalid("must be a domain name of at most 253 characters"));
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if labels.len() < 2 || !labels.iter().all(label_ok) {
        return Err(invalid("must be a fully qualified domain name such as app.example.com"));
    }
    if labels.last().is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit())) {
        return Err(invalid("must be a domain name, not an IP address"));
    }
    if domain == base_domain || domain.ends_with(&format!(".{base_domain}")) {
        return Err(invalid("must not be under the platform's base domain"));
    }
    Ok(domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_follow_the_dns_label_rule() {
        for ok in ["a", "acme", "acme-2", "0x", &"a".repeat(63)] {
            assert!(is_valid_slug(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "Acme", "a_b", "a.b", "é", &"a".repeat(64)] {
            assert!(!is_valid_slug(bad), "{bad}");
        }
    }

    #[test]
    fn reserved_slugs_are_refused() {
        assert_eq!(check_slug("slug", "www").map(|e| e.code), Some("reserved"));
        assert_eq!(check_slug("slug", "acme"), None);
    }

    #[test]
    fn domains_are_normalized_and_checked() {
        assert_eq!(normalize_domain("d", "App.Example.COM.", "localhost").unwrap(), "app.example.com");
        for bad in ["localhost", "1.2.3.4", "a..b", "-a.com", "acme.localhost", "a b.com", ""] {
            assert!(normalize_domain("d", bad, "localhost").is_err(), "{bad}");
        }
    }
}
