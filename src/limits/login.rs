//! Login and refresh attempts (SECURITY.md item 17), far stricter than the request limits:
//! per client IP and tenant (`TB_LOGIN_ATTEMPTS_PER_IP`), per client IP
//! across every tenant (`TB_LOGIN_ATTEMPTS_PER_IP_ALL_TENANTS`), and per account
//! (`TB_LOGIN_ATTEMPTS_PER_ACCOUNT`).
//!
//! Memory stays bounded whatever the input: keys are fixed-size (an account is keyed by a hash
//! of its tenant and email, never by the text a client sent), an account key is made only for a
//! well-formed email once the IP budgets allowed the attempt, and keys idle for a minute are
//! pruned.

use std::{net::IpAddr, num::NonZeroU32, sync::Arc, time::Duration};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::Error;

/// The budgets, in attempts per minute (each also the burst).
#[derive(Debug, Clone, Copy)]
pub struct LoginLimits {
    pub per_ip: u32,
    pub per_ip_all_tenants: u32,
    pub per_account: u32,
}

/// Limits credential attempts.
#[derive(Clone)]
pub struct LoginLimiter {
    /// `(tenant, ip)`; the platform is tenant `None`.
    per_ip: Arc<DefaultKeyedRateLimiter<(Option<Uuid>, IpAddr)>>,
    per_ip_all_tenants: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    /// SHA-256 of the tenant and the normalised email.
    per_account: Arc<DefaultKeyedRateLimiter<[u8; 32]>>,
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
}

impl LoginLimiter {
    /// A limiter with its pruning task on the current tokio runtime.
    pub fn start(limits: LoginLimits) -> Self {
        let limiter = LoginLimiter {
            per_ip: Arc::new(RateLimiter::keyed(per_minute(limits.per_ip))),
            per_ip_all_tenants: Arc::new(RateLimiter::keyed(per_minute(limits.per_ip_all_tenants))),
            per_account: Arc::new(RateLimiter::keyed(per_minute(limits.per_account))),
        };
        let weak = (
            Arc::downgrade(&limiter.per_ip),
            Arc::downgrade(&limiter.per_ip_all_tenants),
            Arc::downgrade(&limiter.per_account),
        );
        tokio::spawn(async move {
            let mut every_minute = tokio::time::interval(Duration::from_secs(60));
            loop {
                every_minute.tick().await;
                let (Some(per_ip), Some(all), Some(per_account)) =
                    (weak.0.upgrade(), weak.1.upgrade(), weak.2.upgrade())
                else {
                    return;
                };
                per_ip.retain_recent();
                all.retain_recent();
                per_account.retain_recent();
            }
        });
        limiter
    }

    /// Counts one attempt from `ip` on `tenant` (`None`: the platform); 429 `rate_limited` when
    /// the client is over either of its budgets.
    pub fn check_client(&self, tenant: Option<Uuid>, ip: Option<IpAddr>) -> Result<(), Error> {
        let Some(ip) = ip else { return Ok(()) };
        self.per_ip_all_tenants.check_key(&ip).map_err(|n| limited(&n))?;
        self.per_ip.check_key(&(tenant, ip)).map_err(|n| limited(&n))
    }

    /// Counts one attempt on the account with this (validated, normalised) email; 429 when it
    /// is over its budget.
    pub fn check_account(&self, tenant: Option<Uuid>, email: &str) -> Result<(), Error> {
        let mut hasher = Sha256::new();
        hasher.update(tenant.unwrap_or_default().as_bytes());
        hasher.update(email.as_bytes());
        self.per_account.check_key(&hasher.finalize().into()).map_err(|n| limited(&n))
    }

    /// How many keys the limiters hold (for tests of their bound).
    pub fn len(&self) -> usize {
        self.per_ip.len() + self.per_ip_all_tenants.len() + self.per_account.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

type Instant = <governor::clock::DefaultClock as Clock>::Instant;

fn limited(not_until: &governor::NotUntil<Instant>) -> Error {
    let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
    Error::RateLimited { retry_after: wait.as_secs() + 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_ip_cycling_tenants_runs_out_of_its_total_budget() {
        let limiter = LoginLimiter::start(LoginLimits { per_ip: 3, per_ip_all_tenants: 5, per_account: 3 });
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        let outcomes: Vec<bool> =
            (0..8).map(|_| limiter.check_client(Some(Uuid::now_v7()), Some(ip)).is_ok()).collect();
        assert_eq!(outcomes, [true, true, true, true, true, false, false, false]);
        let other: IpAddr = "203.0.113.10".parse().unwrap();
        assert!(limiter.check_client(Some(Uuid::now_v7()), Some(other)).is_ok());
    }

    #[tokio::test]
    async fn account_keys_are_fixed_size_whatever_was_sent() {
        let limiter = LoginLimiter::start(LoginLimits { per_ip: 3, per_ip_all_tenants: 5, per_account: 1 });
        let tenant = Some(Uuid::now_v7());
        assert!(limiter.check_account(tenant, "a@b.io").is_ok());
        assert!(limiter.check_account(tenant, "a@b.io").is_err());
        assert!(limiter.check_account(None, "a@b.io").is_ok(), "the same email of the platform is another account");
        assert_eq!(limiter.len(), 2);
    }
}
