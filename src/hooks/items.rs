//! Item operations a hook (or a custom route) may run: the [`Items`] handle, always confined to
//! its context's tenant and going through the same rules and hooks as requests. The items
//! service implements [`ItemOperations`]; the composition root hands it to the [`Runtime`],
//! so this layer runs item operations without knowing the service.

use futures_util::future::BoxFuture;
use serde_json::Value;
use uuid::Uuid;

use super::{ActionContext, Ctx, Runtime, Unit, unit::next_depth};
use crate::error::{Code, Error, Result};

/// The raw query parameters of `GET /api/items/{collection}`.
#[derive(Debug, Default, Clone, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Directus-style JSON filter, e.g. `{"status":{"_eq":"published"}}`.
    pub filter: Option<String>,
    /// Comma-separated fields, `-` for descending, e.g. `-views,title`.
    pub sort: Option<String>,
    /// 0-1000, default 100.
    pub limit: Option<i64>,
    pub offset: Option<i64>,
    /// Comma-separated fields to return (`*` for all).
    pub fields: Option<String>,
    /// Substring over string and text fields (ASCII case-insensitive).
    pub search: Option<String>,
    /// `total_count` adds `meta.total_count`.
    pub meta: Option<String>,
}

impl ListParams {
    /// The query as `items.query` filter hooks see it: `filter` parsed when it is JSON.
    pub fn to_payload(&self) -> Value {
        let filter = self.filter.as_deref().map(|raw| serde_json::from_str(raw).unwrap_or_else(|_| Value::from(raw)));
        serde_json::json!({
            "filter": filter, "sort": self.sort, "limit": self.limit, "offset": self.offset,
            "fields": self.fields, "search": self.search, "meta": self.meta,
        })
    }

    /// The list request in a normal form for cache keys (`list:` and every parameter in a fixed
    /// order), whatever order and percent-encoding the request used (the filter's JSON is taken
    /// as written).
    pub fn cache_key(&self) -> String {
        let fields = (&self.filter, &self.sort, self.limit, self.offset, &self.fields, &self.search, &self.meta);
        // Serialising strings, integers and nulls cannot fail.
        format!("list:{}", serde_json::to_string(&fields).unwrap_or_default())
    }

    /// The query a hook returned.
    pub fn from_payload(payload: &Value) -> Result<ListParams> {
        let text = |name: &str| match &payload[name] {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s.clone())),
            other if name == "filter" => Ok(Some(other.to_string())),
            _ => Err(invalid(format!("an items.query hook returned a {name} that is not a string"))),
        };
        let number = |name: &str| match &payload[name] {
            Value::Null => Ok(None),
            value => {
                value.as_i64().map(Some).ok_or_else(|| invalid(format!("an items.query hook returned a bad {name}")))
            }
        };
        Ok(ListParams {
            filter: text("filter")?,
            sort: text("sort")?,
            limit: number("limit")?,
            offset: number("offset")?,
            fields: text("fields")?,
            search: text("search")?,
            meta: text("meta")?,
        })
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(Code::InvalidQuery, message)
}

/// The item operations of one unit of work, as the items service provides them. Each runs inside
/// `ctx`'s transaction and fires its own hooks; `list` returns the items and, when asked, the
/// total count.
pub trait ItemOperations: Send + Sync + 'static {
    fn list<'c>(
        &'c self,
        ctx: &'c Ctx<'c>,
        collection: &'c str,
        params: ListParams,
    ) -> BoxFuture<'c, Result<(Vec<Value>, Option<u64>)>>;
    fn get<'c>(&'c self, ctx: &'c Ctx<'c>, collection: &'c str, id: Uuid) -> BoxFuture<'c, Result<Value>>;
    fn create<'c>(&'c self, ctx: &'c Ctx<'c>, collection: &'c str, item: Value) -> BoxFuture<'c, Result<Value>>;
    fn update<'c>(
        &'c self,
        ctx: &'c Ctx<'c>,
        collection: &'c str,
        id: Uuid,
        patch: Value,
    ) -> BoxFuture<'c, Result<Value>>;
    fn delete<'c>(&'c self, ctx: &'c Ctx<'c>, collection: &'c str, id: Uuid) -> BoxFuture<'c, Result<()>>;
}

/// Where a hook's item operations run.
enum Scope<'a> {
    /// Inside the filter hook's own transaction, one level deeper.
    Within(&'a Ctx<'a>),
    /// In a new transaction of the action's (or job's, or route's) tenant.
    Detached(&'a ActionContext),
}

/// Item operations on one collection of the context's tenant.
pub struct Items<'a> {
    scope: Scope<'a>,
    collection: &'a str,
}

/// One item operation, run with the operations, the context and the collection name.
type Operation<T> =
    Box<dyn for<'c> FnOnce(&'c dyn ItemOperations, &'c Ctx<'c>, &'c str) -> BoxFuture<'c, Result<T>> + Send>;

impl<'a> Items<'a> {
    pub(crate) fn within(ctx: &'a Ctx<'a>, collection: &'a str) -> Self {
        Items { scope: Scope::Within(ctx), collection }
    }

    pub(crate) fn detached(action: &'a ActionContext, collection: &'a str) -> Self {
        Items { scope: Scope::Detached(action), collection }
    }

    pub async fn list(&self, params: ListParams) -> Result<Vec<Value>> {
        let list: Operation<_> = Box::new(move |ops, ctx, collection| ops.list(ctx, collection, params));
        Ok(self.run("items.query", false, list).await?.0)
    }

    pub async fn get(&self, id: Uuid) -> Result<Value> {
        self.run("items.read", false, Box::new(move |ops, ctx, collection| ops.get(ctx, collection, id))).await
    }

    pub async fn create(&self, item: Value) -> Result<Value> {
        self.run("items.create", true, Box::new(move |ops, ctx, collection| ops.create(ctx, collection, item))).await
    }

    pub async fn update(&self, id: Uuid, patch: Value) -> Result<Value> {
        let update: Operation<_> = Box::new(move |ops, ctx, collection| ops.update(ctx, collection, id, patch));
        self.run("items.update", true, update).await
    }

    pub async fn delete(&self, id: Uuid) -> Result<()> {
        self.run("items.delete", true, Box::new(move |ops, ctx, collection| ops.delete(ctx, collection, id))).await
    }

    /// Runs `operation` one level deeper than the context: inside its transaction, or in a new
    /// unit of work of its tenant (`write`: one that will write) that commits or rolls back and
    /// then fires `event`'s actions or error hooks.
    async fn run<T>(&self, event: &'static str, write: bool, operation: Operation<T>) -> Result<T> {
        match &self.scope {
            Scope::Within(ctx) => {
                let nested = ctx.nested()?;
                operation(ctx.runtime.items(), &nested, self.collection).await
            }
            Scope::Detached(action) => {
                let runtime: &Runtime = action.runtime();
                let Some(tenant) = action.tenant_arc() else {
                    return Err(Error::new(
                        Code::TenantRequired,
                        "A platform hook has no tenant to run item operations in.",
                    ));
                };
                let depth = next_depth(runtime.hooks(), action.depth())?;
                let unit = Unit::begin(runtime, tenant, action.caller(), depth, write).await?;
                let outcome = {
                    let ctx = unit.ctx();
                    operation(runtime.items(), &ctx, self.collection).await
                };
                unit.finish(outcome, event, Some(self.collection)).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &str) -> ListParams {
        actix_web::web::Query::<ListParams>::from_query(query).unwrap().into_inner()
    }

    #[test]
    fn cache_keys_ignore_parameter_order_and_encoding_but_not_values() {
        let key = parse("limit=20&sort=-id&filter=%7B%22a%22%3A1%7D").cache_key();
        assert_eq!(key, parse(r#"filter={"a":1}&sort=-id&limit=20"#).cache_key());
        assert_ne!(key, parse(r#"filter={"a":1}&sort=-id&limit=21"#).cache_key());
        // A value cannot pass for another parameter: each is quoted in its own place.
        assert_ne!(parse("sort=a&fields=b").cache_key(), parse("sort=a%22,%22b").cache_key());
        assert_ne!(parse("search=x").cache_key(), parse("meta=x").cache_key());
    }
}
