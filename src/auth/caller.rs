//! Who is calling: the caller behind a verified access token. A tenant user or platform admin
//! must still exist and be active, with sessions not ended since the token was issued, and acts
//! with their current role (not the token's). The HTTP edge turns this into handler arguments (`http::extract`).

use uuid::Uuid;

use super::{Claims, Role, members::Members};
use crate::error::{Code, Error};

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub id: Uuid,
    /// The caller's tenant; `None` for platform admins.
    pub tenant_id: Option<Uuid>,
    pub role: Role,
}

impl Caller {
    pub fn is_platform_admin(&self) -> bool {
        self.role == Role::PlatformAdmin
    }
}

/// 401 `invalid_token`: the token is bad, expired, or no longer speaks for its user.
pub fn invalid_token() -> Error {
    Error::new(Code::InvalidToken, "The access token is invalid or expired.")
}

/// The caller a verified token speaks for, checked against the account's current state: a
/// tenant user or platform admin that still exists, is active and is at the token's session
/// epoch, with their current role.
pub async fn caller_for(claims: &Claims, members: &Members) -> Result<Caller, Error> {
    match members.get(claims.tid, claims.sub).await? {
        Some(member) if member.accepts_token_of_epoch(claims.sep) => {
            Ok(Caller { id: claims.sub, tenant_id: claims.tid, role: member.role })
        }
        _ => Err(invalid_token()),
    }
}
