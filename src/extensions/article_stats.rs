//! The example extension: keeps `slug` and `word_count` of an `articles` collection in step with
//! its `title` and `body`. Read this file to see how an extension is written; a tenant turns it
//! on with settings `{"extensions": {"article_stats": true}}` (its `articles` collection needs a
//! `slug` string and a `word_count` integer field).

use serde_json::Value;

use crate::hooks::{HookContext, HookError, HookResult, Hooks, Register};

pub const EXTENSION: &str = "article_stats";

pub fn register(hooks: &mut Hooks) {
    hooks
        .extension(EXTENSION, false)
        .filter("articles.items.create", |ctx, item| Box::pin(async move { stats(ctx, item) }))
        .filter("articles.items.update", |ctx, patch| Box::pin(async move { stats(ctx, patch) }));
}

/// Derives `slug` from a given `title` and `word_count` from a given `body`.
fn stats(_: &HookContext<'_>, mut item: Value) -> HookResult<Value> {
    if let Some(title) = item.get("title").and_then(Value::as_str) {
        let slug = slugify(title);
        if slug.is_empty() {
            return Err(HookError::invalid("title_without_words", "The title needs at least one letter or digit."));
        }
        item["slug"] = slug.into();
    }
    if let Some(body) = item.get("body") {
        item["word_count"] = body.as_str().map_or(0, |b| b.split_whitespace().count()).into();
    }
    Ok(item)
}

/// `"Hello, Wörld 2!"` → `"hello-w-rld-2"`: lower-case ASCII letters and digits joined by `-`.
pub fn slugify(title: &str) -> String {
    let lowered = title.to_ascii_lowercase();
    lowered.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).collect::<Vec<_>>().join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_keep_ascii_words() {
        assert_eq!(slugify("Hello, Wörld 2!"), "hello-w-rld-2");
        assert_eq!(slugify("  --  "), "");
    }
}
