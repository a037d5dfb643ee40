//! Change notices (DESIGN.md principle 5): a change announced inside a transaction reaches this
//! instance's [`ChangeFeed`] when the transaction commits, and every other instance's through
//! PostgreSQL `LISTEN/NOTIFY`, so N instances drop a changed tenant or user from their caches at once.

use std::sync::{Arc, RwLock};

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};
use uuid::Uuid;

/// The `NOTIFY` channel of change notices.
pub(super) const CHANNEL: &str = "tb_changes";

/// Something cached that changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Tenant(Uuid),
    Member {
        tenant: Uuid,
        user: Uuid,
    },
    /// A tenant's collection definitions.
    Collections(Uuid),
    /// Items of one collection of a tenant were written.
    Items {
        tenant: Uuid,
        collection: Arc<str>,
    },
}

impl Change {
    fn payload(&self) -> String {
        match self {
            Change::Tenant(id) => format!("tenant:{id}"),
            Change::Member { tenant, user } => format!("member:{tenant}:{user}"),
            Change::Collections(id) => format!("collections:{id}"),
            Change::Items { tenant, collection } => format!("items:{tenant}:{collection}"),
        }
    }

    pub(super) fn parse(payload: &str) -> Option<Change> {
        // A collection name is an identifier: no colon, and short enough for any payload.
        if let Some(rest) = payload.strip_prefix("items:") {
            let (tenant, collection) = rest.split_once(':')?;
            let valid = !collection.is_empty() && !collection.contains(':');
            return valid.then_some(Change::Items { tenant: tenant.parse().ok()?, collection: collection.into() });
        }
        let mut parts = payload.split(':');
        let change = match (parts.next()?, parts.next()?, parts.next()) {
            ("tenant", id, None) => Change::Tenant(id.parse().ok()?),
            ("collections", id, None) => Change::Collections(id.parse().ok()?),
            ("member", tenant, Some(user)) => Change::Member { tenant: tenant.parse().ok()?, user: user.parse().ok()? },
            _ => return None,
        };
        parts.next().is_none().then_some(change)
    }
}

/// What this instance learns about changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// One thing changed.
    Changed(Change),
    /// Anything may have changed: a notice could not be read, or one transaction changed
    /// several tenants at once.
    Reset,
    /// Whether this instance hears other instances' changes. While it does not (the listener
    /// lost its connection, or has not connected yet), caches must be bypassed, not trusted;
    /// when it hears them again, anything may have changed meanwhile.
    Listening(bool),
}

type Subscriber = Arc<dyn Fn(&Notice) + Send + Sync>;

/// The reactions of this instance to changes. The database layer only delivers notices: whoever
/// caches something registers here at startup (the composition root, `lib.rs`), so this module
/// knows no cache and no service.
#[derive(Clone, Default)]
pub struct ChangeFeed {
    subscribers: Arc<RwLock<Vec<Subscriber>>>,
}

impl ChangeFeed {
    /// Calls `reaction` with every notice from now on.
    pub fn subscribe(&self, reaction: impl Fn(&Notice) + Send + Sync + 'static) {
        if let Ok(mut subscribers) = self.subscribers.write() {
            subscribers.push(Arc::new(reaction));
        }
    }

    /// Tells every subscriber of this instance.
    pub fn publish(&self, notice: Notice) {
        let subscribers = match self.subscribers.read() {
            Ok(subscribers) => subscribers.clone(),
            Err(_) => return,
        };
        for subscriber in subscribers {
            subscriber(&notice);
        }
    }
}

/// Sends `change` to the other processes; inside a transaction it is sent on commit (PostgreSQL
/// `NOTIFY`, or a row of the embedded database's change log).
pub(crate) async fn announce(conn: &impl ConnectionTrait, change: &Change) -> Result<(), DbErr> {
    let statement = match conn.get_database_backend() {
        DbBackend::Postgres => Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [CHANNEL.into(), change.payload().into()],
        ),
        // Only the server writes items of an embedded database, and it hears its own changes
        // when they commit: no log row is needed for them.
        _ if matches!(change, Change::Items { .. }) => return Ok(()),
        // One process at a time writes an embedded database, but a one-off command is another
        // process: it leaves the change in the log the server reads.
        backend => Statement::from_sql_and_values(
            backend,
            "INSERT INTO change_log (payload, created_at) VALUES (?, ?)",
            [change.payload().into(), chrono::Utc::now().timestamp().into()],
        ),
    };
    conn.execute_raw(statement).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip() {
        let (tenant, user) = (Uuid::now_v7(), Uuid::now_v7());
        let items = Change::Items { tenant, collection: "articles".into() };
        for change in [Change::Tenant(tenant), Change::Member { tenant, user }, Change::Collections(tenant), items] {
            assert_eq!(Change::parse(&change.payload()), Some(change));
        }
        let bad_items = [format!("items:{tenant}:"), format!("items:{tenant}:a:b"), "items:x:articles".to_string()];
        for bad in ["", "tenant", "tenant:x", "member:a:b", "tenant:1:2:3", "other:1"]
            .into_iter()
            .chain(bad_items.iter().map(String::as_str))
        {
            assert_eq!(Change::parse(bad), None, "{bad}");
        }
    }
}
