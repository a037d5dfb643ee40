//! Running item statements inside a tenant transaction: lists, counts and plans, and the
//! bulk updates of a collection's fields (backfilling a new field, dropping one).

use sea_orm::{ConnectionTrait, DbErr, FromQueryResult, Statement, Value};
use uuid::Uuid;

use super::{ItemQuery, ItemRow, Slot, Target, sql::Sql};
use crate::db::TenantTxn;

impl TenantTxn {
    /// The items `query` selects, in its order.
    pub async fn list_items(&self, query: &ItemQuery) -> Result<Vec<ItemRow>, DbErr> {
        ItemRow::find_by_statement(self.list_statement(query, "")).all(self.raw()).await
    }

    /// PostgreSQL's plan for listing `query` (`EXPLAIN`, one line per row), to check which
    /// indexes a query uses.
    pub async fn explain_items(&self, query: &ItemQuery) -> Result<String, DbErr> {
        let rows = self.raw().query_all_raw(self.list_statement(query, "EXPLAIN ")).await?;
        let lines = rows.iter().map(|row| row.try_get_by_index::<String>(0)).collect::<Result<Vec<_>, _>>()?;
        Ok(lines.join("\n"))
    }

    fn list_statement(&self, query: &ItemQuery, prefix: &str) -> Statement {
        let mut sql = Sql::new(self.raw().get_database_backend());
        let data = if sql.postgres() { "data::text AS data" } else { "data" };
        sql.push(&format!(
            "{prefix}SELECT id, {data}, version, date_created, date_updated, user_created FROM items WHERE "
        ));
        sql.scope(self.tenant_id(), query.collection_id);
        sql.push(" AND ");
        sql.condition(&query.condition);
        // A partial slot index serves a sort only when the query says its rows are in it.
        for key in &query.sort {
            if let Target::Slot(slot @ Slot::Indexed(_)) = key.target {
                sql.push(&format!(" AND {} IS NOT NULL", slot.column()));
            }
        }
        sql.push(" ORDER BY ");
        for (i, key) in query.sort.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.sort_key(key);
        }
        sql.push(" LIMIT ");
        sql.bind(Value::from(query.limit as i64));
        sql.push(" OFFSET ");
        sql.bind(Value::from(query.offset as i64));
        sql.finish()
    }

    /// How many items `query`'s condition selects (limit and offset ignored).
    pub async fn count_items(&self, query: &ItemQuery) -> Result<u64, DbErr> {
        let mut sql = Sql::new(self.raw().get_database_backend());
        sql.push("SELECT count(*) AS n FROM items WHERE ");
        sql.scope(self.tenant_id(), query.collection_id);
        sql.push(" AND ");
        sql.condition(&query.condition);
        let row = self.raw().query_one_raw(sql.finish()).await?;
        let count: i64 = match row {
            Some(row) => row.try_get("", "n")?,
            None => 0,
        };
        Ok(count.max(0) as u64)
    }

    /// Writes `value` (JSON text) as field `name` into every item of the collection, and `key`
    /// into its slot, if it has one: the default of a newly added field.
    pub async fn backfill_field(
        &self,
        collection_id: Uuid,
        name: &str,
        value: Option<&str>,
        slot: Option<(Slot, Option<String>)>,
    ) -> Result<(), DbErr> {
        let mut sql = Sql::new(self.raw().get_database_backend());
        sql.push("UPDATE items SET version = version");
        if let Some(value) = value {
            sql.push(if sql.postgres() { ", data = jsonb_set(data, ARRAY[" } else { ", data = json_set(data, " });
            sql.bind(Value::from(json_path(sql.postgres(), name)));
            sql.push(if sql.postgres() { "::text], " } else { ", json(" });
            sql.bind(Value::from(value.to_string()));
            sql.push(if sql.postgres() { "::jsonb)" } else { "))" });
        }
        if let Some((slot, key)) = slot {
            sql.push(&format!(", {} = ", slot.column()));
            sql.bind(Value::from(key));
        }
        sql.push(" WHERE ");
        sql.scope(self.tenant_id(), collection_id);
        self.raw().execute_raw(sql.finish()).await?;
        Ok(())
    }

    /// Removes field `name` from every item of the collection and clears its slot.
    pub async fn drop_field(&self, collection_id: Uuid, name: &str, slot: Option<Slot>) -> Result<(), DbErr> {
        let mut sql = Sql::new(self.raw().get_database_backend());
        sql.push(if sql.postgres() {
            "UPDATE items SET data = data - "
        } else {
            "UPDATE items SET data = json_remove(data, "
        });
        sql.bind(Value::from(json_path(sql.postgres(), name)));
        if !sql.postgres() {
            sql.push(")");
        }
        if let Some(slot) = slot {
            sql.push(&format!(", {} = NULL", slot.column()));
        }
        sql.push(" WHERE ");
        sql.scope(self.tenant_id(), collection_id);
        self.raw().execute_raw(sql.finish()).await?;
        Ok(())
    }
}

/// The key of `name` in `data`: the bare name for PostgreSQL's operators, a JSON path for SQLite.
fn json_path(postgres: bool, name: &str) -> String {
    if postgres { name.to_string() } else { format!("$.{name}") }
}
