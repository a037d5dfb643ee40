//! `bookmarks`: an extension written outside tenantbase, the way a user writes one. It depends
//! on `tenantbase` as a library and adds
//!
//! - a filter hook on `bookmarks.items.create` and `.update` that accepts only `http(s)` URLs and
//!   derives the `domain` field from the URL's host (lower-cased);
//! - a custom route, `GET /api/ext/bookmarks/domains`, that counts the caller's tenant's
//!   bookmarks per domain. Its [`TenantContext`] offers only that tenant's items.
//!
//! A tenant uses it with a collection `bookmarks` that has a `url` string and a `domain` string,
//! and can switch the hook off with settings `{"extensions": {"bookmarks": false}}`.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};
use tenantbase::{
    auth::roles::Member,
    error::Error,
    hooks::{HookError, HookResult, Hooks, ListParams, Register},
    http::extract::TenantContext,
};

pub const EXTENSION: &str = "bookmarks";
/// Where the summary route is mounted; routes under `/api/` get tenant resolution and tokens.
pub const DOMAINS_ROUTE: &str = "/api/ext/bookmarks/domains";

/// Registers the hook and the route.
pub fn register(hooks: &mut Hooks) {
    hooks
        .extension(EXTENSION, true)
        .filter("bookmarks.items.create", |_, item| Box::pin(async move { with_domain(item) }))
        .filter("bookmarks.items.update", |_, patch| Box::pin(async move { with_domain(patch) }));
    hooks.routes(|cfg| {
        cfg.route(DOMAINS_ROUTE, web::get().to(domains));
    });
}

/// Sets `domain` from a given `url`, refusing URLs that are not `http(s)://host…`.
fn with_domain(mut item: Value) -> HookResult<Value> {
    let Some(url) = item.get("url").and_then(Value::as_str) else { return Ok(item) };
    let domain = host_of(url).ok_or_else(|| HookError::invalid("invalid_url", "A bookmark needs an http(s) URL."))?;
    item["domain"] = domain.into();
    Ok(item)
}

/// The lower-cased host of an `http://` or `https://` URL (without port or credentials).
pub fn host_of(url: &str) -> Option<String> {
    let lower = url.trim().to_ascii_lowercase();
    let rest = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://"))?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?.split(':').next()?;
    let valid = !host.is_empty() && host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    valid.then(|| host.to_string())
}

/// `GET /api/ext/bookmarks/domains`: `{"data": {"total", "domains": {domain: count}}}` over the
/// caller's tenant's bookmarks (any member).
async fn domains(ctx: TenantContext<Member>) -> Result<HttpResponse, Error> {
    let params = ListParams { limit: Some(1000), fields: Some("domain".into()), ..ListParams::default() };
    let bookmarks = ctx.items("bookmarks").list(params).await?;
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for bookmark in &bookmarks {
        if let Some(domain) = bookmark["domain"].as_str() {
            *counts.entry(domain.to_string()).or_default() += 1;
        }
    }
    Ok(HttpResponse::Ok().json(json!({"data": {"total": bookmarks.len(), "domains": counts}})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_come_from_http_urls_only() {
        assert_eq!(host_of("https://Example.COM/a?b").as_deref(), Some("example.com"));
        assert_eq!(host_of("http://user@rust-lang.org:8080").as_deref(), Some("rust-lang.org"));
        for bad in ["ftp://example.com", "example.com", "https://", "https://exa mple.com", "javascript:alert(1)"] {
            assert_eq!(host_of(bad), None, "{bad}");
        }
    }
}
