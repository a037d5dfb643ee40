//! Each tenant's collections, cached on this instance and dropped on every change of a
//! definition, here at once and on other instances through `LISTEN/NOTIFY`.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use uuid::Uuid;

use super::Collection;
use crate::{
    cache::InvalidatingCache,
    db::{Change, Notice, PlatformDb, TenantTxn},
    entities::collection,
    error::{Error, Result},
};

/// One tenant's collections by name.
pub type Schema = BTreeMap<String, Arc<Collection>>;

/// Tenants' schemas by tenant id.
#[derive(Clone)]
pub struct SchemaCache {
    db: PlatformDb,
    schemas: InvalidatingCache<Uuid, Schema>,
}

impl SchemaCache {
    /// A cache for `capacity` tenants.
    pub fn new(db: PlatformDb, capacity: u64) -> Self {
        SchemaCache {
            db,
            schemas: InvalidatingCache::new(capacity, Duration::from_secs(600), |tenant, _| Some(*tenant)),
        }
    }

    /// The tenant's collections, from the cache when warm.
    pub async fn get(&self, tenant_id: Uuid) -> Result<Arc<Schema>> {
        let loaded = self.schemas.get_or_load(tenant_id, || load(&self.db, tenant_id)).await?;
        loaded.ok_or_else(|| Error::internal("collection schema loader returned nothing"))
    }

    /// The schema of the transaction's tenant, loaded through that transaction on a miss: a
    /// unit of work holding the embedded database's write lock must not wait for a second
    /// connection of the pool. The transaction must not have changed collections yet (what it
    /// reads is cached, and only a commit announces a change).
    pub async fn get_in(&self, txn: &TenantTxn) -> Result<Arc<Schema>> {
        let loaded = self.schemas.get_or_load(txn.tenant_id(), || read(txn)).await?;
        loaded.ok_or_else(|| Error::internal("collection schema loader returned nothing"))
    }

    /// Forgets the tenant's schema (a definition changed; the next `get` reloads).
    pub fn invalidate(&self, tenant_id: Uuid) {
        self.schemas.invalidate_key(tenant_id, &tenant_id);
    }

    /// Drops what a change made stale.
    pub fn on_change(&self, notice: &Notice) {
        match notice {
            Notice::Changed(Change::Tenant(id) | Change::Collections(id)) => self.invalidate(*id),
            Notice::Changed(Change::Member { .. } | Change::Items { .. }) => {}
            Notice::Reset => self.schemas.clear(),
            Notice::Listening(listening) => self.schemas.set_trusted(*listening),
        }
    }
}

async fn load(db: &PlatformDb, tenant_id: Uuid) -> Result<Option<Schema>> {
    let txn = db.tenant(tenant_id).read().await?;
    let schema = read(&txn).await?;
    txn.commit().await?;
    Ok(schema)
}

async fn read(txn: &TenantTxn) -> Result<Option<Schema>> {
    let rows = txn.find::<collection::Entity>().all(txn).await?;
    let mut schema = Schema::new();
    for row in rows {
        let collection = Collection::from_row(row)?;
        schema.insert(collection.name.clone(), Arc::new(collection));
    }
    Ok(Some(schema))
}
