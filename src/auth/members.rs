//! What each request must know about the caller beyond their token: the account still exists
//! and is active, its current role, and its session epoch, which every token carries and which
//! ends every earlier token when it moves on (disabled, new password or role: exact, however
//! close in time). Cached per instance and dropped the moment the account changes, here and on
//! every other instance, so a disabled user's or removed platform admin's token is refused on
//! its next use.
#![allow(clippy::disallowed_methods, reason = "platform_admins is a platform table")]

use std::{sync::Arc, time::Duration};

use sea_orm::{ColumnTrait, EntityTrait};
use uuid::Uuid;

use super::Role;
use crate::{
    cache::InvalidatingCache,
    db::{Change, Notice, PlatformDb},
    entities::{platform_admin, user},
    error::Result,
};

/// Where platform admins' state (and sessions) are kept: a tenant id no tenant can have.
pub const PLATFORM: Uuid = Uuid::nil();

/// An account as request checks see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberState {
    pub role: Role,
    pub active: bool,
    /// The epoch a token must carry to speak for this account.
    pub session_epoch: i64,
}

impl MemberState {
    /// Whether an access token issued at session epoch `epoch` still speaks for this account.
    pub fn accepts_token_of_epoch(&self, epoch: u64) -> bool {
        self.active && i64::try_from(epoch).is_ok_and(|epoch| epoch == self.session_epoch)
    }
}

/// Accounts by `(tenant_id, user_id)`; platform admins under [`PLATFORM`].
pub type MemberCache = InvalidatingCache<(Uuid, Uuid), MemberState>;

pub fn member_cache(capacity: u64) -> MemberCache {
    InvalidatingCache::new(capacity, Duration::from_secs(600), |(tenant, _), _| Some(*tenant))
}

impl MemberCache {
    pub fn invalidate_member(&self, tenant_id: Uuid, user_id: Uuid) {
        self.invalidate_key(tenant_id, &(tenant_id, user_id));
    }

    pub fn invalidate_tenant(&self, tenant_id: Uuid) {
        self.invalidate_tenant_if(tenant_id, false, move |(tenant, _), _| *tenant == tenant_id);
    }

    /// Drops what a change made stale.
    pub fn on_change(&self, notice: &Notice) {
        match notice {
            Notice::Changed(Change::Tenant(id)) => self.invalidate_tenant(*id),
            Notice::Changed(Change::Member { tenant, user }) => self.invalidate_member(*tenant, *user),
            Notice::Changed(Change::Collections(_) | Change::Items { .. }) => {}
            Notice::Reset => self.clear(),
            Notice::Listening(listening) => self.set_trusted(*listening),
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

    /// The state of user `user_id` of `tenant_id` (of platform admin `user_id` with `None`);
    /// `None` when the account no longer exists.
    pub async fn get(&self, tenant_id: Option<Uuid>, user_id: Uuid) -> Result<Option<Arc<MemberState>>> {
        let key = (tenant_id.unwrap_or(PLATFORM), user_id);
        self.cache.get_or_load(key, || load(&self.db, tenant_id, user_id)).await
    }
}

/// Reads what request checks need about a tenant's user, or a platform admin.
async fn load(db: &PlatformDb, tenant_id: Option<Uuid>, user_id: Uuid) -> Result<Option<MemberState>> {
    let Some(tenant_id) = tenant_id else {
        let admin = platform_admin::Entity::find_by_id(user_id).one(db.platform_conn()).await?;
        return Ok(admin.map(|a| MemberState {
            role: Role::PlatformAdmin,
            active: true,
            session_epoch: a.session_epoch,
        }));
    };
    let txn = db.tenant(tenant_id).read().await?;
    let row = txn.find::<user::Entity>().filter(user::Column::Id.eq(user_id)).one(&txn).await?;
    txn.commit().await?;
    Ok(row.map(|u| MemberState {
        role: Role::parse_tenant_role(&u.role).unwrap_or(Role::Viewer),
        active: u.status == "active",
        session_epoch: u.session_epoch,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_of_another_epoch_are_refused() {
        let member = MemberState { role: Role::Editor, active: true, session_epoch: 3 };
        assert!(!member.accepts_token_of_epoch(2));
        assert!(member.accepts_token_of_epoch(3));
        assert!(!member.accepts_token_of_epoch(4));
        let disabled = MemberState { active: false, ..member };
        assert!(!disabled.accepts_token_of_epoch(3));
    }
}
