//! Logging in (API.md "Authentication"): tenant users on a tenant, platform admins without one.

use std::{net::IpAddr, sync::Arc};

use sea_orm::ColumnTrait;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

use super::{
    Env, admins, sessions,
    sessions::{Account, TokenResponse},
};
use crate::{
    auth::{Caller, Role, password, session::SessionScope},
    entities::user,
    error::{Code, Error, Result},
    hooks::{self, Ctx, Unit},
    input::normalize_email,
    tenancy::Tenant,
};

/// `POST /api/auth/login`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    pub email: String,
    #[schema(value_type = String, format = Password)]
    pub password: SecretString,
}

/// `POST /api/auth/refresh` and `/logout`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    #[schema(value_type = String)]
    pub refresh_token: SecretString,
}

fn invalid_credentials() -> Error {
    Error::new(Code::InvalidCredentials, "The email or password is wrong.")
}

/// The tenant user with this email, after `auth.login` filter hooks (`{"email"}`) let the attempt
/// through; a hook may refuse it (e.g. a blocklist), which is answered as its rejection.
async fn find_member(ctx: &Ctx<'_>, email: &str) -> Result<Option<user::Model>> {
    ctx.filter("auth.login", None, None, json!({"email": email})).await?;
    Ok(ctx.txn.find::<user::Entity>().filter(user::Column::Email.eq(email)).one(ctx.txn).await?)
}

/// Checks the credentials against the tenant's users (or the platform admins when no tenant is
/// named) and opens a session. An unknown email and a wrong password take the same time and give
/// the same answer; attempts are limited per client IP and per account.
#[tracing::instrument(skip_all, fields(tenant = tenant.map(|t| t.slug.as_str())))]
pub async fn login(
    env: &Env,
    tenant: Option<&Arc<Tenant>>,
    client: Option<IpAddr>,
    credentials: Credentials,
) -> Result<TokenResponse> {
    let tenant_id = tenant.map(|t| t.id);
    env.login_limiter().check_client(tenant_id, client)?;
    // Checked before the email becomes a limiter key, so no input makes a key of its own size.
    let Ok(email) = normalize_email("email", &credentials.email) else { return Err(invalid_credentials()) };
    if credentials.password.expose_secret().len() > password::MAX_BYTES {
        return Err(invalid_credentials());
    }
    env.login_limiter().check_account(tenant_id, &email)?;
    let (account, scope) = match tenant {
        Some(tenant) => {
            let unit = Unit::begin(env.runtime(), tenant, None, 0, false).await?;
            let outcome = find_member(&unit.ctx(), &email).await;
            let found = unit.finish(outcome, "auth.login", None).await?;
            let account = found
                .filter(|u| u.status == "active")
                .and_then(|u| Account::of_user(&u).map(|account| (account, u.password_hash)));
            (account, SessionScope::Tenant(tenant.id))
        }
        None => {
            let found = admins::find_by_email(env.db().platform_conn(), &email).await?;
            let account = found.map(|a| {
                (Account { id: a.id, role: Role::PlatformAdmin, session_epoch: a.session_epoch }, a.password_hash)
            });
            (account, SessionScope::Platform)
        }
    };
    let (account, hash) = match account {
        Some((account, hash)) => (Some(account), Some(hash)),
        None => (None, None),
    };
    let verified = password::verify(credentials.password, hash).await?;
    let Some(account) = account.filter(|_| verified) else {
        tracing::info!("login refused");
        return Err(invalid_credentials());
    };
    let id = account.id;
    let caller = Caller { id, tenant_id: tenant.map(|t| t.id), role: account.role };
    let tokens = match tenant {
        // A tenant login is a unit of work of that tenant: the session and whatever `after`
        // hooks write (the audit entry) commit together.
        Some(tenant) => {
            let unit = Unit::begin(env.runtime(), tenant, Some(&caller), 0, true).await?;
            let ctx = unit.ctx();
            let outcome = async {
                let tokens = sessions::open_in(env, ctx.txn(), scope, account).await?;
                ctx.written("auth.login", None, Some(id), || json!({"user": id})).await?;
                Ok(tokens)
            }
            .await;
            unit.finish(outcome, "auth.login", None).await?
        }
        None => {
            let tokens = sessions::open(env, scope, account).await?;
            hooks::announce(env.runtime(), None, Some(&caller), "auth.login", || json!({"user": id}));
            tokens
        }
    };
    tracing::info!(user = %id, "logged in");
    Ok(tokens)
}
