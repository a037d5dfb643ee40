//! The item operations hooks run, handed to the hooks' runtime by the composition root.

use futures_util::future::BoxFuture;
use serde_json::Value;
use uuid::Uuid;

use super::{
    read::{get_in, list_in},
    write::{create_one_in, delete_in, update_in},
};
use crate::{
    error::Result,
    hooks::{Ctx, ItemOperations},
    services::item_query::ListParams,
};

/// The items service as the hooks layer sees it ([`ItemOperations`]).
pub struct ItemService;

impl ItemOperations for ItemService {
    fn list<'c>(
        &'c self,
        ctx: &'c Ctx<'c>,
        collection: &'c str,
        params: ListParams,
    ) -> BoxFuture<'c, Result<(Vec<Value>, Option<u64>)>> {
        Box::pin(async move { list_in(ctx, collection, &params).await })
    }

    fn get<'c>(&'c self, ctx: &'c Ctx<'c>, collection: &'c str, id: Uuid) -> BoxFuture<'c, Result<Value>> {
        Box::pin(get_in(ctx, collection, id))
    }

    fn create<'c>(&'c self, ctx: &'c Ctx<'c>, collection: &'c str, item: Value) -> BoxFuture<'c, Result<Value>> {
        Box::pin(create_one_in(ctx, collection, item))
    }

    fn update<'c>(
        &'c self,
        ctx: &'c Ctx<'c>,
        collection: &'c str,
        id: Uuid,
        patch: Value,
    ) -> BoxFuture<'c, Result<Value>> {
        Box::pin(update_in(ctx, collection, id, patch, None))
    }

    fn delete<'c>(&'c self, ctx: &'c Ctx<'c>, collection: &'c str, id: Uuid) -> BoxFuture<'c, Result<()>> {
        Box::pin(delete_in(ctx, collection, id, None))
    }
}
