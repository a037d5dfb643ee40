//! The plan's request quotas (API.md "Rate limits"): per tenant, so one tenant cannot starve the
//! others, and per caller inside it (a user, or the client IP when anonymous).
//!
//! A quota is the plan's promise for the whole deployment, not per process: each of the N live
//! instances enforces `quota / N` (GCRA, governor), so N instances behind a load balancer let
//! through about the quota together. N comes from the instances' heartbeats ([`Instances`]), so
//! the shares grow within seconds when an instance stops and shrink when one joins.
//!
//! Memory stays bounded: keys are fixed-size (tenant ids, user ids, IP addresses), and every ten
//! seconds the keys whose budget has refilled are dropped, so the number of keys is bounded by
//! the request rate, not by how many distinct clients ever appeared.

use std::{
    collections::HashMap,
    fmt::Write,
    hash::Hash,
    net::IpAddr,
    num::NonZeroU32,
    sync::{
        Arc, RwLock,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use governor::{
    NotUntil, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
    middleware::{StateInformationMiddleware, StateSnapshot},
    state::keyed::DefaultKeyedStateStore,
};
use uuid::Uuid;

use crate::config::PlanRates;

/// Every quota is per minute.
pub const WINDOW_SECONDS: u64 = 60;
/// How often refilled keys are dropped.
const PRUNE_EVERY: Duration = Duration::from_secs(10);

/// How many instances are live (at least 1), shared by the heartbeat that counts them and the
/// limiter that divides quotas by it.
#[derive(Clone, Debug)]
pub struct Instances(Arc<AtomicU32>);

impl Default for Instances {
    fn default() -> Self {
        Instances(Arc::new(AtomicU32::new(1)))
    }
}

impl Instances {
    pub fn live(&self) -> u32 {
        self.0.load(Ordering::Relaxed).max(1)
    }

    pub fn set_live(&self, live: u32) {
        self.0.store(live.max(1), Ordering::Relaxed);
    }
}

/// Who a request counts against inside its tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallerKey {
    User(Uuid),
    Ip(IpAddr),
    /// No token and no known address (never over a socket; in-process calls only).
    Unknown,
}

/// One policy's state after a request: the plan's quota, what remains of it, and the seconds
/// until it is whole again (`RateLimit`'s `r` and `t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyState {
    pub name: &'static str,
    pub quota: u32,
    pub remaining: u32,
    pub reset: u64,
}

/// What the limiter decided about one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub policies: Vec<PolicyState>,
    /// Set when the request is over a quota: whole seconds until it may be retried (at least 1).
    pub retry_after: Option<u64>,
}

impl Decision {
    /// `RateLimit-Policy`: every policy that applies, e.g. `"tenant";q=1200;w=60, "caller";q=300;w=60`.
    pub fn policy_header(&self) -> String {
        let mut header = String::with_capacity(24 * self.policies.len());
        for (i, p) in self.policies.iter().enumerate() {
            let separator = if i == 0 { "" } else { ", " };
            let _ = write!(header, "{separator}\"{}\";q={};w={WINDOW_SECONDS}", p.name, p.quota);
        }
        header
    }

    /// `RateLimit`: the policy closest to its limit, e.g. `"caller";r=42;t=12`.
    pub fn state_header(&self) -> Option<String> {
        let closest = self.policies.iter().min_by(|a, b| {
            // a.remaining / a.quota < b.remaining / b.quota, without floats
            (u64::from(a.remaining) * u64::from(b.quota)).cmp(&(u64::from(b.remaining) * u64::from(a.quota)))
        })?;
        Some(format!("\"{}\";r={};t={}", closest.name, closest.remaining, closest.reset))
    }
}

type Limiter<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock, StateInformationMiddleware>;

/// Keyed limiters, one per per-instance quota in use (governor's quota is per limiter).
struct Keyed<K: Hash + Eq + Clone> {
    by_quota: RwLock<HashMap<u32, Arc<Limiter<K>>>>,
}

impl<K: Hash + Eq + Clone> Keyed<K> {
    fn new() -> Self {
        Keyed { by_quota: RwLock::new(HashMap::new()) }
    }

    fn limiter(&self, per_minute: u32) -> Arc<Limiter<K>> {
        if let Some(limiter) = self.by_quota.read().ok().and_then(|map| map.get(&per_minute).cloned()) {
            return limiter;
        }
        let burst = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        let limiter = Arc::new(RateLimiter::dashmap(Quota::per_minute(burst)).with_middleware());
        match self.by_quota.write() {
            Ok(mut map) => map.entry(per_minute).or_insert(limiter).clone(),
            Err(_) => limiter,
        }
    }

    fn check(&self, per_minute: u32, key: &K) -> Result<StateSnapshot, NotUntil<<DefaultClock as Clock>::Instant>> {
        self.limiter(per_minute).check_key(key)
    }

    /// Drops refilled keys, and the limiters of quotas no key uses any more.
    fn prune(&self) {
        if let Ok(mut map) = self.by_quota.write() {
            map.retain(|_, limiter| {
                limiter.retain_recent();
                limiter.shrink_to_fit();
                !limiter.is_empty()
            });
        }
    }

    fn len(&self) -> usize {
        self.by_quota.read().map(|map| map.values().map(|l| l.len()).sum()).unwrap_or_default()
    }
}

/// The plan's request quotas of every tenant and caller.
#[derive(Clone)]
pub struct RequestLimiter(Arc<Shared>);

struct Shared {
    tenants: Keyed<Uuid>,
    callers: Keyed<(Uuid, CallerKey)>,
    instances: Instances,
}

/// This instance's share of `quota` among `live` instances (rounded, at least 1).
fn share(quota: u32, live: u32) -> u32 {
    ((u64::from(quota) + u64::from(live) / 2) / u64::from(live)).max(1) as u32
}

impl RequestLimiter {
    /// A limiter with its pruning task on the current tokio runtime.
    pub fn start(instances: Instances) -> Self {
        let limiter = RequestLimiter(Arc::new(Shared { tenants: Keyed::new(), callers: Keyed::new(), instances }));
        let weak = Arc::downgrade(&limiter.0);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(PRUNE_EVERY);
            loop {
                every.tick().await;
                let Some(shared) = weak.upgrade() else { return };
                shared.tenants.prune();
                shared.callers.prune();
            }
        });
        limiter
    }

    /// Counts one request of `caller` on `tenant` against the rates: the caller's quota first
    /// (a caller over its own quota does not use up its tenant's), then the tenant's.
    pub fn check(&self, tenant: Uuid, caller: CallerKey, rates: PlanRates) -> Decision {
        let live = self.0.instances.live();
        let caller_share = share(rates.caller_per_minute, live);
        let tenant_share = share(rates.tenant_per_minute, live);
        let caller_state = self.0.callers.check(caller_share, &(tenant, caller));
        let tenant_state = match &caller_state {
            Ok(_) => Some(self.0.tenants.check(tenant_share, &tenant)),
            Err(_) => None,
        };
        let now = DefaultClock::default().now();
        let mut retry_after = None;
        let mut state = |name, quota, outcome: &Result<StateSnapshot, NotUntil<_>>| match outcome {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                let used = snapshot.quota().burst_size().get().saturating_sub(remaining);
                let reset = snapshot.quota().replenish_interval() * used;
                PolicyState {
                    name,
                    quota,
                    remaining: remaining.saturating_mul(live).min(quota),
                    reset: reset.as_secs_f64().ceil() as u64,
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(now).as_secs_f64().ceil().max(1.0) as u64;
                retry_after = Some(retry_after.map_or(wait, |w: u64| w.max(wait)));
                PolicyState { name, quota, remaining: 0, reset: wait }
            }
        };
        let caller = state("caller", rates.caller_per_minute, &caller_state);
        // Not counted when the caller was refused: its state is not known, only its quota.
        let tenant = match &tenant_state {
            Some(outcome) => state("tenant", rates.tenant_per_minute, outcome),
            None => PolicyState {
                name: "tenant",
                quota: rates.tenant_per_minute,
                remaining: rates.tenant_per_minute,
                reset: 0,
            },
        };
        Decision { policies: vec![tenant, caller], retry_after }
    }

    /// How many keys the limiters hold (for tests of their bound).
    pub fn len(&self) -> usize {
        self.0.tenants.len() + self.0.callers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops refilled keys now (the pruning task does it every ten seconds).
    pub fn prune(&self) {
        self.0.tenants.prune();
        self.0.callers.prune();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATES: PlanRates = PlanRates { tenant_per_minute: 10, caller_per_minute: 4 };

    #[tokio::test]
    async fn a_caller_runs_out_before_its_tenant_and_does_not_use_the_tenants_quota() {
        let limiter = RequestLimiter::start(Instances::default());
        let (tenant, user) = (Uuid::now_v7(), CallerKey::User(Uuid::now_v7()));
        let outcomes: Vec<bool> = (0..6).map(|_| limiter.check(tenant, user, RATES).retry_after.is_none()).collect();
        assert_eq!(outcomes, [true, true, true, true, false, false]);
        let refused = limiter.check(tenant, user, RATES);
        assert_eq!(refused.state_header().unwrap(), format!("\"caller\";r=0;t={}", refused.retry_after.unwrap()));
        assert_eq!(refused.policy_header(), "\"tenant\";q=10;w=60, \"caller\";q=4;w=60");
        // Four of the tenant's ten were used; six more callers' worth remain.
        let other = limiter.check(tenant, CallerKey::Ip("203.0.113.1".parse().unwrap()), RATES);
        assert_eq!(other.policies[0].remaining, 5);
        assert_eq!(other.policies[1].remaining, 3);
        assert_eq!(other.state_header().unwrap(), "\"tenant\";r=5;t=30");
    }

    #[tokio::test]
    async fn each_of_n_instances_enforces_its_share() {
        let instances = Instances::default();
        instances.set_live(2);
        let limiter = RequestLimiter::start(instances.clone());
        let tenant = Uuid::now_v7();
        let rates = PlanRates { tenant_per_minute: 10, caller_per_minute: 100 };
        let passed = (0..20)
            .filter(|i| limiter.check(tenant, CallerKey::Ip([10, 0, 0, *i as u8].into()), rates).retry_after.is_none())
            .count();
        assert_eq!(passed, 5, "half of the tenant's quota on each of two instances");
        instances.set_live(1);
        let passed = (0..20)
            .filter(|i| limiter.check(tenant, CallerKey::Ip([10, 0, 1, *i as u8].into()), rates).retry_after.is_none())
            .count();
        assert_eq!(passed, 10, "the whole quota once the other instance is gone");
    }

    #[tokio::test]
    async fn memory_stays_bounded_under_a_hundred_thousand_distinct_clients() {
        let limiter = RequestLimiter::start(Instances::default());
        let tenant = Uuid::now_v7();
        // 6,000 a minute: a key refills 10 ms after its one request.
        let rates = PlanRates { tenant_per_minute: 1_000_000, caller_per_minute: 6_000 };
        for round in 0..10u32 {
            for i in 0..10_000u32 {
                let ip = IpAddr::from((round * 10_000 + i).to_be_bytes());
                assert!(limiter.check(tenant, CallerKey::Ip(ip), rates).retry_after.is_none());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            limiter.prune();
            assert!(limiter.len() <= 1, "round {round}: {} keys kept", limiter.len());
        }
    }

    #[test]
    fn shares_round_and_never_reach_zero() {
        assert_eq!(share(600, 1), 600);
        assert_eq!(share(600, 3), 200);
        assert_eq!(share(10, 3), 3);
        assert_eq!(share(11, 2), 6);
        assert_eq!(share(1, 5), 1);
    }
}
