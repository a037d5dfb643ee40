//! Collections (tenant-defined schemas) and their items.
//!
//! Items live in one table, their field values in `data` (JSONB on PostgreSQL, JSON text on
//! SQLite). Fields a tenant declares `indexed` or `unique` are copied, in an order-preserving text
//! encoding, into one of a fixed set of key slots (`k1`..`k8` indexed, `u1`..`u4` unique per
//! tenant and collection), each with its own index: the runtime role never needs DDL, and every
//! index leads with `(tenant_id, collection_id)` so a query never touches another tenant's rows.
//! (Salesforce's multi-tenant "pivot index" columns are the same idea.) Item timestamps are
//! normalised RFC 3339 text (`2026-01-02T03:04:05.000000Z`), so they compare and sort alike on
//! both databases, exactly as `datetime` fields inside `data` do.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

/// Indexed key slots (`k1`..) and unique key slots (`u1`..) on `items`.
pub const INDEXED_SLOTS: usize = 8;
pub const UNIQUE_SLOTS: usize = 4;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let postgres = manager.get_database_backend() == DbBackend::Postgres;
        let (uuid, json, time, text) = if postgres {
            ("uuid", "jsonb", "timestamptz", r#"text COLLATE "C""#)
        } else {
            ("blob", "text", "text", "text")
        };
        let db = manager.get_connection();
        db.execute_unprepared(&format!(
            "CREATE TABLE collections (
                tenant_id {uuid} NOT NULL,
                id {uuid} NOT NULL,
                name varchar(63) NOT NULL,
                fields {json} NOT NULL,
                created_at {time} NOT NULL,
                updated_at {time} NOT NULL,
                PRIMARY KEY (tenant_id, id),
                CONSTRAINT collections_name_key UNIQUE (tenant_id, name)
            )"
        ))
        .await?;

        let slots: String = (1..=INDEXED_SLOTS)
            .map(|n| format!("k{n} {text},\n"))
            .chain((1..=UNIQUE_SLOTS).map(|n| format!("u{n} {text},\n")))
            .collect();
        db.execute_unprepared(&format!(
            "CREATE TABLE items (
                tenant_id {uuid} NOT NULL,
                collection_id {uuid} NOT NULL,
                id {uuid} NOT NULL,
                data {json} NOT NULL,
                version bigint NOT NULL,
                date_created {text} NOT NULL,
                date_updated {text} NOT NULL,
                user_created {uuid},
                {slots}
                PRIMARY KEY (tenant_id, collection_id, id),
                CONSTRAINT items_collection_fkey FOREIGN KEY (tenant_id, collection_id)
                    REFERENCES collections (tenant_id, id)
            )"
        ))
        .await?;
        // An indexed slot holds '' for an unset value, so the collection's items are all in its
        // partial index; slots no field uses stay NULL and cost nothing. Unique slots keep NULL
        // for unset (NULLs never collide) and index them first, as ascending sorts want them.
        for n in 1..=INDEXED_SLOTS {
            db.execute_unprepared(&format!(
                "CREATE INDEX items_k{n}_idx ON items (tenant_id, collection_id, k{n}, id) WHERE k{n} IS NOT NULL"
            ))
            .await?;
        }
        for n in 1..=UNIQUE_SLOTS {
            let nulls = if postgres { " NULLS FIRST" } else { "" };
            db.execute_unprepared(&format!(
                "CREATE UNIQUE INDEX items_u{n}_key ON items (tenant_id, collection_id, u{n}{nulls})"
            ))
            .await?;
        }
        crate::rls::enable_tenant_rls(manager, "collections").await?;
        crate::rls::enable_tenant_rls(manager, "items").await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Alias::new("items")).to_owned()).await?;
        manager.drop_table(Table::drop().table(Alias::new("collections")).to_owned()).await?;
        Ok(())
    }
}
