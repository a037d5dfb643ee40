//! Query-cache invalidation, registered through the extension API like any other: after every
//! item write, inside its transaction, the collection is announced as changed; the announcement
//! takes effect when the transaction commits (at once on this instance, through `NOTIFY` on the
//! others), so the next read after a committed write never gets an answer from before it.
//! Always on: a tenant cannot turn it off.

use crate::hooks::{Hooks, Register};

pub fn register(hooks: &mut Hooks) {
    for event in ["items.create", "items.update", "items.delete"] {
        hooks.after(event, |ctx, _| {
            Box::pin(async move {
                if let Some(collection) = ctx.collection() {
                    ctx.txn().items_changed(collection).await.map_err(crate::error::Error::from)?;
                }
                Ok(())
            })
        });
    }
}
