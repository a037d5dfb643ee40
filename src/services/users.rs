//! Tenant users (API.md "Tenant users"): managed by tenant admins, unique email per tenant,
//! always at least one active admin. Disabling a user or changing their password or role ends
//! their sessions, and their access tokens stop working on their next use.

use std::{str::FromStr, sync::Arc};

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryOrder, QuerySelect, SqlErr};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    Page,
    input::{Checks, check_name, normalize_email},
    sessions,
};
use crate::{
    auth::{Caller, Role, members::MemberState, password},
    db::{PlatformDb, TenantTxn, notify},
    entities::{platform_admin, session, user},
    error::{Code, Error, FieldError, Result},
    hooks::{self, Env},
    state::AppState,
    tenancy::Tenant,
};

/// A user as the API shows it (never the password hash).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub name: Option<String>,
    pub role: Role,
    pub status: UserStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A platform admin as `GET /api/users/me` shows them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PlatformAdminView {
    pub id: Uuid,
    pub email: String,
    pub name: Option<String>,
    /// Always `platform_admin`.
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The caller of `GET /api/users/me`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Me {
    User(UserView),
    PlatformAdmin(PlatformAdminView),
}

/// Whether a user may log in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    Active,
    Disabled,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Active => "active",
            UserStatus::Disabled => "disabled",
        }
    }
}

impl FromStr for UserStatus {
    type Err = FieldError;

    fn from_str(value: &str) -> Result<Self, FieldError> {
        match value {
            "active" => Ok(UserStatus::Active),
            "disabled" => Ok(UserStatus::Disabled),
            _ => Err(FieldError::new("status", "invalid", "must be active or disabled")),
        }
    }
}

/// `POST /api/users`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub email: String,
    #[schema(value_type = String, format = Password)]
    pub password: SecretString,
    /// `admin`, `editor` or `viewer`.
    pub role: String,
    pub name: Option<String>,
}

/// `PATCH /api/users/{id}`: only the fields present change.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub email: Option<String>,
    #[schema(value_type = Option<String>, format = Password)]
    pub password: Option<SecretString>,
    pub role: Option<String>,
    pub name: Option<String>,
    /// `active` or `disabled`.
    pub status: Option<String>,
}

impl From<user::Model> for UserView {
    fn from(row: user::Model) -> Self {
        UserView {
            id: row.id,
            role: Role::parse_tenant_role(&row.role).unwrap_or(Role::Viewer),
            status: row.status.parse().unwrap_or(UserStatus::Disabled),
            email: row.email,
            name: row.name,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

fn check_role(role: &str) -> Result<Role, FieldError> {
    Role::parse_tenant_role(role).ok_or_else(|| FieldError::new("role", "invalid", "must be admin, editor or viewer"))
}

fn not_found() -> Error {
    Error::new(Code::UserNotFound, "No such user in this tenant.")
}

fn is_active_admin(row: &user::Model) -> bool {
    row.role == Role::Admin.as_str() && row.status == UserStatus::Active.as_str()
}

/// What request checks need about a user; `None` when the user no longer exists.
pub async fn load_member(db: &PlatformDb, tenant_id: Uuid, user_id: Uuid) -> Result<Option<MemberState>> {
    let txn = db.tenant(tenant_id).read().await?;
    let row = txn.find::<user::Entity>().filter(user::Column::Id.eq(user_id)).one(&txn).await?;
    txn.commit().await?;
    Ok(row.map(|u| MemberState {
        role: Role::parse_tenant_role(&u.role).unwrap_or(Role::Viewer),
        active: u.status == UserStatus::Active.as_str(),
        sessions_valid_after: u.sessions_valid_after.map(|t| t.timestamp()),
    }))
}

/// Inserts a user of the transaction's tenant; a taken email is 409 `user_exists`.
pub(crate) async fn insert_user(
    txn: &TenantTxn,
    email: &str,
    password_hash: String,
    role: Role,
    name: Option<String>,
) -> Result<user::Model> {
    let now = Utc::now();
    let row = user::ActiveModel {
        tenant_id: Set(txn.tenant_id()),
        id: Set(Uuid::now_v7()),
        email: Set(email.to_string()),
        password_hash: Set(password_hash),
        name: Set(name),
        role: Set(role.as_str().into()),
        status: Set(UserStatus::Active.as_str().into()),
        created_at: Set(now),
        updated_at: Set(now),
        sessions_valid_after: Set(None),
    };
    txn.insert(row).await.map_err(on_unique_email)
}

fn on_unique_email(error: sea_orm::DbErr) -> Error {
    match error.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => {
            Error::new(Code::UserExists, "A user with this email already belongs to this tenant.")
        }
        _ => Error::Database(error),
    }
}

/// Lists the tenant's users by email.
#[tracing::instrument(skip(state))]
pub async fn list(state: &AppState, tenant_id: Uuid, page: Page) -> Result<(Vec<UserView>, Option<u64>)> {
    let txn = state.db.tenant(tenant_id).read().await?;
    let total = if page.with_total { Some(txn.find::<user::Entity>().count(&txn).await?) } else { None };
    let rows = txn
        .find::<user::Entity>()
        .map(|q| q.order_by_asc(user::Column::Email).limit(page.limit).offset(page.offset))
        .all(&txn)
        .await?;
    txn.commit().await?;
    Ok((rows.into_iter().map(UserView::from).collect(), total))
}

/// One user of the tenant.
#[tracing::instrument(skip(state))]
pub async fn get(state: &AppState, tenant_id: Uuid, id: Uuid) -> Result<UserView> {
    let txn = state.db.tenant(tenant_id).read().await?;
    let row = txn.find::<user::Entity>().filter(user::Column::Id.eq(id)).one(&txn).await?;
    txn.commit().await?;
    row.map(UserView::from).ok_or_else(not_found)
}

/// The caller: a tenant user, or a platform admin.
pub async fn me(state: &AppState, caller: &Caller) -> Result<Me> {
    match caller.tenant_id {
        Some(tenant_id) => Ok(Me::User(get(state, tenant_id, caller.id).await?)),
        None => {
            let admin = platform_admin::Entity::find_by_id(caller.id)
                .one(state.db.platform_conn())
                .await?
                .ok_or_else(not_found)?;
            Ok(Me::PlatformAdmin(PlatformAdminView {
                id: admin.id,
                email: admin.email,
                name: admin.name,
                role: Role::PlatformAdmin,
                created_at: admin.created_at,
                updated_at: admin.updated_at,
            }))
        }
    }
}

/// Creates a user (password checked before it is hashed).
#[tracing::instrument(skip(state, input))]
pub async fn create(state: &AppState, tenant: &Arc<Tenant>, caller: &Caller, input: NewUser) -> Result<UserView> {
    let tenant_id = tenant.id;
    let mut checks = Checks::default();
    let email = checks.check(normalize_email("email", &input.email));
    checks.check(password::check_policy("password", input.password.expose_secret()));
    let role = checks.check(check_role(&input.role));
    let name = input.name.as_deref().map(|n| checks.check(check_name("name", n)));
    checks.finish()?;
    let (Some(email), Some(role)) = (email, role) else { return Err(Error::internal("validated input missing")) };
    let hash = password::hash(input.password).await?;
    let txn = state.db.tenant(tenant_id).begin().await?;
    let row = insert_user(&txn, &email, hash, role, name.flatten()).await?;
    txn.commit().await?;
    let user = UserView::from(row);
    announce(state, tenant, caller, "users.create", &user);
    Ok(user)
}

/// Changes a user. Disabling, a new password or a new role end the user's sessions.
#[tracing::instrument(skip(state, patch))]
pub async fn update(
    state: &AppState,
    tenant: &Arc<Tenant>,
    caller: &Caller,
    id: Uuid,
    patch: UserPatch,
) -> Result<UserView> {
    let tenant_id = tenant.id;
    let mut checks = Checks::default();
    let email = patch.email.as_deref().and_then(|e| checks.check(normalize_email("email", e)));
    if let Some(p) = &patch.password {
        checks.check(password::check_policy("password", p.expose_secret()));
    }
    let role = patch.role.as_deref().and_then(|r| checks.check(check_role(r)));
    let name = patch.name.as_deref().and_then(|n| checks.check(check_name("name", n)));
    let status = patch.status.as_deref().and_then(|s| checks.check(s.parse::<UserStatus>()));
    checks.finish()?;
    let hash = match patch.password {
        Some(secret) => Some(password::hash(secret).await?),
        None => None,
    };

    let txn = state.db.tenant(tenant_id).begin().await?;
    let row = locked_user(&txn, id).await?;
    let loses_admin =
        is_active_admin(&row) && (role.is_some_and(|r| r != Role::Admin) || status == Some(UserStatus::Disabled));
    if loses_admin {
        ensure_another_active_admin(&txn, id).await?;
    }
    let ends_sessions = hash.is_some()
        || role.is_some_and(|r| r.as_str() != row.role)
        || (status == Some(UserStatus::Disabled) && row.status != UserStatus::Disabled.as_str());

    let mut active: user::ActiveModel = row.into();
    if let Some(email) = email {
        active.email = Set(email);
    }
    if let Some(hash) = hash {
        active.password_hash = Set(hash);
    }
    if let Some(role) = role {
        active.role = Set(role.as_str().into());
    }
    if let Some(name) = name {
        active.name = Set(Some(name));
    }
    if let Some(status) = status {
        active.status = Set(status.as_str().into());
    }
    let now = Utc::now();
    active.updated_at = Set(now);
    if ends_sessions {
        active.sessions_valid_after = Set(Some(now));
        sessions::revoke_user(&txn, id).await?;
    }
    let row = txn.update(active).await.map_err(on_unique_email)?;
    member_changed(state, txn, id).await?;
    let user = UserView::from(row);
    announce(state, tenant, caller, "users.update", &user);
    Ok(user)
}

/// Deletes a user and their sessions; the last active admin cannot be deleted.
#[tracing::instrument(skip(state))]
pub async fn delete(state: &AppState, tenant: &Arc<Tenant>, caller: &Caller, id: Uuid) -> Result<()> {
    let txn = state.db.tenant(tenant.id).begin().await?;
    let row = locked_user(&txn, id).await?;
    if is_active_admin(&row) {
        ensure_another_active_admin(&txn, id).await?;
    }
    txn.delete_many::<session::Entity>().filter(session::Column::UserId.eq(id)).exec(&txn).await?;
    txn.delete_many::<user::Entity>().filter(user::Column::Id.eq(id)).exec(&txn).await?;
    member_changed(state, txn, id).await?;
    announce(state, tenant, caller, "users.delete", &UserView::from(row));
    Ok(())
}

/// Fires the action hooks of a user event with the user as the API shows it (never a hash).
fn announce(state: &AppState, tenant: &Arc<Tenant>, caller: &Caller, event: &'static str, user: &UserView) {
    hooks::context::announce(&Env::new(state), Some(tenant), Some(caller), event, || {
        serde_json::to_value(user).unwrap_or_default()
    });
}

async fn locked_user(txn: &TenantTxn, id: Uuid) -> Result<user::Model> {
    txn.find::<user::Entity>()
        .filter(user::Column::Id.eq(id))
        .map(|q| q.lock_exclusive())
        .one(txn)
        .await?
        .ok_or_else(not_found)
}

/// 409 `last_admin` unless an active admin other than `except` remains. The admins' rows are
/// locked so two concurrent demotions cannot both pass.
async fn ensure_another_active_admin(txn: &TenantTxn, except: Uuid) -> Result<()> {
    let others = txn
        .find::<user::Entity>()
        .filter(user::Column::Role.eq(Role::Admin.as_str()))
        .filter(user::Column::Status.eq(UserStatus::Active.as_str()))
        .filter(user::Column::Id.ne(except))
        .map(|q| q.lock_exclusive())
        .all(txn)
        .await?;
    if others.is_empty() {
        return Err(Error::new(Code::LastAdmin, "A tenant must keep at least one active admin."));
    }
    Ok(())
}

/// Commits and makes every instance forget what it cached about the user.
async fn member_changed(state: &AppState, txn: TenantTxn, user: Uuid) -> Result<()> {
    let change = notify::Change::Member { tenant: txn.tenant_id(), user };
    txn.announce(change).await?;
    txn.commit().await?;
    state.caches.apply(change);
    Ok(())
}
