//! Sessions (API.md "Authentication"): a login starts a family of refresh tokens; each refresh
//! spends the presented token and issues the next; presenting a spent token again means it was
//! stolen or replayed, so the whole family is revoked (SECURITY.md items 11 and 13).

use std::time::Duration;

use chrono::Utc;
use sea_orm::{ActiveValue::Set, ColumnTrait, QuerySelect, sea_query::Expr};
use serde::Serialize;
use uuid::Uuid;

use super::{Env, admins};
use crate::{
    auth::{
        Role,
        session::{SessionScope, hash_refresh_token, new_refresh_token, scope_of},
    },
    db::{TenantDb, TenantTxn, TxnError},
    entities::{session, user},
    error::{Code, Error, Result},
    tenancy::Tenant,
};

/// An access token and the refresh token that renews it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Opaque; spent by `POST /api/auth/refresh`, revoked by `POST /api/auth/logout`.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

/// Platform admins' sessions live under this tenant id, which no tenant can have.
pub const PLATFORM_SESSIONS: Uuid = crate::auth::members::PLATFORM;

fn scope_db(env: &Env, scope: SessionScope) -> TenantDb {
    match scope {
        SessionScope::Tenant(id) => env.db().tenant(id),
        SessionScope::Platform => env.db().tenant(PLATFORM_SESSIONS),
    }
}

fn invalid_refresh_token() -> Error {
    Error::new(Code::InvalidToken, "The refresh token is invalid, expired or revoked.")
}

/// Starts a session family for `user_id` in the transaction's scope; returns the refresh token.
pub(crate) async fn start(txn: &TenantTxn, scope: SessionScope, user_id: Uuid, ttl: Duration) -> Result<String> {
    insert(txn, scope, Uuid::now_v7(), user_id, ttl).await
}

async fn insert(txn: &TenantTxn, scope: SessionScope, family_id: Uuid, user_id: Uuid, ttl: Duration) -> Result<String> {
    let refresh = new_refresh_token(scope)?;
    let now = Utc::now();
    let ttl = chrono::Duration::from_std(ttl).map_err(Error::internal)?;
    let row = session::ActiveModel {
        tenant_id: Set(txn.tenant_id()),
        id: Set(Uuid::now_v7()),
        family_id: Set(family_id),
        user_id: Set(user_id),
        token_hash: Set(refresh.hash),
        created_at: Set(now),
        expires_at: Set(now + ttl),
        spent_at: Set(None),
        revoked_at: Set(None),
    };
    txn.insert(row).await?;
    Ok(refresh.token)
}

/// Who a session is for: a tenant user or platform admin, their role, and their session epoch.
#[derive(Debug, Clone, Copy)]
pub struct Account {
    pub id: Uuid,
    pub role: Role,
    pub session_epoch: i64,
}

impl Account {
    pub(crate) fn of_user(row: &user::Model) -> Option<Account> {
        let role = Role::parse_tenant_role(&row.role)?;
        Some(Account { id: row.id, role, session_epoch: row.session_epoch })
    }
}

/// Opens a session for a verified account and issues its first token pair.
pub async fn open(env: &Env, scope: SessionScope, account: Account) -> Result<TokenResponse> {
    let txn = scope_db(env, scope).begin().await?;
    let tokens = open_in(env, &txn, scope, account).await?;
    txn.commit().await?;
    Ok(tokens)
}

/// [`open`] inside a transaction of the session's scope, which the caller commits.
pub async fn open_in(env: &Env, txn: &TenantTxn, scope: SessionScope, account: Account) -> Result<TokenResponse> {
    let refresh_token = start(txn, scope, account.id, env.config().refresh_token_ttl).await?;
    token_pair(env, scope, account, refresh_token)
}

fn token_pair(env: &Env, scope: SessionScope, account: Account, refresh_token: String) -> Result<TokenResponse> {
    let tenant = match scope {
        SessionScope::Tenant(id) => Some(id),
        SessionScope::Platform => None,
    };
    let epoch = u64::try_from(account.session_epoch).map_err(Error::internal)?;
    let access_token = env.tokens().issue(account.id, tenant, account.role, epoch).map_err(Error::internal)?;
    Ok(TokenResponse { access_token, refresh_token, token_type: "Bearer", expires_in: env.tokens().ttl().as_secs() })
}

/// Spends `token` and issues the next pair of its family. A tenant user's token is refused on
/// another tenant's host or header, and for a suspended or deleted tenant.
#[tracing::instrument(skip_all)]
pub async fn refresh(
    env: &Env,
    named: Option<&Tenant>,
    client: Option<std::net::IpAddr>,
    token: &str,
) -> Result<TokenResponse> {
    let scope = scope_of(token).ok_or_else(invalid_refresh_token)?;
    check_named_tenant(scope, named)?;
    let tenant_id = match scope {
        // A token naming no live tenant is just an invalid token; a suspended tenant says so.
        SessionScope::Tenant(id) => match env.tenants().admitted(id).await {
            Ok(tenant) => Some(tenant.id),
            Err(error) if error.code() == Code::TenantNotFound => return Err(invalid_refresh_token()),
            Err(error) => return Err(error),
        },
        SessionScope::Platform => None,
    };
    env.login_limiter().check_client(tenant_id, client)?;

    let txn = scope_db(env, scope).begin().await?;
    let row = txn
        .find::<session::Entity>()
        .filter(session::Column::TokenHash.eq(hash_refresh_token(token)))
        .map(|q| q.lock_exclusive())
        .one(&txn)
        .await?
        .ok_or_else(invalid_refresh_token)?;
    if row.spent_at.is_some() {
        revoke_family(&txn, row.family_id).await?;
        txn.commit().await?;
        tracing::warn!(user = %row.user_id, family = %row.family_id, "spent refresh token presented again; family revoked");
        return Err(Error::new(
            Code::RefreshTokenReused,
            "This refresh token was already used; the session is revoked.",
        ));
    }
    if row.revoked_at.is_some() || row.expires_at <= Utc::now() {
        return Err(invalid_refresh_token());
    }
    let account =
        match scope {
            SessionScope::Tenant(_) => txn
                .find::<user::Entity>()
                .filter(user::Column::Id.eq(row.user_id))
                .filter(user::Column::Status.eq("active"))
                .one(&txn)
                .await?
                .as_ref()
                .and_then(Account::of_user),
            SessionScope::Platform => admins::find_by_id(txn.platform_conn(), row.user_id)
                .await?
                .map(|admin| Account { id: admin.id, role: Role::PlatformAdmin, session_epoch: admin.session_epoch }),
        }
        .ok_or_else(invalid_refresh_token)?;

    let mut spent: session::ActiveModel = row.clone().into();
    spent.spent_at = Set(Some(Utc::now()));
    txn.update(spent).await?;
    let refresh_token = insert(&txn, scope, row.family_id, row.user_id, env.config().refresh_token_ttl).await?;
    txn.commit().await?;
    token_pair(env, scope, account, refresh_token)
}

/// A refresh token presented on a tenant's host or header must belong to that tenant, and a
/// platform session's to none: 401 `token_tenant_mismatch` otherwise, for refresh and logout alike.
fn check_named_tenant(scope: SessionScope, named: Option<&Tenant>) -> Result<()> {
    match (scope, named) {
        (SessionScope::Tenant(id), Some(tenant)) if tenant.id != id => {
            Err(Error::new(Code::TokenTenantMismatch, "The refresh token belongs to another tenant."))
        }
        (SessionScope::Platform, Some(_)) => {
            Err(Error::new(Code::TokenTenantMismatch, "A platform session is used without a tenant."))
        }
        _ => Ok(()),
    }
}

/// Revokes the session family of `token`. Unknown tokens are ignored: logging out twice is fine.
/// Another tenant's token on this tenant's host or header is refused, as `refresh` refuses it.
#[tracing::instrument(skip_all)]
pub async fn logout(env: &Env, named: Option<&Tenant>, token: &str) -> Result<()> {
    let Some(scope) = scope_of(token) else { return Ok(()) };
    check_named_tenant(scope, named)?;
    let txn = match scope_db(env, scope).begin().await {
        Ok(txn) => txn,
        // A deleted tenant's sessions are gone with it.
        Err(TxnError::TenantGone(_)) => return Ok(()),
        Err(error) => return Err(error.into()),
    };
    let row = txn
        .find::<session::Entity>()
        .filter(session::Column::TokenHash.eq(hash_refresh_token(token)))
        .one(&txn)
        .await?;
    if let Some(row) = row {
        revoke_family(&txn, row.family_id).await?;
    }
    txn.commit().await?;
    Ok(())
}

async fn revoke_family(txn: &TenantTxn, family_id: Uuid) -> Result<()> {
    revoke_where(txn, session::Column::FamilyId, family_id).await
}

/// Ends every session of a user (disabled, or password or role changed).
pub(crate) async fn revoke_user(txn: &TenantTxn, user_id: Uuid) -> Result<()> {
    revoke_where(txn, session::Column::UserId, user_id).await
}

/// Revokes the live sessions whose `column` is `id`.
async fn revoke_where(txn: &TenantTxn, column: session::Column, id: Uuid) -> Result<()> {
    txn.update_many::<session::Entity>()
        .map(|q| q.col_expr(session::Column::RevokedAt, Expr::value(Utc::now())))
        .filter(column.eq(id))
        .filter(session::Column::RevokedAt.is_null())
        .exec(txn)
        .await?;
    Ok(())
}
