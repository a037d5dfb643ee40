//! Tenant users (API.md "Tenant users"): managed by tenant admins, unique email per tenant,
//! always at least one active admin. Disabling a user or changing their password or role ends
//! their sessions, and their access tokens stop working on their next use.

use std::{str::FromStr, sync::Arc};

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, QueryOrder, QuerySelect, SqlErr};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Env, admins, sessions};
use crate::{
    auth::{Caller, Role, password},
    db::{Change, TenantTxn},
    entities::{session, user},
    error::{Code, Error, FieldError, Result},
    hooks::{Ctx, Unit},
    input::{Checks, Page, check_name, normalize_email},
    tenancy::Tenant,
};

/// A user as the API shows it (never the password hash).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub name: Option<String>,
    /// `admin`, `editor` or `viewer`.
    #[schema(value_type = TenantRole)]
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
    #[schema(value_type = PlatformRole)]
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The role of a tenant user, as the schema of [`UserView`] names it.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code, reason = "a schema only: the value is a `Role`")]
enum TenantRole {
    Admin,
    Editor,
    Viewer,
}

/// The role of a platform admin, as the schema of [`PlatformAdminView`] names it.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code, reason = "a schema only: the value is `Role::PlatformAdmin`")]
enum PlatformRole {
    PlatformAdmin,
}

/// The caller of `GET /api/users/me`: a tenant user or a platform admin, told apart by `role`
/// (`platform_admin`, or one of the tenant roles).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
#[schema(discriminator(property_name = "role", mapping(
    ("admin" = "#/components/schemas/UserView"),
    ("editor" = "#/components/schemas/UserView"),
    ("viewer" = "#/components/schemas/UserView"),
    ("platform_admin" = "#/components/schemas/PlatformAdminView")
)))]
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
        session_epoch: Set(0),
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
#[tracing::instrument(skip(env))]
pub async fn list(env: &Env, tenant_id: Uuid, page: Page) -> Result<(Vec<UserView>, Option<u64>)> {
    let txn = env.db().tenant(tenant_id).read().await?;
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
#[tracing::instrument(skip(env))]
pub async fn get(env: &Env, tenant_id: Uuid, id: Uuid) -> Result<UserView> {
    let txn = env.db().tenant(tenant_id).read().await?;
    let row = txn.find::<user::Entity>().filter(user::Column::Id.eq(id)).one(&txn).await?;
    txn.commit().await?;
    row.map(UserView::from).ok_or_else(not_found)
}

/// The caller: a tenant user, or a platform admin.
pub async fn me(env: &Env, caller: &Caller) -> Result<Me> {
    match caller.tenant_id {
        Some(tenant_id) => Ok(Me::User(get(env, tenant_id, caller.id).await?)),
        None => {
            let admin = admins::find_by_id(env.db().platform_conn(), caller.id).await?.ok_or_else(not_found)?;
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

/// Creates a user (password checked before it is hashed). `users.create` filter hooks see and may
/// change `{"email","role","name"}` (never the password); actions get the user.
#[tracing::instrument(skip(env, caller, input))]
pub async fn create(env: &Env, tenant: &Arc<Tenant>, caller: &Caller, input: NewUser) -> Result<UserView> {
    let unit = Unit::begin(env.runtime(), tenant, Some(caller), 0, true).await?;
    let outcome = create_in(&unit.ctx(), input).await;
    unit.finish(outcome, "users.create", None).await
}

async fn create_in(ctx: &Ctx<'_>, input: NewUser) -> Result<UserView> {
    let mut input = input;
    if ctx.has_filters("users.create", None) {
        let payload = json!({"email": input.email, "role": input.role, "name": input.name});
        let payload = ctx.filter("users.create", None, None, payload).await?;
        input.email = hooked_text(&payload, "email")?.unwrap_or_default();
        input.role = hooked_text(&payload, "role")?.unwrap_or_default();
        input.name = hooked_text(&payload, "name")?;
    }
    let mut checks = Checks::default();
    let email = checks.check(normalize_email("email", &input.email));
    checks.check(password::check_policy("password", input.password.expose_secret()));
    let role = checks.check(check_role(&input.role));
    let name = input.name.as_deref().map(|n| checks.check(check_name("name", n)));
    checks.finish()?;
    let (Some(email), Some(role)) = (email, role) else { return Err(Error::internal("validated input missing")) };
    let hash = password::hash(input.password).await?;
    let row = insert_user(ctx.txn, &email, hash, role, name.flatten()).await?;
    let user = UserView::from(row);
    ctx.written("users.create", None, Some(user.id), || view_payload(&user)).await?;
    Ok(user)
}

/// A string member of what a hook returned (`null`: absent); anything else is the hook's bug.
fn hooked_text(payload: &Value, member: &str) -> Result<Option<String>> {
    match &payload[member] {
        Value::Null => Ok(None),
        Value::String(text) => Ok(Some(text.clone())),
        _ => Err(Error::new(Code::HookFailed, format!("A users hook returned a non-string `{member}`."))),
    }
}

/// A user as action hooks get it (never the hash).
fn view_payload(user: &UserView) -> Value {
    serde_json::to_value(user).unwrap_or_default()
}

/// Changes a user. Disabling, a new password or a new role end the user's sessions.
/// `users.update` filter hooks see and may change the patch without its password.
#[tracing::instrument(skip(env, caller, patch))]
pub async fn update(env: &Env, tenant: &Arc<Tenant>, caller: &Caller, id: Uuid, patch: UserPatch) -> Result<UserView> {
    let unit = Unit::begin(env.runtime(), tenant, Some(caller), 0, true).await?;
    let outcome = update_in(&unit.ctx(), id, patch).await;
    unit.finish(outcome, "users.update", None).await
}

async fn update_in(ctx: &Ctx<'_>, id: Uuid, patch: UserPatch) -> Result<UserView> {
    let mut patch = patch;
    if ctx.has_filters("users.update", None) {
        let mut payload = serde_json::Map::new();
        for (member, value) in
            [("email", &patch.email), ("role", &patch.role), ("name", &patch.name), ("status", &patch.status)]
        {
            if let Some(value) = value {
                payload.insert(member.into(), value.clone().into());
            }
        }
        let payload = ctx.filter("users.update", None, Some(id), Value::Object(payload)).await?;
        patch.email = hooked_text(&payload, "email")?;
        patch.role = hooked_text(&payload, "role")?;
        patch.name = hooked_text(&payload, "name")?;
        patch.status = hooked_text(&payload, "status")?;
    }
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

    let txn = ctx.txn;
    let row = locked_user(txn, id).await?;
    let loses_admin =
        is_active_admin(&row) && (role.is_some_and(|r| r != Role::Admin) || status == Some(UserStatus::Disabled));
    if loses_admin {
        ensure_another_active_admin(txn, id).await?;
    }
    let ends_sessions = hash.is_some()
        || role.is_some_and(|r| r.as_str() != row.role)
        || (status == Some(UserStatus::Disabled) && row.status != UserStatus::Disabled.as_str());

    let epoch = row.session_epoch;
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
        // Every token carries the epoch it was issued at: moving on refuses all earlier ones.
        active.session_epoch = Set(epoch + 1);
        sessions::revoke_user(txn, id).await?;
    }
    let row = txn.update(active).await.map_err(on_unique_email)?;
    txn.announce(Change::Member { tenant: txn.tenant_id(), user: id }).await?;
    let user = UserView::from(row);
    ctx.written("users.update", None, Some(id), || view_payload(&user)).await?;
    Ok(user)
}

/// Deletes a user and their sessions; `users.delete` filter hooks get `{"key"}` and may refuse.
#[tracing::instrument(skip(env, caller))]
pub async fn delete(env: &Env, tenant: &Arc<Tenant>, caller: &Caller, id: Uuid) -> Result<()> {
    let unit = Unit::begin(env.runtime(), tenant, Some(caller), 0, true).await?;
    let outcome = delete_in(&unit.ctx(), id).await;
    unit.finish(outcome, "users.delete", None).await
}

async fn delete_in(ctx: &Ctx<'_>, id: Uuid) -> Result<()> {
    let txn = ctx.txn;
    let row = locked_user(txn, id).await?;
    ctx.filter("users.delete", None, Some(id), json!({"key": id})).await?;
    if is_active_admin(&row) {
        ensure_another_active_admin(txn, id).await?;
    }
    txn.delete_many::<session::Entity>().filter(session::Column::UserId.eq(id)).exec(txn).await?;
    txn.delete_many::<user::Entity>().filter(user::Column::Id.eq(id)).exec(txn).await?;
    txn.announce(Change::Member { tenant: txn.tenant_id(), user: id }).await?;
    let user = UserView::from(row);
    ctx.written("users.delete", None, Some(id), || view_payload(&user)).await?;
    Ok(())
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
