//! Rate limits. For now: login and refresh attempts, per client IP and per account, keyed by
//! tenant (SECURITY.md item 17), far stricter than anything else will be
//! (`TB_LOGIN_ATTEMPTS_PER_IP`, `TB_LOGIN_ATTEMPTS_PER_ACCOUNT`).

use std::{net::IpAddr, num::NonZeroU32, sync::Arc, time::Duration};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock};
use uuid::Uuid;

use crate::error::Error;

/// Who is trying: the tenant (`None` for the platform), the client, and the account if known.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
enum AttemptKey {
    Ip(Option<Uuid>, IpAddr),
    Account(Option<Uuid>, String),
}

/// Limits credential attempts. Keys are pruned every minute so random keys cannot grow memory.
#[derive(Clone)]
pub struct LoginLimiter {
    per_ip: Arc<DefaultKeyedRateLimiter<AttemptKey>>,
    per_account: Arc<DefaultKeyedRateLimiter<AttemptKey>>,
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
}

impl LoginLimiter {
    /// A limiter allowing this many attempts per minute (and as a burst) per client IP and per
    /// account, with its pruning task on the current tokio runtime.
    pub fn start(per_ip: u32, per_account: u32) -> Self {
        let limiter = LoginLimiter {
            per_ip: Arc::new(RateLimiter::keyed(per_minute(per_ip))),
            per_account: Arc::new(RateLimiter::keyed(per_minute(per_account))),
        };
        let (per_ip, per_account) = (Arc::downgrade(&limiter.per_ip), Arc::downgrade(&limiter.per_account));
        tokio::spawn(async move {
            let mut every_minute = tokio::time::interval(Duration::from_secs(60));
            loop {
                every_minute.tick().await;
                let (Some(per_ip), Some(per_account)) = (per_ip.upgrade(), per_account.upgrade()) else { return };
                per_ip.retain_recent();
                per_account.retain_recent();
            }
        });
        limiter
    }

    /// Counts one attempt; 429 `rate_limited` when the client or the account is over its limit.
    pub fn check(&self, tenant: Option<Uuid>, ip: Option<IpAddr>, account: Option<&str>) -> Result<(), Error> {
        if let Some(ip) = ip {
            self.per_ip.check_key(&AttemptKey::Ip(tenant, ip)).map_err(|n| limited(&n))?;
        }
        if let Some(account) = account {
            let key = AttemptKey::Account(tenant, account.trim().to_lowercase());
            self.per_account.check_key(&key).map_err(|n| limited(&n))?;
        }
        Ok(())
    }
}

type Instant = <governor::clock::DefaultClock as Clock>::Instant;

fn limited(not_until: &governor::NotUntil<Instant>) -> Error {
    let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
    Error::RateLimited { retry_after: wait.as_secs() + 1 }
}
