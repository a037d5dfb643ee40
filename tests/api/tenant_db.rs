//! A developer's own tenant-owned entity gets the scoping of `TenantDb` for free: the steps of
//! the `db::tenant_db` module docs, done for a `notes` table.

use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, Statement, entity::prelude::*};
use tenantbase::{
    config::Config,
    db::{PlatformDb, TenantOwned},
};

use crate::helpers::{TestDatabase, postgres::RUNTIME_ROLE};

/// Step 2 of the module docs: a plain entity that names its tenant column.
mod note {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "notes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub body: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

impl TenantOwned for note::Entity {
    const TENANT_ID: note::Column = note::Column::TenantId;
}

/// Step 1: the table, keyed by tenant, with the standard policy; the runtime role gets DML only.
async fn notes_database() -> TestDatabase {
    let database = TestDatabase::create().await;
    let policy = migrations::rls::TENANT_MATCH;
    database
        .execute(&format!(
            "CREATE TABLE notes (tenant_id uuid NOT NULL, id uuid NOT NULL, body text NOT NULL, PRIMARY KEY (tenant_id, id));
             ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
             ALTER TABLE notes FORCE ROW LEVEL SECURITY;
             CREATE POLICY tenant_isolation ON notes USING ({policy}) WITH CHECK ({policy});
             GRANT SELECT, INSERT, UPDATE, DELETE ON notes TO {RUNTIME_ROLE};"
        ))
        .await;
    database
}

async fn platform(database: &TestDatabase) -> PlatformDb {
    let config = Config::from_vars([("TB_DATABASE_URL", database.runtime_url())]).unwrap();
    PlatformDb::connect(&config).await.unwrap()
}

/// A live tenant row: writes need one (a deleted or unknown tenant's transaction is refused).
async fn live_tenant(database: &TestDatabase) -> Uuid {
    let id = Uuid::now_v7();
    database
        .execute(&format!(
            "INSERT INTO tenants (id, slug, name, plan, status, settings, created_at, updated_at) \
             VALUES ('{id}', 't{}', 'T', 'free', 'active', '{{}}', now(), now())",
            id.simple()
        ))
        .await;
    id
}

fn new_note(tenant_id: Uuid, body: &str) -> note::ActiveModel {
    note::ActiveModel { tenant_id: Set(tenant_id), id: Set(Uuid::now_v7()), body: Set(body.to_string()) }
}

#[tokio::test]
async fn a_new_tenant_owned_entity_is_scoped_to_its_tenant_for_reads_updates_and_deletes() {
    let database = notes_database().await;
    let db = platform(&database).await;
    let (a, b) = (live_tenant(&database).await, live_tenant(&database).await);

    // Step 3: insert through each tenant's transaction; a tenant_id set by the caller is overwritten.
    let txn = db.tenant(a).begin().await.unwrap();
    txn.insert(new_note(a, "a1")).await.unwrap();
    let forged = txn.insert(new_note(b, "a2, claiming to be b's")).await.unwrap();
    txn.commit().await.unwrap();
    assert_eq!(forged.tenant_id, a, "the handle stamps its own tenant");
    let txn = db.tenant(b).begin().await.unwrap();
    txn.insert(new_note(b, "b1")).await.unwrap();
    txn.commit().await.unwrap();

    let txn = db.tenant(b).begin().await.unwrap();
    let seen: Vec<String> = txn.find::<note::Entity>().all(&txn).await.unwrap().into_iter().map(|n| n.body).collect();
    assert_eq!(seen, ["b1"]);
    let by_a_id = txn.find::<note::Entity>().filter(note::Column::Id.eq(forged.id)).one(&txn).await.unwrap();
    assert_eq!(by_a_id, None, "b cannot read a's note by its id");
    let updated =
        txn.update_many::<note::Entity>().map(|q| q.col_expr(note::Column::Body, Expr::value("x"))).exec(&txn);
    assert_eq!(updated.await.unwrap(), 1, "b's update reaches only b's note");
    assert_eq!(txn.delete_many::<note::Entity>().exec(&txn).await.unwrap(), 1, "b's delete reaches only b's note");
    // Updating a's note by primary key from b's transaction matches nothing.
    let mut stolen: note::ActiveModel = forged.clone().into();
    stolen.body = Set("taken".into());
    assert!(txn.update(stolen).await.is_err(), "b cannot update a's note by its key");
    txn.commit().await.unwrap();

    let txn = db.tenant(a).read().await.unwrap();
    let mut bodies: Vec<String> =
        txn.find::<note::Entity>().all(&txn).await.unwrap().into_iter().map(|n| n.body).collect();
    bodies.sort();
    assert_eq!(bodies, ["a1", "a2, claiming to be b's"], "a's notes are untouched");
    txn.commit().await.unwrap();
}

#[tokio::test]
async fn the_new_table_is_also_behind_row_level_security_for_raw_sql() {
    let database = notes_database().await;
    let db = platform(&database).await;
    let a = live_tenant(&database).await;
    let txn = db.tenant(a).begin().await.unwrap();
    txn.insert(new_note(a, "secret")).await.unwrap();
    txn.commit().await.unwrap();

    // Raw SQL on the runtime role with no tenant set: row-level security shows nothing.
    let runtime = sea_orm::Database::connect(database.runtime_url()).await.unwrap();
    let row = runtime
        .query_one_raw(Statement::from_string(DbBackend::Postgres, "SELECT count(*) FROM notes"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get_by_index::<i64>(0).unwrap(), 0);
}
