//! The schema of tenantbase, one change per file, applied in the order of [`Migrator`].
//!
//! Tenant-owned tables carry `tenant_id` in their primary key (`(tenant_id, id)`) so that the
//! schema distributes by tenant, and on PostgreSQL get row-level security through [`rls`].

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_platform;
mod m20261123_000002_users;
mod m20261123_000003_sessions;
pub mod m20261123_000004_collections;
mod m20261123_000005_schedule_runs;
mod m20261202_000006_session_epochs;
mod m20261202_000007_platform_rls;
mod m20261202_000008_change_log;
mod m20261202_000009_collections_tenant_fkey;
mod m20261202_000010_schedule_leases;
mod m20261202_000011_enter_tenant;
mod m20261202_000012_tenant_usage;
mod m20261202_000013_limits_and_usage;
pub mod rls;

/// Every migration, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_platform::Migration),
            Box::new(m20261123_000002_users::Migration),
            Box::new(m20261123_000003_sessions::Migration),
            Box::new(m20261123_000004_collections::Migration),
            Box::new(m20261123_000005_schedule_runs::Migration),
            Box::new(m20261202_000006_session_epochs::Migration),
            Box::new(m20261202_000007_platform_rls::Migration),
            Box::new(m20261202_000008_change_log::Migration),
            Box::new(m20261202_000009_collections_tenant_fkey::Migration),
            Box::new(m20261202_000010_schedule_leases::Migration),
            Box::new(m20261202_000011_enter_tenant::Migration),
            Box::new(m20261202_000012_tenant_usage::Migration),
            Box::new(m20261202_000013_limits_and_usage::Migration),
        ]
    }
}
