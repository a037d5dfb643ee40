//! Request limits, the query cache and usage accounting (`TB_RATE_LIMIT_*`, `TB_CACHE*`,
//! `TB_USAGE_FLUSH_SECONDS`): what each plan may send per minute, and how much this instance
//! may remember of answers it gave.

use std::time::Duration;

use super::{ConfigError, invalid, parse_flag, parse_number};

/// The variables this file reads, for the list of known ones.
pub(super) const VARS: &[&str] = &[
    "TB_RATE_LIMITS",
    "TB_RATE_LIMIT_TENANT_FREE",
    "TB_RATE_LIMIT_TENANT_PRO",
    "TB_RATE_LIMIT_TENANT_ENTERPRISE",
    "TB_RATE_LIMIT_CALLER_FREE",
    "TB_RATE_LIMIT_CALLER_PRO",
    "TB_RATE_LIMIT_CALLER_ENTERPRISE",
    "TB_CACHE",
    "TB_CACHE_MAX_BYTES",
    "TB_CACHE_TTL_SECONDS",
    "TB_USAGE_FLUSH_SECONDS",
];

/// Requests per minute one plan allows: a tenant in all, and each caller of it (a user, or a
/// client IP when anonymous). Each is also the burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanRates {
    pub tenant_per_minute: u32,
    pub caller_per_minute: u32,
}

/// The request limits.
#[derive(Debug, Clone)]
pub struct RateLimitConfig {
    /// `TB_RATE_LIMITS`: `false` switches request limits off (login limits stay). Default on.
    pub enabled: bool,
    /// `TB_RATE_LIMIT_{TENANT,CALLER}_{FREE,PRO,ENTERPRISE}`, in `Plan::ALL`'s order. Defaults:
    /// free 1,200 / 300, pro 12,000 / 3,000, enterprise 120,000 / 30,000 per minute.
    pub plans: [PlanRates; 3],
}

impl RateLimitConfig {
    /// The rates of the plan named `plan`; unknown names get free's.
    pub fn plan(&self, plan: &str) -> PlanRates {
        match plan {
            "pro" => self.plans[1],
            "enterprise" => self.plans[2],
            _ => self.plans[0],
        }
    }
}

/// The query cache.
#[derive(Debug, Clone)]
pub struct CacheConfig {
    /// `TB_CACHE`: `false` switches the item query cache off. Default on.
    pub enabled: bool,
    /// `TB_CACHE_MAX_BYTES`: the most the cached answers may weigh together. Default 32 MiB.
    pub max_bytes: u64,
    /// `TB_CACHE_TTL_SECONDS`: how long an answer may be kept at most (invalidation is
    /// explicit; this is a safety net). Default 300.
    pub ttl: Duration,
}

pub(super) fn rate_limits(get: &impl Fn(&str) -> Option<String>) -> Result<RateLimitConfig, ConfigError> {
    let plan = |tenant: &'static str, caller: &'static str, defaults: (u32, u32)| -> Result<PlanRates, ConfigError> {
        let rates = PlanRates {
            tenant_per_minute: parse_number(get, tenant, defaults.0)?,
            caller_per_minute: parse_number(get, caller, defaults.1)?,
        };
        if rates.tenant_per_minute == 0 || rates.caller_per_minute == 0 {
            return Err(invalid(
                tenant,
                "rates must be at least 1 per minute (switch limits off with TB_RATE_LIMITS=false)",
            ));
        }
        Ok(rates)
    };
    Ok(RateLimitConfig {
        enabled: parse_flag(get, "TB_RATE_LIMITS", true)?,
        plans: [
            plan("TB_RATE_LIMIT_TENANT_FREE", "TB_RATE_LIMIT_CALLER_FREE", (1_200, 300))?,
            plan("TB_RATE_LIMIT_TENANT_PRO", "TB_RATE_LIMIT_CALLER_PRO", (12_000, 3_000))?,
            plan("TB_RATE_LIMIT_TENANT_ENTERPRISE", "TB_RATE_LIMIT_CALLER_ENTERPRISE", (120_000, 30_000))?,
        ],
    })
}

pub(super) fn cache(get: &impl Fn(&str) -> Option<String>) -> Result<CacheConfig, ConfigError> {
    Ok(CacheConfig {
        enabled: parse_flag(get, "TB_CACHE", true)?,
        max_bytes: parse_number(get, "TB_CACHE_MAX_BYTES", 32 * 1024 * 1024)?,
        ttl: Duration::from_secs(parse_number(get, "TB_CACHE_TTL_SECONDS", 300)?.max(1)),
    })
}

pub(super) fn usage_flush(get: &impl Fn(&str) -> Option<String>) -> Result<Duration, ConfigError> {
    Ok(Duration::from_secs(parse_number(get, "TB_USAGE_FLUSH_SECONDS", 10)?.max(1)))
}
