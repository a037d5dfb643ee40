//! A validated tenant definition, shared by the API and `tenants apply`: every field checked at
//! once, so a client sees all its mistakes in one 422.

use crate::{
    error::FieldError,
    input::{Checks, check_name, json_problem},
    tenancy::{Plan, validate},
};

/// At most this many custom domains per tenant.
pub const MAX_DOMAINS: usize = 20;

/// A validated tenant definition, shared by the API and `tenants apply`.
#[derive(Debug, Clone)]
pub struct TenantSpec {
    pub slug: String,
    pub name: String,
    pub plan: Plan,
    pub domains: Vec<String>,
    pub settings: serde_json::Value,
}

pub(super) fn check_plan(field: &str, plan: &str) -> Result<Plan, FieldError> {
    Plan::parse(plan).ok_or_else(|| {
        let names: Vec<_> = Plan::ALL.iter().map(|p| p.as_str()).collect();
        FieldError::new(field, "invalid", format!("must be one of {}", names.join(", ")))
    })
}

pub(super) fn check_settings(field: &str, settings: serde_json::Value) -> Result<serde_json::Value, FieldError> {
    if !settings.is_object() {
        return Err(FieldError::new(field, "invalid", "must be a JSON object"));
    }
    if let Some(problem) = json_problem(&settings) {
        return Err(FieldError::new(field, "invalid", problem));
    }
    Ok(settings)
}

pub(super) fn check_domains(checks: &mut Checks, raw: &[String], base_domain: &str) -> Vec<String> {
    if raw.len() > MAX_DOMAINS {
        checks.push(FieldError::new("domains", "too_many", format!("at most {MAX_DOMAINS} domains")));
        return Vec::new();
    }
    let mut domains = Vec::new();
    for (i, domain) in raw.iter().enumerate() {
        if let Some(d) = checks.check(validate::normalize_domain(&format!("domains[{i}]"), domain, base_domain))
            && !domains.contains(&d)
        {
            domains.push(d);
        }
    }
    domains
}

impl TenantSpec {
    /// Validates every field at once, so a client sees all its mistakes in one 422.
    pub fn parse(
        checks: &mut Checks,
        slug: &str,
        name: &str,
        plan: Option<&str>,
        domains: &[String],
        settings: Option<serde_json::Value>,
        base_domain: &str,
    ) -> Option<TenantSpec> {
        let slug_ok = checks.check(validate::check_slug("slug", slug).map_or(Ok(()), Err));
        let name = checks.check(check_name("name", name));
        let plan = checks.check(plan.map_or(Ok(Plan::default()), |p| check_plan("plan", p)));
        let domains = check_domains(checks, domains, base_domain);
        let settings = checks.check(check_settings("settings", settings.unwrap_or_else(|| serde_json::json!({}))));
        Some(TenantSpec {
            slug: slug_ok.map(|_| slug.to_string())?,
            name: name?,
            plan: plan?,
            domains,
            settings: settings?,
        })
    }
}
