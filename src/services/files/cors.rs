//! The bucket's CORS rules, kept in step with the origins tenants' frontends run on: the
//! configured patterns (`https://*.{TB_BASE_DOMAIN}` by default) and every custom domain, so a
//! browser on a tenant's origin can PUT to its presigned URLs and one on any other origin cannot.
#![allow(clippy::disallowed_methods, reason = "custom domains are read from the platform's domain table")]

use sea_orm::EntityTrait;

use crate::{entities::tenant_domain, error::Result, hooks::Runtime};

/// S3 takes at most 100 rules of at most 64 KB together; one rule with this many origins stays
/// well inside that. Beyond it, custom domains past the limit are left out (and logged).
const MAX_ORIGINS: usize = 1000;

/// The origins the bucket allows: the patterns, then `https://{domain}` for each custom domain.
pub(crate) async fn origins(runtime: &Runtime) -> Result<Vec<String>> {
    let mut origins = runtime.files().rules().cors_origins.clone();
    let domains = tenant_domain::Entity::find().all(runtime.db().platform_conn()).await?;
    origins.extend(domains.into_iter().map(|d| format!("https://{}", d.domain)));
    origins.sort();
    origins.dedup();
    if origins.len() > MAX_ORIGINS {
        tracing::warn!(origins = origins.len(), "too many custom domains for the bucket's CORS rule; some left out");
        origins.truncate(MAX_ORIGINS);
    }
    Ok(origins)
}

/// Writes the bucket's CORS rule, unless storage is unconfigured or `TB_S3_MANAGE_CORS=false`.
pub async fn sync_bucket_cors(runtime: &Runtime) -> Result<()> {
    let Some(storage) = runtime.files().configured() else { return Ok(()) };
    if !runtime.files().manages_cors() {
        return Ok(());
    }
    let origins = origins(runtime).await?;
    storage.set_cors(&origins).await?;
    tracing::debug!(origins = origins.len(), "bucket CORS rules set");
    Ok(())
}
