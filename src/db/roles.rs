//! The startup check of the runtime role (API.md "Running", SECURITY.md items 5 and 5b): on
//! PostgreSQL the server must not be able to bypass row-level security, or a bug in the code
//! could leak one tenant's rows to another.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

use super::DbError;

/// What the startup check found. Empty `problems` means row-level security is really in force.
#[derive(Debug, Clone, Default)]
pub struct RoleCheck {
    /// The role the server runs as (PostgreSQL only).
    pub role: Option<String>,
    /// Each reason the role could bypass row-level security, with how to fix it.
    pub problems: Vec<String>,
}

impl RoleCheck {
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks the connected role: not superuser, no BYPASSRLS, owns no table and is no member of a
/// role that does, and every table of the schema (tenant-owned and platform alike) has
/// row-level security enabled and forced. SQLite has no roles and always passes.
pub async fn check_runtime_role(conn: &DatabaseConnection) -> Result<RoleCheck, DbError> {
    if conn.get_database_backend() != DbBackend::Postgres {
        return Ok(RoleCheck::default());
    }
    let query = |sql: &str| Statement::from_string(DbBackend::Postgres, sql.to_string());
    let mut check = RoleCheck::default();

    let role = conn
        .query_one_raw(query(
            "SELECT current_user::text AS role, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user",
        ))
        .await?;
    if let Some(row) = role {
        let name: String = row.try_get("", "role")?;
        if row.try_get::<bool>("", "rolsuper")? {
            check.problems.push(format!(
                "role {name} is a superuser, which bypasses row-level security: connect TB_DATABASE_URL as a \
                 separate runtime role (`tenantbase migrate` with TB_MIGRATE_DATABASE_URL as the owner creates it)"
            ));
        }
        if row.try_get::<bool>("", "rolbypassrls")? {
            check.problems.push(format!(
                "role {name} has BYPASSRLS: run `ALTER ROLE {name} NOBYPASSRLS` or use a separate runtime role"
            ));
        }
        check.role = Some(name);
    }

    let owned = conn
        .query_all_raw(query(
            "SELECT tablename::text AS name FROM pg_tables WHERE tableowner = current_user \
             AND schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1",
        ))
        .await?;
    if !owned.is_empty() {
        let names: Vec<String> = owned.iter().filter_map(|r| r.try_get("", "name").ok()).collect();
        check.problems.push(format!(
            "the runtime role owns tables ({}), and owners can be exempt from row-level security: \
             run migrations as a different owner role via TB_MIGRATE_DATABASE_URL",
            names.join(", ")
        ));
    }

    let owners = conn
        .query_all_raw(query(
            "SELECT DISTINCT tableowner::text AS name FROM pg_tables WHERE schemaname = 'public' \
             AND tableowner <> current_user AND pg_has_role(current_user, tableowner, 'MEMBER') ORDER BY 1",
        ))
        .await?;
    if !owners.is_empty() {
        let names: Vec<String> = owners.iter().filter_map(|r| r.try_get("", "name").ok()).collect();
        check.problems.push(format!(
            "the runtime role is a member of the owner role ({}), so it can act as the owner, whom \
             row-level security may exempt: revoke that membership (`REVOKE {} FROM <runtime role>`)",
            names.join(", "),
            names.join(", ")
        ));
    }

    let unprotected = conn
        .query_all_raw(query(
            "SELECT c.relname::text AS name FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') \
             AND NOT (c.relrowsecurity AND c.relforcerowsecurity) ORDER BY 1",
        ))
        .await?;
    if !unprotected.is_empty() {
        let names: Vec<String> = unprotected.iter().filter_map(|r| r.try_get("", "name").ok()).collect();
        check.problems.push(format!(
            "row-level security is not enabled and forced on tables ({}): run `tenantbase migrate`",
            names.join(", ")
        ));
    }
    Ok(check)
}
