use std::{
    fmt,
    sync::{Arc, OnceLock},
};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::entities::tenant;

/// A tenant organization as the rest of the code sees it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Tenant {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub plan: Plan,
    pub status: TenantStatus,
    /// Custom domains that route to this tenant, in addition to `{slug}.{TB_BASE_DOMAIN}`.
    pub domains: Vec<String>,
    /// Free-form tenant settings (a JSON object).
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
    /// A platform admin's override of the plan's request rates (`{}`: the plan's own).
    pub rate_limits: RateLimitOverride,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// This tenant as JSON, rendered at most once: a loaded tenant never changes (a change loads
    /// a new value), and `GET /api/tenant` is on every page load of a tenant's frontend.
    #[serde(skip)]
    #[schema(ignore)]
    rendered: OnceLock<Arc<str>>,
}

impl Tenant {
    /// The tenant as JSON text.
    pub fn json(&self) -> Result<Arc<str>, serde_json::Error> {
        if let Some(json) = self.rendered.get() {
            return Ok(json.clone());
        }
        let json: Arc<str> = serde_json::to_string(self)?.into();
        Ok(self.rendered.get_or_init(|| json).clone())
    }

    pub(crate) fn from_row(row: tenant::Model, domains: Vec<String>) -> Self {
        Tenant {
            id: row.id,
            slug: row.slug,
            plan: Plan::parse(&row.plan).unwrap_or_default(),
            status: TenantStatus::parse(&row.status),
            name: row.name,
            domains,
            rate_limits: serde_json::from_value(row.rate_limits).unwrap_or_default(),
            settings: row.settings,
            created_at: row.created_at,
            updated_at: row.updated_at,
            rendered: OnceLock::new(),
        }
    }
}

impl Tenant {
    /// The request rates this tenant gets: its plan's, with the platform admin's override.
    pub fn rates(&self, limits: &crate::config::RateLimitConfig) -> crate::config::PlanRates {
        let plan = limits.plan(self.plan.as_str());
        crate::config::PlanRates {
            tenant_per_minute: self.rate_limits.tenant_per_minute.unwrap_or(plan.tenant_per_minute),
            caller_per_minute: self.rate_limits.caller_per_minute.unwrap_or(plan.caller_per_minute),
        }
    }
}

/// Requests per minute a platform admin gave one tenant instead of its plan's; an unset member
/// keeps the plan's rate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_per_minute: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_per_minute: Option<u32>,
}

/// Lifecycle of a tenant. `Deleted` tenants are invisible to the API while they are purged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TenantStatus {
    Active,
    Suspended,
    #[serde(skip)]
    Deleted,
}

impl TenantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TenantStatus::Active => "active",
            TenantStatus::Suspended => "suspended",
            TenantStatus::Deleted => "deleted",
        }
    }

    /// Unknown values read as `Deleted` so that a corrupt row fails closed.
    pub(crate) fn parse(value: &str) -> Self {
        match value {
            "active" => TenantStatus::Active,
            "suspended" => TenantStatus::Suspended,
            _ => TenantStatus::Deleted,
        }
    }
}

/// A tenant's plan; limits (rate, storage, file size) derive from it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Plan {
    #[default]
    Free,
    Pro,
    Enterprise,
}

impl Plan {
    pub const ALL: [Plan; 3] = [Plan::Free, Plan::Pro, Plan::Enterprise];

    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Free => "free",
            Plan::Pro => "pro",
            Plan::Enterprise => "enterprise",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Plan::ALL.into_iter().find(|p| p.as_str() == value)
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
