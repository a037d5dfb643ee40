//! Row-level security on the platform tables too (SECURITY.md items 4-5b): while a tenant's unit
//! of work has `app.tenant_id` set, it sees at most its own `tenants` row and its own domains,
//! and nothing of platform admins, schedule claims or the migration ledger. Platform code and
//! domain routing run with the setting unset and see everything, as before.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

use crate::rls::{NO_TENANT, PLATFORM_SCOPE, enable_platform_rls};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let own_tenant = format!("({NO_TENANT} OR id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)");
        enable_platform_rls(manager, "tenants", &own_tenant).await?;
        // Platform admins' sessions are refreshed in the platform's own (nil) scope.
        enable_platform_rls(manager, "platform_admins", PLATFORM_SCOPE).await?;
        enable_platform_rls(manager, "schedule_runs", NO_TENANT).await?;
        enable_platform_rls(manager, "seaql_migrations", NO_TENANT).await?;
        // Domain routing reads every domain before a tenant is known; a tenant reads only its own
        // (through `tenant_isolation`).
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "DROP POLICY domain_lookup ON tenant_domains;
                 CREATE POLICY domain_lookup ON tenant_domains FOR SELECT USING ({NO_TENANT});"
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let mut sql = String::from(
            "DROP POLICY domain_lookup ON tenant_domains;
             CREATE POLICY domain_lookup ON tenant_domains FOR SELECT USING (true);",
        );
        for table in ["tenants", "platform_admins", "schedule_runs", "seaql_migrations"] {
            sql.push_str(&format!(
                "DROP POLICY platform_scope ON {table}; ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY;
                 ALTER TABLE {table} DISABLE ROW LEVEL SECURITY;"
            ));
        }
        manager.get_connection().execute_unprepared(&sql).await?;
        Ok(())
    }
}
