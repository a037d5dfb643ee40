//! The layering of `src/`: a module may use modules of its own layer and of the layers below it,
//! never one above. Dependencies point down, so a lower layer can be read, changed and tested
//! without the ones above it; a lower layer that must cause work above it (say, a notification
//! that has to reach a service's cache) is handed a callback by `lib.rs` instead of importing up.
//!
//! The layers are listed in docs/architecture.md and mirrored in [`LAYERS`]. The test reads every
//! file of the library and fails on an import that points up, on a top-level module that is in no
//! layer, and on a cycle: among the modules of one layer, or among the sibling submodules of any
//! directory module. Imports are found by a small lexer (comments and literals dropped) and parser
//! of `use` trees and inline `crate::`, `super::` and `self::` paths. Items of `lib.rs` itself (such
//! as the re-exported `crate::Config`) are not checked.

use std::{
    collections::{BTreeMap, BTreeSet, VecDeque},
    fs,
    path::Path,
};

/// The layers of `src/`, bottom first; the crate root (`lib.rs`) is above them all. This mirrors
/// docs/architecture.md: change the two together.
const LAYERS: &[&[&str]] = &[
    &["error", "config", "telemetry", "cache", "limits", "input"],
    &["db", "entities", "storage"],
    &["auth", "tenancy", "schema"],
    &["hooks"],
    &["services", "manifest"],
    &["http", "extensions", "cli"],
];

/// A path to something in the crate, found on `line` of a file.
#[derive(Debug, PartialEq, Eq)]
struct Import {
    line: usize,
    /// The absolute path within the crate, without `crate`: `["db", "notify", "Caches"]`.
    target: Vec<String>,
}

/// The module a library file defines: `src/db/notify.rs` is `db::notify`, `src/db/mod.rs` is `db`
/// and `src/lib.rs` is the crate root (empty).
fn module_of(relative_path: &str) -> Vec<String> {
    let path = relative_path.strip_prefix("src/").unwrap_or(relative_path);
    let mut module: Vec<String> = path.strip_suffix(".rs").unwrap_or(path).split('/').map(String::from).collect();
    if module.last().is_some_and(|last| last == "mod") || module == ["lib"] {
        module.pop();
    }
    module
}

/// A token of Rust source, as far as paths need: identifiers, `::` and other punctuation.
#[derive(Debug, PartialEq)]
enum Token {
    Ident(String),
    PathSep,
    Punct(char),
}

/// The tokens of `source`, each with its line. Whitespace, comments and literals are dropped, so a
/// path in a doc comment or a string is no import.
fn tokenize(source: &str) -> Vec<(usize, Token)> {
    let chars: Vec<char> = source.chars().collect();
    let (mut tokens, mut at, mut line) = (Vec::new(), 0, 1);
    while at < chars.len() {
        let (token, end) = token(&chars, at);
        tokens.extend(token.map(|token| (line, token)));
        let end = end.min(chars.len());
        line += chars[at..end].iter().filter(|&&c| c == '\n').count();
        at = end;
    }
    tokens
}

/// The token at `at`, or None for whitespace, a comment or a literal, and the index after it.
fn token(chars: &[char], at: usize) -> (Option<Token>, usize) {
    match &chars[at..] {
        ['/', '/', ..] => (None, find(chars, at, "\n")),
        ['/', '*', ..] => (None, block_comment_end(chars, at)),
        ['"', ..] => (None, string_end(chars, at)),
        ['\'', '\\', ..] => (None, find(chars, at + 3, "'")),
        ['\'', _, '\'', ..] => (None, at + 3),
        [':', ':', ..] => (Some(Token::PathSep), at + 2),
        [c, ..] if c.is_alphabetic() || *c == '_' => word(chars, at),
        // A number (`0x1F`, `1u8`) is one word, so that its suffix is no identifier.
        [c, ..] if c.is_ascii_digit() => (None, word_end(chars, at)),
        [c, ..] if c.is_whitespace() => (None, at + 1),
        [c, ..] => (Some(Token::Punct(*c)), at + 1),
        [] => (None, at + 1),
    }
}

/// The index after the letters, digits and underscores from `at`.
fn word_end(chars: &[char], at: usize) -> usize {
    (at..chars.len()).find(|&i| !(chars[i].is_alphanumeric() || chars[i] == '_')).unwrap_or(chars.len())
}

/// An identifier, or None for the literal it prefixes (`b"…"`, `br#"…"#`, `b'…'`).
fn word(chars: &[char], at: usize) -> (Option<Token>, usize) {
    let end = word_end(chars, at);
    let word: String = chars[at..end].iter().collect();
    match (word.as_str(), chars.get(end)) {
        ("r" | "br" | "cr", Some('"' | '#')) => raw_string_or_ident(chars, end),
        ("b" | "c", Some('"')) => (None, string_end(chars, end)),
        ("b", Some('\'')) => (None, token(chars, end).1),
        _ => (Some(Token::Ident(word)), end),
    }
}

/// After an `r`: skips `#"…"#`, or reads the identifier of `r#type`.
fn raw_string_or_ident(chars: &[char], at: usize) -> (Option<Token>, usize) {
    let hashes = chars[at..].iter().take_while(|&&c| c == '#').count();
    if chars.get(at + hashes) == Some(&'"') {
        (None, find(chars, at + hashes + 1, &format!("\"{}", "#".repeat(hashes))))
    } else {
        let end = word_end(chars, at + hashes);
        (Some(Token::Ident(chars[at + hashes..end].iter().collect())), end)
    }
}

/// The index after the first `end` at or after `from`, or the length at none.
fn find(chars: &[char], from: usize, end: &str) -> usize {
    let end: Vec<char> = end.chars().collect();
    (from..chars.len()).find(|&i| chars[i..].starts_with(&end)).map_or(chars.len(), |i| i + end.len())
}

/// The index after the `"…"` at `at`, whose escapes may include `\"`.
fn string_end(chars: &[char], at: usize) -> usize {
    let mut i = at + 1;
    while i < chars.len() && chars[i] != '"' {
        i += if chars[i] == '\\' { 2 } else { 1 };
    }
    i + 1
}

/// The index after the `/* … */` at `at`, which may nest.
fn block_comment_end(chars: &[char], at: usize) -> usize {
    let (mut depth, mut i) = (0, at);
    while i < chars.len() {
        match &chars[i..] {
            ['/', '*', ..] => (depth, i) = (depth + 1, i + 2),
            ['*', '/', ..] if depth == 1 => return i + 2,
            ['*', '/', ..] => (depth, i) = (depth - 1, i + 2),
            _ => i += 1,
        }
    }
    i
}

/// Walks one file's tokens, recording each path to something in the crate.
struct Parser {
    tokens: Vec<(usize, Token)>,
    at: usize,
    /// The module the current token is in: the file's, then each open `mod name { … }` block.
    module: Vec<String>,
    /// The brace depth outside each open `mod` block, and the current one.
    blocks: Vec<usize>,
    depth: usize,
    found: Vec<Import>,
}

impl Parser {
    /// The token `ahead` places after the current one.
    fn peek(&self, ahead: usize) -> Option<&Token> {
        self.tokens.get(self.at + ahead).map(|(_, token)| token)
    }

    /// Records `path`, written on `line` in the current module, if it leads into the crate.
    fn record(&mut self, line: usize, path: &[String]) {
        if let Some(target) = resolve(path, &self.module) {
            self.found.push(Import { line, target });
        }
    }

    /// Reads all tokens: `use` trees, inline paths and the braces of `mod` blocks.
    fn run(mut self) -> Vec<Import> {
        while let Some((line, token)) = self.tokens.get(self.at) {
            let line = *line;
            match token {
                Token::Ident(word) if word == "use" => {
                    self.at += 1;
                    self.use_tree(Vec::new());
                    continue;
                }
                // An inline path; `path` reads all of `super::super::x`, so no `super` is seen twice.
                Token::Ident(word)
                    if ["crate", "super", "self"].contains(&word.as_str()) && self.peek(1) == Some(&Token::PathSep) =>
                {
                    let path = self.path(Vec::new());
                    self.record(line, &path);
                    continue;
                }
                Token::Ident(word) if word == "mod" => {
                    if let (Some(Token::Ident(name)), Some(Token::Punct('{'))) = (self.peek(1), self.peek(2)) {
                        self.module.push(name.clone());
                        self.blocks.push(self.depth);
                    }
                }
                Token::Punct('{') => self.depth += 1,
                Token::Punct('}') => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.blocks.last() == Some(&self.depth) {
                        self.blocks.pop();
                        self.module.pop();
                    }
                }
                _ => {}
            }
            self.at += 1;
        }
        self.found
    }

    /// Extends `path` by the `a::b::c` at the current token, stopping before a `{`, `*` or `<`.
    fn path(&mut self, mut path: Vec<String>) -> Vec<String> {
        while let Some(Token::Ident(segment)) = self.peek(0) {
            // `self` inside braces (`use crate::db::{self, notify}`) names the prefix itself.
            if segment != "self" || path.is_empty() {
                path.push(segment.clone());
            }
            self.at += 1;
            if self.peek(0) != Some(&Token::PathSep) {
                break;
            }
            self.at += 1;
        }
        path
    }

    /// Records each leaf of the use tree at the current token, below `prefix`. A glob records the
    /// module it globs.
    fn use_tree(&mut self, prefix: Vec<String>) {
        let line = self.tokens.get(self.at).map_or(0, |(line, _)| *line);
        let path = self.path(prefix);
        match self.peek(0) {
            Some(Token::Punct('{')) => {
                self.at += 1;
                while self.peek(0).is_some_and(|token| *token != Token::Punct('}')) {
                    let before = self.at;
                    self.use_tree(path.clone());
                    // Past the `,`, or past whatever this parser does not understand.
                    self.at += usize::from(self.peek(0) == Some(&Token::Punct(',')) || self.at == before);
                }
                self.at += 1;
            }
            Some(Token::Punct('*')) => {
                self.at += 1;
                self.record(line, &path);
            }
            _ => {
                self.record(line, &path);
                if self.peek(0) == Some(&Token::Ident("as".into())) {
                    self.at += 2;
                }
            }
        }
    }
}

/// The absolute path of `path`, written in `module`, or None for another crate or a local name.
fn resolve(path: &[String], module: &[String]) -> Option<Vec<String>> {
    let (first, mut rest) = path.split_first()?;
    let mut target = match first.as_str() {
        "crate" => Vec::new(),
        "self" => module.to_vec(),
        "super" => module.split_last()?.1.to_vec(),
        _ => return None,
    };
    while let Some((_, after)) = rest.split_first().filter(|(segment, _)| *segment == "super") {
        target.pop()?;
        rest = after;
    }
    target.extend(rest.iter().cloned());
    Some(target)
}

/// The imports of one file, whose module is `module`.
fn imports(source: &str, module: &[String]) -> Vec<Import> {
    let tokens = tokenize(source);
    Parser { tokens, at: 0, module: module.to_vec(), blocks: Vec::new(), depth: 0, found: Vec::new() }.run()
}

/// A use of sibling module `to` by `from` (or by a file below it), both children of `parent`.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Edge {
    file: String,
    line: usize,
    parent: Vec<String>,
    from: String,
    to: String,
}

/// The edges between sibling modules at every level: `src/db/notify.rs` importing
/// `crate::services::x` is db -> services below the crate root. Imports of a file's own module,
/// its descendants or its ancestors are no edges.
fn edges(files: &[(String, String)]) -> BTreeSet<Edge> {
    let modules: BTreeSet<Vec<String>> = files.iter().map(|(path, _)| module_of(path)).collect();
    let mut edges = BTreeSet::new();
    for (file, source) in files {
        let module = module_of(file);
        for Import { line, target } in imports(source, &module) {
            let common = module.iter().zip(&target).take_while(|(a, b)| a == b).count();
            let (Some(from), Some(to)) = (module.get(common), target.get(common)) else { continue };
            let parent = module[..common].to_vec();
            // `services::Env`, an item of the parent, is no sibling.
            if modules.contains(&[parent.as_slice(), std::slice::from_ref(to)].concat()) {
                edges.insert(Edge { file: file.clone(), line, parent, from: from.clone(), to: to.clone() });
            }
        }
    }
    edges
}

/// The index of the layer `module` (a top-level module) is in.
fn layer_of(layers: &[&[&str]], module: &str) -> Option<usize> {
    layers.iter().position(|layer| layer.contains(&module))
}

/// A violation for each top-level module in no layer, named by the file that defines it.
fn unlayered(files: &[(String, String)], layers: &[&[&str]]) -> Vec<String> {
    let mut modules: Vec<(Vec<String>, &str)> =
        files.iter().map(|(path, _)| (module_of(path), path.as_str())).collect();
    modules.sort();
    let mut named = BTreeSet::new();
    modules
        .iter()
        .filter_map(|(module, file)| {
            let top = module.first()?;
            (layer_of(layers, top).is_none() && named.insert(top))
                .then(|| format!("{file}: module {top} is in no layer of docs/architecture.md"))
        })
        .collect()
}

/// Each module's siblings it uses, each with the first edge that shows it.
type Graph<'a> = BTreeMap<&'a str, BTreeMap<&'a str, &'a Edge>>;

/// The shortest cycle from `start` back to it (`start` first and last), if any.
fn shortest_cycle<'a>(graph: &Graph<'a>, start: &'a str) -> Option<Vec<&'a str>> {
    let mut came_from = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for &next in graph.get(node).into_iter().flat_map(BTreeMap::keys) {
            if next == start {
                let mut cycle = vec![node];
                while let Some(&previous) = came_from.get(cycle[cycle.len() - 1]) {
                    cycle.push(previous);
                }
                cycle.reverse();
                cycle.push(start);
                return Some(cycle);
            }
            if !came_from.contains_key(next) {
                came_from.insert(next, node);
                queue.push_back(next);
            }
        }
    }
    None
}

/// A violation for cycles among the siblings below each parent, enough of them that every module in
/// a cycle is named in one.
fn cycles<'a>(edges: impl Iterator<Item = &'a Edge>) -> Vec<String> {
    let mut graphs: BTreeMap<&[String], Graph> = BTreeMap::new();
    for edge in edges {
        graphs.entry(&edge.parent).or_default().entry(&edge.from).or_default().entry(&edge.to).or_insert(edge);
    }
    let mut violations = Vec::new();
    for (parent, graph) in &graphs {
        let mut named = BTreeSet::new();
        for &start in graph.keys() {
            if named.contains(start) {
                continue;
            }
            let Some(cycle) = shortest_cycle(graph, start) else { continue };
            named.extend(cycle.iter().copied());
            let place = if parent.is_empty() {
                "among top-level modules".into()
            } else {
                format!("inside {}", parent.join("::"))
            };
            let at: Vec<String> =
                cycle.windows(2).map(|w| graph[w[0]][w[1]]).map(|e| format!("{}:{}", e.file, e.line)).collect();
            violations.push(format!("cycle {place}: {} ({})", cycle.join(" -> "), at.join(", ")));
        }
    }
    violations
}

/// The violations of the layering in `files` (path relative to the crate, source): empty when clean.
fn check(files: &[(String, String)], layers: &[&[&str]]) -> Vec<String> {
    let mut violations = unlayered(files, layers);
    let edges = edges(files);
    let layer = |module: &str| layer_of(layers, module);
    for edge in edges.iter().filter(|edge| edge.parent.is_empty()) {
        if let (Some(from), Some(to)) = (layer(&edge.from), layer(&edge.to))
            && to > from
        {
            violations.push(format!(
                "{}:{}: {} (layer {from}) imports {} (layer {to})",
                edge.file, edge.line, edge.from, edge.to
            ));
        }
    }
    // A top-level cycle across layers has an upward edge, reported above; only same-layer ones remain.
    let same_layer =
        |edge: &&Edge| !edge.parent.is_empty() || layer(&edge.from).is_some_and(|l| layer(&edge.to) == Some(l));
    violations.extend(cycles(edges.iter().filter(same_layer)));
    violations
}

/// The library's files below `dir` (which is `relative` from the crate), except `src/main.rs` and
/// `src/bin/`: binaries are crates of their own.
fn library_sources(dir: &Path, relative: &str, sources: &mut Vec<(String, String)>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let relative = format!("{relative}/{}", path.file_name().unwrap().to_string_lossy());
        if path.is_dir() && relative != "src/bin" {
            library_sources(&path, &relative, sources);
        } else if relative.ends_with(".rs") && relative != "src/main.rs" {
            sources.push((relative, fs::read_to_string(&path).unwrap()));
        }
    }
}

#[test]
fn src_imports_point_down_only() {
    let mut files = Vec::new();
    library_sources(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src")), "src", &mut files);
    files.sort();
    assert!(files.iter().any(|(path, _)| path == "src/lib.rs"), "no src/lib.rs among {} files", files.len());
    let violations = check(&files, LAYERS);
    assert!(
        violations.is_empty(),
        "imports against the layers of docs/architecture.md (a lower layer that must cause work above it takes a callback from lib.rs):\n{}",
        violations.join("\n")
    );
}

/// The targets of the imports of `source` in the file `path`, as `a::b`.
fn found(source: &str, path: &str) -> Vec<String> {
    imports(source, &module_of(path)).iter().map(|import| import.target.join("::")).collect()
}

/// A small tree in the shape of the real one, whose imports all point down.
const TREE: &[(&str, &str)] = &[
    ("src/lib.rs", "pub mod db;\npub mod services;\nuse crate::services::Env;"),
    ("src/error.rs", "pub struct Error;"),
    ("src/db/mod.rs", "pub mod notify;\nuse crate::error::Error;\nuse self::notify::Listener;"),
    ("src/db/notify.rs", "use super::Pool;\nuse crate::error::Error;"),
    ("src/services/mod.rs", "pub mod collections;\npub mod items;\nuse crate::db::Pool;"),
    ("src/services/collections.rs", "use super::Env;\npub struct CollectionCache;"),
    ("src/services/items.rs", "use crate::services::{Env, collections::CollectionCache};\nuse crate::error::Error;"),
    ("src/manifest.rs", "use crate::services::Env;"),
];

/// The violations of [`TREE`] with these files replaced or added.
fn violations_with(changed: &[(&str, &str)]) -> Vec<String> {
    let unchanged = TREE.iter().filter(|(path, _)| changed.iter().all(|(changed, _)| changed != path));
    let files: Vec<(String, String)> = unchanged.chain(changed).map(|(p, s)| (p.to_string(), s.to_string())).collect();
    check(&files, LAYERS)
}

#[test]
fn a_file_defines_the_module_its_path_names() {
    assert!(module_of("src/lib.rs").is_empty());
    assert_eq!(module_of("src/db/mod.rs"), ["db"]);
    assert_eq!(module_of("src/db/notify.rs"), ["db", "notify"]);
    assert_eq!(module_of("src/services/items/stored.rs"), ["services", "items", "stored"]);
    assert_eq!(module_of("src/error.rs"), ["error"]);
}

#[test]
fn each_leaf_of_a_use_tree_is_an_import() {
    let source = "use crate::{a::{b, c}, d::e as f, g::*};\npub use crate::h;\npub(crate) use crate::i::j;\n\
                  use crate::db::{self, notify};\nuse std::sync::Arc;\nuse ::serde::Serialize;";
    assert_eq!(found(source, "src/x.rs"), ["a::b", "a::c", "d::e", "g", "h", "i::j", "db", "db::notify"]);
}

#[test]
fn paths_in_expressions_and_types_are_imports() {
    let source =
        "fn f(x: Vec<crate::hooks::HookError>) -> String {\n    crate::services::fields::format_datetime(x)\n}";
    let at: Vec<(usize, String)> = imports(source, &[]).into_iter().map(|i| (i.line, i.target.join("::"))).collect();
    assert_eq!(at, [(1, "hooks::HookError".into()), (2, "services::fields::format_datetime".into())]);
}

#[test]
fn super_and_self_resolve_against_the_files_module() {
    let source = "use super::Caches;\nuse self::inner::X;\nfn f() { super::Pool::new(); }";
    assert_eq!(found(source, "src/db/notify.rs"), ["db::Caches", "db::notify::inner::X", "db::Pool::new"]);
    assert_eq!(found(source, "src/db/mod.rs"), ["Caches", "db::inner::X", "Pool::new"]);
    assert_eq!(
        found("use super::super::{Env, fields};", "src/services/items/stored.rs"),
        ["services::Env", "services::fields"]
    );
    let block = "mod tests {\n    use super::*;\n    fn t() { if true {} }\n}\nuse super::Pool;";
    assert_eq!(found(block, "src/db/notify.rs"), ["db::notify", "db::Pool"]);
}

#[test]
fn comments_and_literals_are_not_imports() {
    let source = r##"//! See [`crate::services::Env`].
/// Calls [`crate::services::items`]. /* crate::services */
// crate::services::x
/* outer /* nested crate::services */ crate::services */
fn f<'a>(s: &'a str) -> &'static str {
    let _ = ('"', '\'', b'"', '\u{22}', "crate::services \" crate::services", r"crate::services\");
    let _ = (r#"a "crate::services" b"#, b"crate::services", br#"crate::services"#, c"crate::services");
    "crate::services
    crate::services"
}
use crate::db::X;"##;
    let at: Vec<(usize, String)> = imports(source, &[]).into_iter().map(|i| (i.line, i.target.join("::"))).collect();
    assert_eq!(at, [(11, "db::X".to_string())]);
}

#[test]
fn an_upward_import_is_reported() {
    let notify = ("src/db/notify.rs", "use super::Pool;\nuse crate::services::collections::CollectionCache;");
    assert_eq!(violations_with(&[notify]), ["src/db/notify.rs:2: db (layer 1) imports services (layer 4)"]);
}

#[test]
fn the_same_tree_without_the_upward_import_is_clean() {
    // The crate root uses services, services uses db (below), manifest uses services (its own
    // layer), db uses its own submodule notify, and items uses its sibling collections one way and
    // its parent services.
    assert_eq!(violations_with(&[]), Vec::<String>::new());
}

#[test]
fn imports_of_the_same_layer_or_a_lower_one_are_fine() {
    let manifest = ("src/manifest.rs", "use crate::services::Env;\nfn f(_: crate::db::Pool) -> crate::error::Error {}");
    assert_eq!(violations_with(&[manifest]), Vec::<String>::new());
}

#[test]
fn a_module_in_no_layer_is_reported() {
    let state = [("src/state/mod.rs", "pub mod app;"), ("src/state/app.rs", "use crate::db::Pool;")];
    assert_eq!(violations_with(&state), ["src/state/mod.rs: module state is in no layer of docs/architecture.md"]);
}

#[test]
fn a_cycle_within_one_layer_is_reported() {
    let cycle = [("src/auth/mod.rs", "use crate::tenancy::Tenant;"), ("src/tenancy.rs", "\nuse crate::auth::Caller;")];
    let expected = "cycle among top-level modules: auth -> tenancy -> auth (src/auth/mod.rs:1, src/tenancy.rs:2)";
    assert_eq!(violations_with(&cycle), [expected]);
}

#[test]
fn a_cycle_between_sibling_submodules_is_reported_at_every_level() {
    let collections = ("src/services/collections.rs", "use super::Env;\nuse super::items::StoredItem;");
    let expected = "cycle inside services: collections -> items -> collections (src/services/collections.rs:2, src/services/items.rs:1)";
    assert_eq!(violations_with(&[collections]), [expected]);
    let nested = [
        ("src/services/items/query.rs", "use super::stored::Stored;"),
        ("src/services/items/stored.rs", "fn f() { crate::services::items::query::run() }"),
    ];
    let expected = "cycle inside services::items: query -> stored -> query (src/services/items/query.rs:1, src/services/items/stored.rs:1)";
    assert_eq!(violations_with(&nested), [expected]);
}
