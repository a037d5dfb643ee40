//! What init and error hooks are told, and which registrations an event fires: an item event
//! such as `items.create` also fires as `<collection>.items.create`.

use crate::{config::Config, tenancy::Tenant};

/// What an error hook is told.
#[derive(Debug)]
pub struct ErrorEvent<'a> {
    pub event: &'a str,
    pub tenant: Option<&'a Tenant>,
    pub collection: Option<&'a str>,
}

/// The moment an init hook runs at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitStage {
    /// Before the server binds its port.
    AppBefore,
    /// After it is bound, before it serves.
    AppAfter,
}

/// What an init hook is told.
#[derive(Debug)]
pub struct InitEvent<'a> {
    pub stage: InitStage,
    pub config: &'a Config,
}

/// The registrations for `event` or, with a collection, for `<collection>.<event>`.
pub(crate) fn matches(registered: &str, event: &str, collection: Option<&str>) -> bool {
    registered == event
        || collection.is_some_and(|c| {
            registered.len() == c.len() + 1 + event.len()
                && registered.starts_with(c)
                && registered[c.len()..].starts_with('.')
                && registered.ends_with(event)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fired<'r>(registered: &[&'r str], event: &str, collection: Option<&str>) -> Vec<&'r str> {
        registered.iter().copied().filter(|r| matches(r, event, collection)).collect()
    }

    #[test]
    fn an_item_event_also_fires_under_its_collection_in_registration_order() {
        let registered = ["articles.items.create", "items.create", "pages.items.create", "xarticles.items.create"];
        assert_eq!(fired(&registered, "items.create", Some("articles")), ["articles.items.create", "items.create"]);
        assert_eq!(fired(&registered, "items.create", None), ["items.create"]);
        assert!(fired(&registered, "items.update", Some("articles")).is_empty());
        assert!(fired(&["articles.items.create.x"], "items.create", Some("articles")).is_empty());
    }
}
