//! Request bodies and filters of the tenant routes.

use secrecy::SecretString;
use serde::Deserialize;

use crate::tenancy::TenantStatus;

/// `POST /api/tenants`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    pub slug: String,
    pub name: String,
    pub plan: Option<String>,
    pub domains: Option<Vec<String>>,
    #[schema(value_type = Option<Object>)]
    pub settings: Option<serde_json::Value>,
    /// The tenant's first user, created with the `admin` role.
    pub admin: Option<NewAdmin>,
}

/// The first admin user of a new tenant.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAdmin {
    pub email: String,
    #[schema(value_type = String, format = Password)]
    pub password: SecretString,
}

/// `PATCH /api/tenants/{id}`: only the fields present change; `domains` replaces the list.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantPatch {
    pub name: Option<String>,
    pub plan: Option<String>,
    pub domains: Option<Vec<String>>,
    /// `{"tenant_per_minute"?, "caller_per_minute"?}` replaces the override of the plan's
    /// request rates; `{}` returns to the plan's.
    pub rate_limits: Option<crate::tenancy::RateLimitOverride>,
}

/// Filters of `GET /api/tenants`.
#[derive(Debug, Default)]
pub struct TenantFilter {
    pub status: Option<TenantStatus>,
    /// Case-insensitive substring of slug or name.
    pub q: Option<String>,
}
