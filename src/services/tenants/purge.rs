//! Deleting a tenant: unreachable at once, then every row of it purged in the background inside
//! its own scope, resumed at the next start when cut short.
#![allow(clippy::disallowed_methods, reason = "the tenants table is a platform table")]

use chrono::Utc;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::write::{TenantEvent, change};
use crate::{
    auth::Caller,
    db::Change,
    entities::{session, tenant, tenant_domain, tenant_usage, user},
    error::Result,
    hooks::Runtime,
    services::{Env, collections, files},
    tenancy::TenantStatus,
};

/// Makes the tenant unreachable at once and purges its rows in the background. Once this has
/// answered no write of the tenant commits (every write transaction share-locks the tenant row
/// and refuses a deleted one). A purge cut short (crash) or failed is finished by
/// [`resume_purges`], which every running server calls every `TB_PURGE_RETRY_SECONDS`.
#[tracing::instrument(skip(env, caller))]
pub async fn delete(env: &Env, caller: &Caller, id_or_slug: &str) -> Result<()> {
    let deleted = change(env, caller, id_or_slug, TenantEvent::Delete, async move |_, mut row| {
        row.status = Set(TenantStatus::Deleted.as_str().into());
        row.deleted_at = Set(Some(Utc::now()));
        Ok(row)
    })
    .await?;
    let id = deleted.id;
    env.metrics().forget_tenant(id);
    let runtime = env.runtime().clone();
    tokio::spawn(async move {
        if let Err(error) = purge(&runtime, id).await {
            tracing::error!(%error, tenant = %id, "tenant purge failed; the server retries it");
        }
    });
    Ok(())
}

/// Deletes every object of a deleted tenant under its key prefix, then every row, inside that
/// tenant's own scope so nothing of any other tenant can be touched, then the tenant row itself;
/// every instance then forgets it, which frees its slug and domains. The objects go first: a
/// purge that fails at the store leaves the rows, and the retry starts over.
#[tracing::instrument(skip(runtime))]
pub(crate) async fn purge(runtime: &Runtime, id: Uuid) -> Result<()> {
    let db = runtime.db();
    let status = tenant::Entity::find_by_id(id).one(db.platform_conn()).await?.map(|t| t.status);
    if status.as_deref() != Some(TenantStatus::Deleted.as_str()) {
        return Ok(()); // already purged, or not deleted at all
    }
    let objects = files::purge_objects(runtime, id).await?;
    let txn = db.tenant(id).begin_lifecycle().await?;
    let deleted = tenant::Entity::find_by_id(id)
        .filter(tenant::Column::Status.eq(TenantStatus::Deleted.as_str()))
        .one(txn.platform_conn())
        .await?;
    if deleted.is_none() {
        return Ok(()); // already purged, or not deleted at all
    }
    let items = collections::purge(&txn).await?;
    txn.delete_many::<session::Entity>().exec(&txn).await?;
    let users = txn.delete_many::<user::Entity>().exec(&txn).await?;
    txn.delete_many::<tenant_domain::Entity>().exec(&txn).await?;
    txn.delete_many::<tenant_usage::Entity>().exec(&txn).await?;
    tenant::Entity::delete_by_id(id).exec(txn.platform_conn()).await?;
    txn.announce(Change::Tenant(id)).await?;
    txn.commit().await?;
    tracing::info!(tenant = %id, users, items, objects, "tenant purged");
    Ok(())
}

/// Finishes purges that a previous run left unfinished.
pub(crate) async fn resume_purges(runtime: &Runtime) -> Result<()> {
    let pending = tenant::Entity::find()
        .filter(tenant::Column::Status.eq(TenantStatus::Deleted.as_str()))
        .all(runtime.db().platform_conn())
        .await?;
    for row in pending {
        purge(runtime, row.id).await?;
    }
    Ok(())
}
