//! What each request must know about a tenant user beyond their token: still active, current
//! role, and whether their sessions were ended after the token was issued. Cached per instance
//! and dropped the moment the user changes, so a disabled user's token is refused on its next use.

use std::{sync::Arc, time::Duration};

use sea_orm::ColumnTrait;
use uuid::Uuid;

use super::Role;
use crate::{
    cache::InvalidatingCache,
    db::{Change, Notice, PlatformDb},
    entities::user,
    error::Result,
};

/// A tenant user as request checks see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberState {
    pub role: Role,
    pub active: bool,
    /// Tokens issued before this (unix seconds) are refused.
    pub sessions_valid_after: Option<i64>,
}

impl MemberState {
    /// Whether an access token issued at `issued_at` (unix seconds) still speaks for this user.
    pub fn accepts_token_issued_at(&self, issued_at: u64) -> bool {
        self.active
            && self.sessions_valid_after.is_none_or(|after| i64::try_from(issued_at).is_ok_and(|iat| iat >= after))
    }
}

/// Members by `(tenant_id, user_id)`.
pub type MemberCache = InvalidatingCache<(Uuid, Uuid), MemberState>;

pub fn member_cache(capacity: u64) -> MemberCache {
    InvalidatingCache::new(capacity, Duration::from_secs(600))
}

impl MemberCache {
    pub fn invalidate_member(&self, tenant_id: Uuid, user_id: Uuid) {
        self.invalidate_if(move |key, _| *key == (tenant_id, user_id));
    }

    pub fn invalidate_tenant(&self, tenant_id: Uuid) {
        self.invalidate_if(move |(tenant, _), _| *tenant == tenant_id);
    }

    /// Drops what a change made stale.
    pub fn on_change(&self, notice: Notice) {
        match notice {
            Notice::Changed(Change::Tenant(id)) => self.invalidate_tenant(id),
            Notice::Changed(Change::Member { tenant, user }) => self.invalidate_member(tenant, user),
            Notice::Changed(Change::Collections(_)) => {}
            Notice::Reset => self.clear(),
        }
    }
}

/// Tenant members' request state, from the cache when warm.
#[derive(Clone)]
pub struct Members {
    db: PlatformDb,
    cache: MemberCache,
}

impl Members {
    pub fn new(db: PlatformDb, cache: MemberCache) -> Self {
        Members { db, cache }
    }

    /// The state of user `user_id` of `tenant_id`; `None` when the user no longer exists.
    pub async fn get(&self, tenant_id: Uuid, user_id: Uuid) -> Result<Option<Arc<MemberState>>> {
        self.cache.get_or_load((tenant_id, user_id), || load(&self.db, tenant_id, user_id)).await
    }
}

/// Reads what request checks need about a user from the tenant's users.
async fn load(db: &PlatformDb, tenant_id: Uuid, user_id: Uuid) -> Result<Option<MemberState>> {
    let txn = db.tenant(tenant_id).read().await?;
    let row = txn.find::<user::Entity>().filter(user::Column::Id.eq(user_id)).one(&txn).await?;
    txn.commit().await?;
    Ok(row.map(|u| MemberState {
        role: Role::parse_tenant_role(&u.role).unwrap_or(Role::Viewer),
        active: u.status == "active",
        sessions_valid_after: u.sessions_valid_after.map(|t| t.timestamp()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_from_before_the_sessions_ended_are_refused() {
        let member = MemberState { role: Role::Editor, active: true, sessions_valid_after: Some(100) };
        assert!(!member.accepts_token_issued_at(99));
        assert!(member.accepts_token_issued_at(100));
        let disabled = MemberState { active: false, ..member };
        assert!(!disabled.accepts_token_issued_at(200));
    }
}
