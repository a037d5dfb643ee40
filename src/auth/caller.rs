//! Who is calling: the caller behind a verified access token. A tenant user must still be
//! active, with sessions not ended since the token was issued, and acts with their current role
//! (not the token's). The HTTP edge turns this into handler arguments (`http::extract`).

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

/// The caller a verified token speaks for, checked against the user's current state.
pub async fn caller_for(claims: &Claims, members: &Members) -> Result<Caller, Error> {
    let Some(tenant) = claims.tid else {
        return Ok(Caller { id: claims.sub, tenant_id: None, role: claims.role });
    };
    match members.get(tenant, claims.sub).await? {
        Some(member) if member.accepts_token_issued_at(claims.iat) => {
            Ok(Caller { id: claims.sub, tenant_id: Some(tenant), role: member.role })
        }
        _ => Err(invalid_token()),
    }
}
