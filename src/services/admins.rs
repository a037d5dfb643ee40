//! Platform admins: created by `tenantbase admin create` or the `TB_ADMIN_*` bootstrap. A
//! platform table, read through the platform connection.
#![allow(clippy::disallowed_methods, reason = "platform_admins is a platform table, not tenant-owned")]

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::{
    auth::{members::PLATFORM, password},
    db::{Change, PlatformDb},
    entities::{platform_admin, session},
    error::Result,
    input::{Checks, normalize_email},
};

/// Whether `ensure` created the admin or found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ensured {
    Created,
    Existed,
}

/// Makes sure a platform admin with this email exists. An existing admin's password is left
/// as it is, so restarting with the bootstrap variables set never changes a password.
#[tracing::instrument(skip(db, password))]
pub async fn ensure(db: &PlatformDb, email: &str, password: SecretString) -> Result<Ensured> {
    let mut checks = Checks::default();
    let email = checks.check(normalize_email("email", email));
    checks.check(password::check_policy("password", password.expose_secret()));
    checks.finish()?;
    let email = email.unwrap_or_default();
    if find_by_email(db.platform_conn(), &email).await?.is_some() {
        return Ok(Ensured::Existed);
    }
    let now = Utc::now();
    platform_admin::ActiveModel {
        id: Set(Uuid::now_v7()),
        email: Set(email),
        password_hash: Set(password::hash(password).await?),
        name: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        session_epoch: Set(0),
    }
    .insert(db.platform_conn())
    .await?;
    Ok(Ensured::Created)
}

/// Removes the platform admin with this email and ends their sessions; every instance refuses
/// their tokens from the next request on. `false` when there is no such admin.
#[tracing::instrument(skip(db))]
pub async fn remove(db: &PlatformDb, email: &str) -> Result<bool> {
    let email = email.trim().to_lowercase();
    let txn = db.tenant(PLATFORM).begin().await?;
    let Some(admin) = find_by_email(txn.platform_conn(), &email).await? else { return Ok(false) };
    txn.delete_many::<session::Entity>().filter(session::Column::UserId.eq(admin.id)).exec(&txn).await?;
    platform_admin::Entity::delete_by_id(admin.id).exec(txn.platform_conn()).await?;
    txn.announce(Change::Member { tenant: PLATFORM, user: admin.id }).await?;
    txn.commit().await?;
    Ok(true)
}

/// The platform admin with this (normalised) email.
pub(crate) async fn find_by_email(
    conn: &impl ConnectionTrait,
    email: &str,
) -> Result<Option<platform_admin::Model>, DbErr> {
    platform_admin::Entity::find().filter(platform_admin::Column::Email.eq(email)).one(conn).await
}

/// The platform admin with this id.
pub(crate) async fn find_by_id(conn: &impl ConnectionTrait, id: Uuid) -> Result<Option<platform_admin::Model>, DbErr> {
    platform_admin::Entity::find_by_id(id).one(conn).await
}
