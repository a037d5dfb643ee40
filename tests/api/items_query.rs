//! The query language of `GET /api/items/{collection}` (docs/data-api.md "Listing"): a differential
//! test against an in-test reference evaluator written from the docs, on both databases; hostile
//! queries that must be refused as `invalid_query` without harm; and one small test for each rule the
//! reference relies on.
//!
//! The differential test is seeded: set `ITEMS_QUERY_SEED` (decimal or `0x…`) to replay another run.

use std::{
    cmp::Ordering,
    collections::{BTreeSet, HashMap},
    io::{Read, Write},
    time::{Duration, Instant},
};

use chrono::{DateTime, FixedOffset, TimeDelta, TimeZone, Utc};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::helpers::{
    TenantAdmin, TestApp, assert_problem, content_type, items::DataApi, json_body, spawn_app, spawn_sqlite_app,
    tenant_host,
};

// ---------------------------------------------------------------------------------------------
// A tiny deterministic PRNG (SplitMix64).
// ---------------------------------------------------------------------------------------------

const DEFAULT_SEED: u64 = 0x7E4A_47BA_5E00_2024;

fn seed() -> u64 {
    let Ok(text) = std::env::var("ITEMS_QUERY_SEED") else { return DEFAULT_SEED };
    let text = text.trim();
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.unwrap_or_else(|e| panic!("ITEMS_QUERY_SEED `{text}` is not a u64: {e}"))
}

struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Uniform in `low..=high`.
    fn range(&mut self, low: i64, high: i64) -> i64 {
        let span = (high - low) as u64 + 1;
        low + (self.next_u64() % span) as i64
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

// ---------------------------------------------------------------------------------------------
// The reference evaluator, written from docs/data-api.md.
// ---------------------------------------------------------------------------------------------

/// How a field's values compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `string` and `text`: by Unicode code point.
    Str,
    Int,
    Num,
    Bool,
    /// `datetime`: chronologically, whatever the offset.
    Time,
    Uuid,
}

const USER_FIELDS: [(&str, Kind); 9] = [
    ("code", Kind::Str),
    ("tag", Kind::Str),
    ("body", Kind::Str),
    ("rank", Kind::Int),
    ("views", Kind::Int),
    ("score", Kind::Num),
    ("active", Kind::Bool),
    ("at", Kind::Time),
    ("ref", Kind::Uuid),
];

const SYSTEM_FIELDS: [(&str, Kind); 5] = [
    ("id", Kind::Uuid),
    ("date_created", Kind::Time),
    ("date_updated", Kind::Time),
    ("user_created", Kind::Uuid),
    ("version", Kind::Int),
];

/// The `string` and `text` fields `search` looks in.
const SEARCHED: [&str; 3] = ["code", "tag", "body"];

const STRING_OPS: [&str; 13] = [
    "_eq",
    "_neq",
    "_lt",
    "_lte",
    "_gt",
    "_gte",
    "_in",
    "_nin",
    "_null",
    "_nnull",
    "_contains",
    "_starts_with",
    "_between",
];
const ORDERED_OPS: [&str; 11] =
    ["_eq", "_neq", "_lt", "_lte", "_gt", "_gte", "_in", "_nin", "_null", "_nnull", "_between"];
const BOOLEAN_OPS: [&str; 6] = ["_eq", "_neq", "_in", "_nin", "_null", "_nnull"];

fn kind_of(field: &str) -> Kind {
    USER_FIELDS
        .iter()
        .chain(SYSTEM_FIELDS.iter())
        .find(|(name, _)| *name == field)
        .map(|(_, kind)| *kind)
        .unwrap_or_else(|| panic!("the reference knows no field `{field}`"))
}

fn ops_for(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Str => &STRING_OPS,
        Kind::Bool => &BOOLEAN_OPS,
        _ => &ORDERED_OPS,
    }
}

fn parse_time(value: &Value) -> DateTime<Utc> {
    let text = value.as_str().unwrap_or_else(|| panic!("a datetime string, was {value}"));
    DateTime::parse_from_rfc3339(text).unwrap_or_else(|e| panic!("`{text}` is not RFC 3339: {e}")).with_timezone(&Utc)
}

fn parse_uuid(value: &Value) -> Uuid {
    let text = value.as_str().unwrap_or_else(|| panic!("a uuid string, was {value}"));
    Uuid::parse_str(text).unwrap_or_else(|e| panic!("`{text}` is not a uuid: {e}"))
}

/// Compares two non-null values of one kind (a stored value and an operand, or two stored values).
fn compare(kind: Kind, a: &Value, b: &Value) -> Ordering {
    match kind {
        Kind::Str => {
            let (a, b) = (a.as_str(), b.as_str());
            a.unwrap_or_else(|| panic!("a string, was {a:?}")).cmp(b.unwrap_or_else(|| panic!("a string, was {b:?}")))
        }
        Kind::Int => {
            let (x, y) = (a.as_i64(), b.as_i64());
            x.unwrap_or_else(|| panic!("an i64, was {a}")).cmp(&y.unwrap_or_else(|| panic!("an i64, was {b}")))
        }
        Kind::Num => {
            let (x, y) = (a.as_f64().unwrap_or(f64::NAN), b.as_f64().unwrap_or(f64::NAN));
            x.partial_cmp(&y).unwrap_or_else(|| panic!("finite numbers, were {a} and {b}"))
        }
        Kind::Bool => {
            let (x, y) = (a.as_bool(), b.as_bool());
            x.unwrap_or_else(|| panic!("a boolean, was {a}")).cmp(&y.unwrap_or_else(|| panic!("a boolean, was {b}")))
        }
        Kind::Time => parse_time(a).cmp(&parse_time(b)),
        Kind::Uuid => parse_uuid(a).cmp(&parse_uuid(b)),
    }
}

/// One operator on one stored value. A null (unset) value matches no comparison, only
/// `_null: true` / `_nnull: false`.
fn holds(kind: Kind, value: &Value, op: &str, operand: &Value) -> bool {
    let flag = || operand.as_bool().unwrap_or_else(|| panic!("{op} takes a boolean, was {operand}"));
    match op {
        "_null" => value.is_null() == flag(),
        "_nnull" => value.is_null() != flag(),
        _ if value.is_null() => false,
        "_eq" => compare(kind, value, operand) == Ordering::Equal,
        "_neq" => compare(kind, value, operand) != Ordering::Equal,
        "_lt" => compare(kind, value, operand) == Ordering::Less,
        "_lte" => compare(kind, value, operand) != Ordering::Greater,
        "_gt" => compare(kind, value, operand) == Ordering::Greater,
        "_gte" => compare(kind, value, operand) != Ordering::Less,
        "_in" | "_nin" => {
            let members = operand.as_array().unwrap_or_else(|| panic!("{op} takes an array, was {operand}"));
            let found = members.iter().any(|member| compare(kind, value, member) == Ordering::Equal);
            found == (op == "_in")
        }
        "_between" => {
            let bounds = operand.as_array().unwrap_or_else(|| panic!("_between takes an array, was {operand}"));
            compare(kind, value, &bounds[0]) != Ordering::Less && compare(kind, value, &bounds[1]) != Ordering::Greater
        }
        "_contains" | "_starts_with" => {
            let (text, needle) = (value.as_str().unwrap_or_default(), operand.as_str().unwrap_or_default());
            if op == "_contains" { text.contains(needle) } else { text.starts_with(needle) }
        }
        _ => panic!("the reference knows no operator {op}"),
    }
}

fn matches(filter: &Value, item: &Value) -> bool {
    let object = filter.as_object().unwrap_or_else(|| panic!("a filter is an object, was {filter}"));
    object.iter().all(|(key, condition)| match key.as_str() {
        "_and" => condition.as_array().into_iter().flatten().all(|child| matches(child, item)),
        "_or" => condition.as_array().into_iter().flatten().any(|child| matches(child, item)),
        field => {
            let kind = kind_of(field);
            let operators = condition.as_object().unwrap_or_else(|| panic!("{field}: operators, was {condition}"));
            operators.iter().all(|(op, operand)| holds(kind, &item[field], op, operand))
        }
    })
}

/// Case-insensitive for ASCII letters only.
fn search_matches(search: &str, item: &Value) -> bool {
    let needle = search.to_ascii_lowercase();
    SEARCHED.iter().any(|field| item[*field].as_str().is_some_and(|text| text.to_ascii_lowercase().contains(&needle)))
}

/// Nulls first ascending, last descending; `id` breaks the remaining ties in the direction of the
/// last sort key (ascending when there is none).
fn order(a: &Value, b: &Value, sort: &[(String, bool)]) -> Ordering {
    for (field, descending) in sort {
        let (x, y) = (&a[field.as_str()], &b[field.as_str()]);
        let ordering = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (false, false) => compare(kind_of(field), x, y),
        };
        let ordering = if *descending { ordering.reverse() } else { ordering };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    let by_id = compare(Kind::Uuid, &a["id"], &b["id"]);
    if sort.last().is_some_and(|(_, descending)| *descending) { by_id.reverse() } else { by_id }
}

// ---------------------------------------------------------------------------------------------
// Queries.
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, Default)]
struct Query {
    filter: Option<Value>,
    /// `(field, descending)`
    sort: Vec<(String, bool)>,
    limit: Option<i64>,
    offset: Option<i64>,
    search: Option<String>,
    total: bool,
    /// `fields=id`
    only_ids: bool,
}

#[derive(Debug, PartialEq)]
struct Outcome {
    ids: Vec<String>,
    total: Option<u64>,
}

impl Query {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        if let Some(filter) = &self.filter {
            pairs.push(("filter", filter.to_string()));
        }
        if !self.sort.is_empty() {
            let keys: Vec<String> = self
                .sort
                .iter()
                .map(|(field, descending)| format!("{}{field}", if *descending { "-" } else { "" }))
                .collect();
            pairs.push(("sort", keys.join(",")));
        }
        if let Some(limit) = self.limit {
            pairs.push(("limit", limit.to_string()));
        }
        if let Some(offset) = self.offset {
            pairs.push(("offset", offset.to_string()));
        }
        if let Some(search) = &self.search {
            pairs.push(("search", search.clone()));
        }
        if self.total {
            pairs.push(("meta", "total_count".to_string()));
        }
        if self.only_ids {
            pairs.push(("fields", "id".to_string()));
        }
        pairs
    }

    /// The query as a reader would type it (not URL-encoded).
    fn describe(&self) -> String {
        let pairs: Vec<String> = self.pairs().iter().map(|(name, value)| format!("{name}={value}")).collect();
        format!("GET /api/items/{COLLECTION}?{}", pairs.join("&"))
    }

    /// What docs/data-api.md says the answer is.
    fn expected(&self, items: &[Value]) -> Outcome {
        let mut hits: Vec<&Value> = items
            .iter()
            .filter(|item| self.filter.as_ref().is_none_or(|filter| matches(filter, item)))
            .filter(|item| self.search.as_ref().is_none_or(|search| search_matches(search, item)))
            .collect();
        let total = hits.len() as u64;
        hits.sort_by(|a, b| order(a, b, &self.sort));
        let offset = self.offset.unwrap_or(0) as usize;
        let limit = self.limit.unwrap_or(100) as usize;
        let ids = hits.iter().skip(offset).take(limit).map(|item| id_of(item)).collect();
        Outcome { ids, total: self.total.then_some(total) }
    }

    /// The same question with only the filter, only one of its conditions, only the search, only
    /// the sort: the smaller ones come first.
    fn reductions(&self) -> Vec<Query> {
        let base = Query { limit: Some(1000), only_ids: true, ..Query::default() };
        let mut reductions = Vec::new();
        if let Some(filter) = &self.filter {
            let mut conditions = Vec::new();
            leaves(filter, &mut conditions);
            for condition in conditions {
                reductions.push(Query { filter: Some(condition), ..base.clone() });
            }
            reductions.push(Query { filter: Some(filter.clone()), ..base.clone() });
        }
        if let Some(search) = &self.search {
            reductions.push(Query { search: Some(search.clone()), ..base.clone() });
        }
        for key in &self.sort {
            reductions.push(Query { sort: vec![key.clone()], ..base.clone() });
        }
        if self.sort.len() > 1 {
            reductions.push(Query { sort: self.sort.clone(), ..base.clone() });
        }
        reductions.push(Query { filter: self.filter.clone(), search: self.search.clone(), ..base.clone() });
        let mut seen = BTreeSet::new();
        reductions.retain(|reduction| seen.insert(reduction.describe()));
        reductions
    }
}

/// Every single `{field: {op: value}}` condition of a filter.
fn leaves(filter: &Value, out: &mut Vec<Value>) {
    let Some(object) = filter.as_object() else { return };
    for (key, condition) in object {
        match key.as_str() {
            "_and" | "_or" => condition.as_array().into_iter().flatten().for_each(|child| leaves(child, out)),
            field => {
                for (op, operand) in condition.as_object().into_iter().flatten() {
                    let leaf = json!({ field: { op: operand } });
                    if !out.contains(&leaf) {
                        out.push(leaf);
                    }
                }
            }
        }
    }
}

fn id_of(item: &Value) -> String {
    item["id"].as_str().unwrap_or_else(|| panic!("no id in {item}")).to_string()
}

// ---------------------------------------------------------------------------------------------
// Random data and random queries.
// ---------------------------------------------------------------------------------------------

const COLLECTION: &str = "things";
const ITEM_COUNT: usize = 150;
const BATCH: usize = 50;
const QUERY_COUNT: usize = 150;
/// Failing queries that get reduced to a minimal reproduction (each costs a few requests).
const REDUCED_FAILURES: usize = 6;

const CODE_CHARS: [&str; 18] =
    ["a", "b", "c", "A", "B", "Z", "0", "9", "-", "_", "%", "é", "É", "ß", " ", "～", "😀", "\\"];
const TAGS: [&str; 16] = [
    "alpha",
    "Alpha",
    "ALPHA",
    "beta",
    "Beta",
    "émile",
    "Émile",
    "e\u{301}mile",
    "straße",
    "STRASSE",
    "日本",
    "～",
    "😀",
    "zeta",
    "z",
    "",
];
const WORDS: [&str; 18] = [
    "lorem",
    "Ipsum",
    "DOLOR",
    "sit",
    "amet",
    "100%",
    "a_b",
    "back\\slash",
    "naïve",
    "NAÏVE",
    "café",
    "Café",
    "über",
    "ÜBER",
    "🙂",
    "日本語",
    "x'y",
    "q\"t",
];
const OFFSETS: [&str; 8] = ["Z", "+00:00", "+02:00", "-05:00", "+05:30", "-09:30", "+14:00", "-12:00"];
const EXTRA_SEARCHES: [&str; 9] = ["%", "_", "é", "É", "STRASSE", "a", "ß", "LOREM", "\\"];

fn things_collection() -> Value {
    json!({"name": COLLECTION, "fields": [
        {"name": "code", "type": "string", "indexed": true, "max_length": 64},
        {"name": "tag", "type": "string"},
        {"name": "body", "type": "text"},
        {"name": "rank", "type": "integer", "indexed": true},
        {"name": "views", "type": "integer"},
        {"name": "score", "type": "number"},
        {"name": "active", "type": "boolean"},
        {"name": "at", "type": "datetime", "indexed": true},
        {"name": "ref", "type": "uuid"},
    ]})
}

/// Values drawn more than once, so that equality, ties and ranges have hits.
struct Pools {
    times: Vec<DateTime<Utc>>,
    refs: Vec<Uuid>,
}

impl Pools {
    fn new(rng: &mut Rng) -> Self {
        let micros = [0, 0, 0, 500_000, 123_000, 123_456, 999_999, 1];
        let mut times = Vec::new();
        // 1950-01-01 .. 2100-01-01
        for _ in 0..36 {
            let seconds = rng.range(-631_152_000, 4_102_444_800);
            let micro = *rng.pick(&micros);
            times.push(Utc.timestamp_opt(seconds, micro * 1000).single().expect("a valid instant"));
        }
        // Neighbours a microsecond, a second and an hour apart.
        for _ in 0..6 {
            let base = *rng.pick(&times);
            let step = *rng.pick(&[TimeDelta::microseconds(1), TimeDelta::seconds(1), TimeDelta::hours(1)]);
            times.push(base + step);
        }
        // The ends of the accepted range (two days in, so that any offset stays inside it).
        times.push(Utc.timestamp_opt(-62_135_596_800 + 2 * 86_400, 0).single().expect("year 1"));
        times.push(Utc.timestamp_opt(253_402_300_799 - 2 * 86_400, 999_999_000).single().expect("year 9999"));
        let refs = (0..12).map(|_| random_uuid(rng)).collect();
        Pools { times, refs }
    }
}

fn random_uuid(rng: &mut Rng) -> Uuid {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
    bytes[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

fn render_uuid(rng: &mut Rng, id: Uuid) -> String {
    if rng.chance(0.3) { id.hyphenated().to_string().to_uppercase() } else { id.hyphenated().to_string() }
}

/// An RFC 3339 rendering of `t` in a random offset and precision (never finer than microseconds).
fn render_time(rng: &mut Rng, t: DateTime<Utc>) -> String {
    let micros = t.timestamp_subsec_micros();
    let fraction = if micros == 0 {
        *rng.pick(&["", ".000", "%.6f"])
    } else if micros.is_multiple_of(1000) && rng.chance(0.5) {
        "%.3f"
    } else {
        "%.6f"
    };
    let offset = *rng.pick(&OFFSETS);
    if offset == "Z" {
        return t.format(&format!("%Y-%m-%dT%H:%M:%S{fraction}Z")).to_string();
    }
    let sign = if offset.starts_with('-') { -1 } else { 1 };
    let hours: i32 = offset[1..3].parse().expect("offset hours");
    let minutes: i32 = offset[4..6].parse().expect("offset minutes");
    let zone = FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60)).expect("a valid offset");
    t.with_timezone(&zone).format(&format!("%Y-%m-%dT%H:%M:%S{fraction}%:z")).to_string()
}

fn random_code(rng: &mut Rng) -> String {
    let length = rng.range(1, 6);
    (0..length).map(|_| *rng.pick(&CODE_CHARS)).collect()
}

fn random_body(rng: &mut Rng) -> String {
    let words = rng.range(1, 4);
    (0..words).map(|_| *rng.pick(&WORDS)).collect::<Vec<_>>().join(" ")
}

/// Whether `x` survives a trip through this build's serde_json (without `float_roundtrip` it may
/// misread the last digit); the differential sticks to such numbers, as exactness has its own test.
fn reads_back(x: f64) -> bool {
    serde_json::to_string(&x).ok().and_then(|text| serde_json::from_str::<f64>(&text).ok()) == Some(x)
}

fn random_score(rng: &mut Rng) -> f64 {
    loop {
        let x = any_score(rng);
        if reads_back(x) {
            return x;
        }
    }
}

fn any_score(rng: &mut Rng) -> f64 {
    match rng.below(4) {
        0 => rng.range(-20, 20) as f64,
        1 => rng.range(-40, 40) as f64 / *rng.pick(&[2.0, 3.0, 4.0, 8.0, 10.0]),
        2 => *rng.pick(&[
            -1e10,
            -0.001,
            1e-7,
            0.1,
            0.2,
            0.30000000000000004,
            123_456.789,
            1e300,
            -1e300,
            1e-300,
            -1e-300,
            2.5,
        ]),
        _ => (rng.unit() - 0.5) * 200.0,
    }
}

fn random_rank(rng: &mut Rng) -> i64 {
    if rng.chance(0.06) {
        *rng.pick(&[i64::MAX, i64::MIN, 9_007_199_254_740_993, 9_007_199_254_740_992, -9_007_199_254_740_993])
    } else {
        rng.range(-50, 50)
    }
}

/// An item body: ~20% of the fields unset, half of those by omission and half as explicit nulls.
fn random_item(rng: &mut Rng, pools: &Pools) -> Value {
    let mut item = Map::new();
    for (name, _) in USER_FIELDS {
        if rng.chance(0.2) {
            if rng.chance(0.5) {
                item.insert(name.to_string(), Value::Null);
            }
            continue;
        }
        let value = match name {
            "code" => json!(random_code(rng)),
            "tag" => json!(rng.pick(&TAGS)),
            "body" => json!(random_body(rng)),
            "rank" => json!(random_rank(rng)),
            "views" => json!(rng.range(0, 20)),
            "score" => json!(random_score(rng)),
            "active" => json!(rng.chance(0.5)),
            "at" => {
                let t = *rng.pick(&pools.times);
                json!(render_time(rng, t))
            }
            "ref" => {
                let id = *rng.pick(&pools.refs);
                json!(render_uuid(rng, id))
            }
            other => unreachable!("{other}"),
        };
        item.insert(name.to_string(), value);
    }
    Value::Object(item)
}

/// A stored value of `field` from a random item, if one of a few tries finds a set one.
fn some_value(rng: &mut Rng, items: &[Value], field: &str) -> Option<Value> {
    (0..8).map(|_| rng.pick(items)[field].clone()).find(|value| !value.is_null())
}

fn chars_of(text: &str) -> Vec<char> {
    text.chars().collect()
}

fn substring(rng: &mut Rng, text: &str) -> String {
    let chars = chars_of(text);
    if chars.is_empty() {
        return String::new();
    }
    let start = rng.below(chars.len());
    let end = start + 1 + rng.below(chars.len() - start);
    chars[start..end].iter().collect()
}

fn prefix(rng: &mut Rng, text: &str) -> String {
    let chars = chars_of(text);
    if chars.is_empty() {
        return String::new();
    }
    let end = 1 + rng.below(chars.len());
    chars[..end].iter().collect()
}

/// Flips the case of ASCII letters only.
fn flip_ascii_case(text: &str) -> String {
    text.chars().map(|c| if c.is_ascii_lowercase() { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() }).collect()
}

/// A comparison operand for `field`: a stored value or one near it.
fn operand(rng: &mut Rng, items: &[Value], pools: &Pools, field: &str, kind: Kind) -> Value {
    let base = some_value(rng, items, field);
    match kind {
        Kind::Str => {
            let text = base.and_then(|value| value.as_str().map(str::to_string)).unwrap_or_default();
            match rng.below(8) {
                0..=2 => json!(text),
                3 => json!(format!("{text}a")),
                4 => json!(prefix(rng, &text)),
                5 => json!(flip_ascii_case(&text)),
                6 if field == "tag" => json!(rng.pick(&TAGS)),
                _ => json!(random_code(rng)),
            }
        }
        Kind::Int => {
            let n = base.and_then(|value| value.as_i64()).unwrap_or(0);
            match rng.below(6) {
                0..=2 => json!(n),
                3 => json!(n.saturating_add(1)),
                4 => json!(n.saturating_sub(1)),
                _ => json!(rng.range(-60, 60)),
            }
        }
        Kind::Num => {
            let x = base.and_then(|value| value.as_f64()).unwrap_or(0.0);
            let near = match rng.below(7) {
                0..=2 => json!(x),
                3 => json!(x + 0.5),
                4 => json!(x - 0.5),
                // The next float up: a number store that is not a double would confuse the two.
                5 if x > 0.0 => json!(f64::from_bits(x.to_bits() + 1)),
                5 => json!(x + 1e-9),
                // A JSON integer for a number field.
                _ => json!(x.round().clamp(-1e15, 1e15) as i64),
            };
            // Operands obey the rules of values: finite, |x| ≤ 1e300.
            if near.as_f64().is_some_and(|near| reads_back(near) && near.abs() <= 1e300) { near } else { json!(x) }
        }
        Kind::Bool => json!(rng.chance(0.5)),
        Kind::Time => {
            let t = base.as_ref().map(parse_time).unwrap_or(pools.times[0]);
            let t = match rng.below(9) {
                0..=3 => t,
                4 => t + TimeDelta::microseconds(1),
                5 => t - TimeDelta::microseconds(1),
                6 => t + TimeDelta::seconds(1),
                7 => t - TimeDelta::hours(1),
                _ => *rng.pick(&pools.times),
            };
            json!(render_time(rng, t))
        }
        Kind::Uuid => {
            let id = match rng.below(5) {
                0 => random_uuid(rng),
                1 if field == "ref" => *rng.pick(&pools.refs),
                _ => base.as_ref().map(parse_uuid).unwrap_or_else(|| random_uuid(rng)),
            };
            json!(render_uuid(rng, id))
        }
    }
}

/// The operand of `_contains` / `_starts_with`.
fn fragment(rng: &mut Rng, items: &[Value], field: &str, op: &str) -> String {
    let text = some_value(rng, items, field).and_then(|value| value.as_str().map(str::to_string)).unwrap_or_default();
    match rng.below(10) {
        0 => String::new(),
        1 => rng.pick(&["%", "_", "\\", "é", "É", "ß", "a", "A", "%a", "_b"]).to_string(),
        2 => flip_ascii_case(&substring(rng, &text)),
        _ if op == "_starts_with" => prefix(rng, &text),
        _ => substring(rng, &text),
    }
}

fn condition(rng: &mut Rng, items: &[Value], pools: &Pools, field: &str, kind: Kind, op: &str) -> Value {
    match op {
        "_null" | "_nnull" => json!(rng.chance(0.5)),
        "_in" | "_nin" => {
            let count = if rng.chance(0.06) { 0 } else { rng.range(1, 5) };
            Value::Array((0..count).map(|_| operand(rng, items, pools, field, kind)).collect())
        }
        "_between" => {
            let low = operand(rng, items, pools, field, kind);
            let high = operand(rng, items, pools, field, kind);
            if rng.chance(0.75) && compare(kind, &low, &high) == Ordering::Greater {
                json!([high, low])
            } else {
                json!([low, high])
            }
        }
        "_contains" | "_starts_with" => json!(fragment(rng, items, field, op)),
        _ => operand(rng, items, pools, field, kind),
    }
}

/// A filter with `_and` / `_or` nested at most three deep.
fn random_filter(rng: &mut Rng, items: &[Value], pools: &Pools, depth: usize) -> Value {
    let mut object = Map::new();
    if depth < 3 && rng.chance(if depth == 0 { 0.5 } else { 0.35 }) {
        let logical = if rng.chance(0.5) { "_and" } else { "_or" };
        let count = if rng.chance(0.05) { 0 } else { rng.range(1, 3) };
        let children = (0..count).map(|_| random_filter(rng, items, pools, depth + 1)).collect();
        object.insert(logical.to_string(), Value::Array(children));
        return Value::Object(object);
    }
    let fields = if rng.chance(0.2) { 2 } else { 1 };
    for _ in 0..fields {
        let (field, kind) = if rng.chance(0.15) { *rng.pick(&SYSTEM_FIELDS) } else { *rng.pick(&USER_FIELDS) };
        let mut operators = Map::new();
        let count = if rng.chance(0.2) { 2 } else { 1 };
        for _ in 0..count {
            let op = *rng.pick(ops_for(kind));
            operators.insert(op.to_string(), condition(rng, items, pools, field, kind, op));
        }
        object.insert(field.to_string(), Value::Object(operators));
    }
    Value::Object(object)
}

fn random_sort(rng: &mut Rng) -> Vec<(String, bool)> {
    if rng.chance(0.15) {
        return Vec::new();
    }
    let count = rng.range(1, 3) as usize;
    let mut sort: Vec<(String, bool)> = Vec::new();
    while sort.len() < count {
        let (field, _) = if rng.chance(0.25) { *rng.pick(&SYSTEM_FIELDS) } else { *rng.pick(&USER_FIELDS) };
        if !sort.iter().any(|(taken, _)| taken == field) {
            sort.push((field.to_string(), rng.chance(0.5)));
        }
    }
    sort
}

fn random_search(rng: &mut Rng, items: &[Value]) -> String {
    let field = *rng.pick(&SEARCHED);
    let text = some_value(rng, items, field).and_then(|value| value.as_str().map(str::to_string)).unwrap_or_default();
    let mut search = substring(rng, &text);
    if rng.chance(0.5) {
        search = flip_ascii_case(&search);
    }
    if search.is_empty() || rng.chance(0.15) { rng.pick(&EXTRA_SEARCHES).to_string() } else { search }
}

fn random_query(rng: &mut Rng, items: &[Value], pools: &Pools) -> Query {
    let filter = if rng.chance(0.9) { Some(random_filter(rng, items, pools, 0)) } else { None };
    let sort = random_sort(rng);
    let limit = if rng.chance(0.3) {
        None
    } else if rng.chance(0.5) {
        Some(*rng.pick(&[0, 1, 2, 3, 5, 10, 25, 50, 100, 150, 1000]))
    } else {
        Some(rng.range(0, 200))
    };
    let offset = if rng.chance(0.5) {
        None
    } else if rng.chance(0.2) {
        Some(0)
    } else if rng.chance(0.7) {
        Some(rng.range(1, 30))
    } else {
        Some(rng.range(0, 160))
    };
    let search = if rng.chance(0.2) { Some(random_search(rng, items)) } else { None };
    Query { filter, sort, limit, offset, search, total: rng.chance(0.3), only_ids: rng.chance(0.5) }
}

// ---------------------------------------------------------------------------------------------
// The differential test.
// ---------------------------------------------------------------------------------------------

struct Differential<'a> {
    api: DataApi<'a>,
    /// As returned by the API at creation, in creation order.
    items: Vec<Value>,
    by_id: HashMap<String, usize>,
}

impl Differential<'_> {
    /// The API's answer, or why it is not a 200 list.
    async fn ask(&self, query: &Query) -> Result<(Outcome, Vec<Value>), String> {
        let pairs = query.pairs();
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(name, value)| (*name, value.as_str())).collect();
        let response = self.api.list(COLLECTION, &pairs).await;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if status != StatusCode::OK {
            return Err(format!("answered {status}: {text}"));
        }
        let body: Value =
            serde_json::from_str(&text).map_err(|e| format!("answered 200 with no JSON ({e}): {text}"))?;
        let data = body["data"].as_array().ok_or_else(|| format!("no data array in {body}"))?.clone();
        let ids = data.iter().map(|item| item["id"].as_str().unwrap_or("<no id>").to_string()).collect();
        let total = if query.total {
            Some(body["meta"]["total_count"].as_u64().ok_or_else(|| format!("no meta.total_count in {body}"))?)
        } else {
            None
        };
        Ok((Outcome { ids, total }, data))
    }

    fn label(&self, id: &str) -> String {
        self.by_id.get(id).map(|index| format!("#{index}")).unwrap_or_else(|| id.to_string())
    }

    fn labels(&self, ids: &[String]) -> String {
        let mut labels: Vec<String> = ids.iter().take(40).map(|id| self.label(id)).collect();
        if ids.len() > 40 {
            labels.push(format!("… {} more", ids.len() - 40));
        }
        format!("({}) [{}]", ids.len(), labels.join(", "))
    }

    /// Describes a disagreement: both answers and the items that make the difference.
    fn explain(&self, query: &Query, expected: &Outcome, actual: &Result<(Outcome, Vec<Value>), String>) -> String {
        let mut text = format!("  query:     {}\n  reference: {}", query.describe(), self.labels(&expected.ids));
        if let Some(total) = expected.total {
            text.push_str(&format!(" total_count {total}"));
        }
        let actual = match actual {
            Err(why) => return format!("{text}\n  api:       {why}"),
            Ok((actual, _)) => actual,
        };
        text.push_str(&format!("\n  api:       {}", self.labels(&actual.ids)));
        if let Some(total) = actual.total {
            text.push_str(&format!(" total_count {total}"));
        }
        let expected_set: BTreeSet<&String> = expected.ids.iter().collect();
        let actual_set: BTreeSet<&String> = actual.ids.iter().collect();
        let mut involved: Vec<&String> = expected_set.symmetric_difference(&actual_set).copied().collect();
        if involved.is_empty()
            && let Some(at) = expected.ids.iter().zip(&actual.ids).position(|(a, b)| a != b)
        {
            text.push_str(&format!("\n  first difference at position {at}"));
            involved = vec![&expected.ids[at], &actual.ids[at]];
        }
        for id in involved.iter().take(6) {
            let item = self.by_id.get(id.as_str()).map(|index| self.items[*index].to_string());
            text.push_str(&format!(
                "\n    {} {}",
                self.label(id),
                item.unwrap_or_else(|| "(not an item of ours)".into())
            ));
        }
        if involved.len() > 6 {
            text.push_str(&format!("\n    … {} more items differ", involved.len() - 6));
        }
        text
    }

    /// `None` when the API agrees with the reference, else the explanation.
    async fn check(&self, query: &Query) -> Option<String> {
        let expected = query.expected(&self.items);
        let actual = self.ask(query).await;
        let mut problems = Vec::new();
        match &actual {
            Ok((outcome, _)) if *outcome == expected => {}
            _ => problems.push(self.explain(query, &expected, &actual)),
        }
        if let (Ok((_, data)), false) = (&actual, query.only_ids) {
            for item in data {
                let stored = self.by_id.get(item["id"].as_str().unwrap_or_default()).map(|index| &self.items[*index]);
                if stored != Some(item) {
                    problems
                        .push(format!("  {}\n  returned {item}\n  but it was created as {stored:?}", query.describe()));
                    break;
                }
            }
        }
        if problems.is_empty() { None } else { Some(problems.join("\n")) }
    }

    /// The smallest related queries that disagree too.
    async fn reduce(&self, query: &Query) -> String {
        let mut found = Vec::new();
        for reduction in query.reductions() {
            let expected = reduction.expected(&self.items);
            let actual = self.ask(&reduction).await;
            if !matches!(&actual, Ok((outcome, _)) if *outcome == expected) {
                found.push(self.explain(&reduction, &expected, &actual));
                if found.len() == 2 {
                    break;
                }
            }
        }
        if found.is_empty() {
            "  no smaller query disagrees: it takes this combination of filter, search, sort, limit and offset".into()
        } else {
            format!("  minimal reproduction:\n{}", found.join("\n  also:\n"))
        }
    }
}

async fn random_queries_agree_with_the_reference(app: TestApp, database: &str) {
    let started = Instant::now();
    let seed = seed();
    let mut rng = Rng(seed);
    let acme = app.tenant_admin("acme").await;
    let api = app.data(&acme);
    api.collection(&things_collection()).await;

    let pools = Pools::new(&mut rng);
    let bodies: Vec<Value> = (0..ITEM_COUNT).map(|_| random_item(&mut rng, &pools)).collect();
    let mut items = Vec::new();
    for batch in bodies.chunks(BATCH) {
        items.extend(api.items(COLLECTION, batch).await);
    }
    assert_eq!(items.len(), ITEM_COUNT, "[{database}, seed {seed:#x}] every item is created");

    let mut failures = Vec::new();
    // What the API returned must be what was sent, normalised.
    for (index, (body, item)) in bodies.iter().zip(&items).enumerate() {
        for (field, kind) in USER_FIELDS {
            let (sent, stored) = (&body[field], &item[field]);
            let same = match (sent.is_null(), stored.is_null()) {
                (true, true) => true,
                (false, false) => compare(kind, sent, stored) == Ordering::Equal,
                _ => false,
            };
            let normalised = match kind {
                Kind::Time => stored.as_str().is_none_or(is_normalised_time),
                Kind::Uuid => {
                    stored.as_str().is_none_or(|text| Uuid::parse_str(text).is_ok_and(|id| id.to_string() == text))
                }
                _ => true,
            };
            if !same || !normalised {
                failures.push(format!("  item #{index}: `{field}` was sent as {sent} and came back as {stored}"));
            }
        }
    }
    let by_id: HashMap<String, usize> = items.iter().enumerate().map(|(index, item)| (id_of(item), index)).collect();
    let differential = Differential { api, items, by_id };
    let everything = Query { limit: Some(1000), ..Query::default() };
    if let Some(failure) = differential.check(&everything).await {
        failures.push(format!("listing everything:\n{failure}"));
    }

    let mut disagreements = 0;
    for number in 0..QUERY_COUNT {
        let query = random_query(&mut rng, &differential.items, &pools);
        if let Some(failure) = differential.check(&query).await {
            disagreements += 1;
            let mut text = format!("query {number}:\n{failure}");
            if disagreements <= REDUCED_FAILURES {
                text.push('\n');
                text.push_str(&differential.reduce(&query).await);
            }
            failures.push(text);
        }
    }
    let elapsed = started.elapsed();
    eprintln!("[{database}, seed {seed:#x}] {QUERY_COUNT} random queries over {ITEM_COUNT} items in {elapsed:?}");

    assert!(
        failures.is_empty(),
        "[{database}, seed {seed:#x}] {} problems; {disagreements} of {QUERY_COUNT} random queries disagree with the \
         reference evaluator of docs/data-api.md (items are #index in creation order; replay with \
         ITEMS_QUERY_SEED={seed:#x}):\n\n{}",
        failures.len(),
        failures.iter().take(12).cloned().collect::<Vec<_>>().join("\n\n")
    );
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`
fn is_normalised_time(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 27
        && text.ends_with('Z')
        && bytes[19] == b'.'
        && bytes[20..26].iter().all(u8::is_ascii_digit)
        && DateTime::parse_from_rfc3339(text).is_ok()
}

#[tokio::test]
async fn random_queries_agree_with_the_reference_evaluator_on_postgres() {
    random_queries_agree_with_the_reference(spawn_app().await, "postgres").await;
}

#[tokio::test]
async fn random_queries_agree_with_the_reference_evaluator_on_sqlite() {
    random_queries_agree_with_the_reference(spawn_sqlite_app().await, "sqlite").await;
}

// ---------------------------------------------------------------------------------------------
// Hostile queries.
// ---------------------------------------------------------------------------------------------

fn articles_collection() -> Value {
    json!({"name": "articles", "fields": [
        {"name": "title", "type": "string"},
        {"name": "body", "type": "text"},
        {"name": "views", "type": "integer"},
        {"name": "published", "type": "boolean"},
        {"name": "at", "type": "datetime"},
        {"name": "ref", "type": "uuid"},
        {"name": "meta", "type": "json"},
    ]})
}

fn article_bodies() -> Vec<Value> {
    vec![
        json!({"title": "first", "body": "plain words", "views": 1, "published": true,
               "at": "2024-01-01T00:00:00Z", "ref": "0190f0a8-0000-7000-8000-000000000001", "meta": {"k": 1}}),
        json!({"title": "second", "views": 2, "published": false, "at": "2024-06-01T12:00:00+02:00"}),
        json!({"title": "third", "body": "more words", "views": 3}),
    ]
}

/// What a hostile request must get.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// 400 `invalid_query`, as problem+json.
    Invalid,
    /// Any 4xx (the request may be refused before the app sees it); a problem with a 400 says `invalid_query`.
    ClientError,
    /// 400 `invalid_query`, or 200 with no items.
    InvalidOrNothing,
    /// 200 with exactly this many items.
    Items(usize),
}

/// How a hostile request is sent.
enum Sent {
    /// Query pairs, URL-encoded by the client.
    Pairs(Vec<(&'static str, String)>),
    /// A raw query string, sent as is (the URL parser only escapes `"`, space, `<`, `>`).
    Raw(String),
}

struct Hostile {
    what: String,
    sent: Sent,
    expect: Expect,
}

fn filter_case(what: &str, filter: &str, expect: Expect) -> Hostile {
    Hostile { what: what.to_string(), sent: Sent::Pairs(vec![("filter", filter.to_string())]), expect }
}

fn param_case(what: &str, name: &'static str, value: &str, expect: Expect) -> Hostile {
    Hostile { what: what.to_string(), sent: Sent::Pairs(vec![(name, value.to_string())]), expect }
}

fn nested(depth: usize) -> String {
    format!("{}{}{}", r#"{"_and":["#.repeat(depth), r#"{"views":{"_eq":1}}"#, "]}".repeat(depth))
}

fn in_list(op: &str, count: usize, start: usize) -> String {
    let values: Vec<String> = (start..start + count).map(|n| n.to_string()).collect();
    format!(r#"{{"views":{{"{op}":[{}]}}}}"#, values.join(","))
}

fn hostile_cases() -> Vec<Hostile> {
    use Expect::{ClientError, Invalid, InvalidOrNothing, Items};
    let mut cases = vec![
        // Field names.
        filter_case("an unknown field", r#"{"nope":{"_eq":1}}"#, Invalid),
        filter_case("SQL in a field name", r#"{"title; DROP TABLE items;--":{"_eq":1}}"#, Invalid),
        filter_case("a JSON path in a field name", r#"{"data->>'x'":{"_eq":1}}"#, Invalid),
        filter_case("a quote in a field name", r#"{"title\"":{"_eq":1}}"#, Invalid),
        filter_case("a NUL in a field name", r#"{"title\u0000":{"_eq":"x"}}"#, Invalid),
        filter_case("an operator in place of a field", r#"{"_eq":1}"#, Invalid),
        filter_case("an unknown logical operator", r#"{"_not":[{"views":{"_eq":1}}]}"#, Invalid),
        // Operators.
        filter_case("the unknown operator _regex", r#"{"title":{"_regex":".*"}}"#, Invalid),
        filter_case("the unknown operator _like", r#"{"title":{"_like":"%"}}"#, Invalid),
        filter_case("a string for an integer", r#"{"views":{"_gt":"ten"}}"#, Invalid),
        filter_case("_in with a number", r#"{"views":{"_in":5}}"#, Invalid),
        filter_case("_in with a member of the wrong type", r#"{"views":{"_in":[1,"x"]}}"#, Invalid),
        filter_case("_between with one bound", r#"{"views":{"_between":[1]}}"#, Invalid),
        filter_case("_between with three bounds", r#"{"views":{"_between":[1,2,3]}}"#, Invalid),
        filter_case("_between with a wrong bound", r#"{"views":{"_between":[1,"x"]}}"#, Invalid),
        filter_case("_null with a string", r#"{"title":{"_null":"yes"}}"#, Invalid),
        filter_case("_nnull with a number", r#"{"title":{"_nnull":1}}"#, Invalid),
        filter_case("_contains on an integer", r#"{"views":{"_contains":"1"}}"#, Invalid),
        filter_case("_starts_with on a datetime", r#"{"at":{"_starts_with":"2024"}}"#, Invalid),
        filter_case("_contains with a number", r#"{"title":{"_contains":5}}"#, Invalid),
        filter_case("a null operand", r#"{"views":{"_eq":null}}"#, Invalid),
        filter_case("a fraction for an integer", r#"{"views":{"_eq":1.5}}"#, Invalid),
        filter_case("an integer beyond i64", r#"{"views":{"_eq":9223372036854775808}}"#, Invalid),
        filter_case("an ordered comparison on a boolean", r#"{"published":{"_lt":true}}"#, Invalid),
        filter_case("_between on a boolean", r#"{"published":{"_between":[false,true]}}"#, Invalid),
        filter_case("a string for a boolean", r#"{"published":{"_eq":"true"}}"#, Invalid),
        filter_case("a word for a datetime", r#"{"at":{"_gt":"yesterday"}}"#, Invalid),
        filter_case("an impossible date", r#"{"at":{"_gt":"2024-02-30T00:00:00Z"}}"#, Invalid),
        filter_case("not a uuid", r#"{"ref":{"_eq":"not-a-uuid"}}"#, Invalid),
        filter_case("SQL for an id", r#"{"id":{"_eq":"1 OR 1=1"}}"#, Invalid),
        filter_case("a string for the version", r#"{"version":{"_gte":"1"}}"#, Invalid),
        filter_case("_eq on a json field", r#"{"meta":{"_eq":"x"}}"#, Invalid),
        // Shapes.
        filter_case("a condition that is not an object", r#"{"views":5}"#, Invalid),
        filter_case("_and with an object", r#"{"_and":{"views":{"_eq":1}}}"#, Invalid),
        filter_case("_or with a number member", r#"{"_or":[1]}"#, Invalid),
        filter_case("a filter that is a JSON array", r#"[{"views":{"_eq":1}}]"#, Invalid),
        filter_case("a filter that is an empty array", "[]", Invalid),
        filter_case("a filter that is a number", "5", Invalid),
        filter_case("a filter that is a string", r#""views""#, Invalid),
        filter_case("a filter that is null", "null", Invalid),
        filter_case("malformed JSON", r#"{"views":"#, Invalid),
        filter_case("not JSON at all", "views=1", Invalid),
        filter_case("single-quoted JSON", "{'views':{'_eq':1}}", Invalid),
        filter_case("JSON followed by SQL", r#"{"views":{"_eq":1}} OR 1=1"#, Invalid),
        filter_case("nesting 20 deep", &nested(20), Invalid),
        filter_case("a filter over 8 KiB", &format!(r#"{{"title":{{"_eq":"{}"}}}}"#, "a".repeat(9000)), Invalid),
        filter_case("_in with 501 values", &in_list("_in", 501, 1000), Invalid),
        filter_case("_nin with 501 values", &in_list("_nin", 501, 1000), Invalid),
        // Limits and offsets.
        param_case("limit=-1", "limit", "-1", Invalid),
        param_case("limit=1001", "limit", "1001", Invalid),
        param_case("limit=1000000000", "limit", "1000000000", Invalid),
        param_case("limit=99999999999999999999", "limit", "99999999999999999999", Invalid),
        param_case("limit=abc", "limit", "abc", Invalid),
        param_case("limit=1.5", "limit", "1.5", Invalid),
        param_case("offset=-5", "offset", "-5", Invalid),
        param_case("offset=abc", "offset", "abc", Invalid),
        // Sort and fields.
        param_case("sort on an unknown field", "sort", "nope", Invalid),
        param_case("sort on `-`", "sort", "-", Invalid),
        param_case("sort on an unknown field, descending", "sort", "-nope", Invalid),
        param_case("sort with a double minus", "sort", "--views", Invalid),
        param_case("sort on a json field", "sort", "meta", Invalid),
        param_case("SQL in sort", "sort", "title; DROP TABLE items", Invalid),
        param_case("SQL in sort 2", "sort", "views desc, (SELECT 1)", Invalid),
        param_case(
            "sort on nine fields",
            "sort",
            "title,views,published,at,ref,body,id,date_created,date_updated",
            Invalid,
        ),
        param_case("fields with an unknown field", "fields", "nope", Invalid),
        param_case("fields with one unknown field", "fields", "title,nope", Invalid),
        param_case("SQL in fields", "fields", "title, (SELECT 1)", Invalid),
        // Values that are only values.
        filter_case("SQL in a value", r#"{"title":{"_eq":"' OR 1=1 --"}}"#, Items(0)),
        filter_case("SQL in a value 2", r#"{"title":{"_eq":"x'; DROP TABLE items; --"}}"#, Items(0)),
        filter_case("SQL in _in values", r#"{"title":{"_in":["') OR ('1'='1","\"; DROP TABLE items; --"]}}"#, Items(0)),
        filter_case("SQL in _contains", r#"{"title":{"_contains":"' OR ''='"}}"#, Items(0)),
        filter_case("a LIKE wildcard in _contains", r#"{"title":{"_contains":"%"}}"#, Items(0)),
        filter_case("a LIKE wildcard in _starts_with", r#"{"title":{"_starts_with":"_"}}"#, Items(0)),
        filter_case("a NUL in a value", r#"{"title":{"_eq":"a\u0000b"}}"#, InvalidOrNothing),
        param_case("SQL in search", "search", "' OR 1=1 --", Items(0)),
        param_case("a LIKE wildcard in search", "search", "%", Items(0)),
        param_case("a NUL in search", "search", "a\u{0}b", InvalidOrNothing),
        filter_case("_in with 500 values (the maximum)", &in_list("_in", 500, 1000), Items(0)),
        filter_case("_null on a json field", r#"{"meta":{"_null":false}}"#, Items(1)),
        filter_case("nesting 3 deep", &nested(3), Items(1)),
    ];
    cases.push(Hostile {
        what: "a filter nested 3,000 deep (~45 KB)".into(),
        sent: Sent::Raw(format!("filter={}", nested(3000))),
        expect: Invalid,
    });
    cases.push(Hostile {
        what: "_in with 10,000 values (~49 KB)".into(),
        sent: Sent::Raw(format!("filter={}", in_list("_in", 10_000, 0))),
        expect: ClientError,
    });
    cases
}

/// `None` if the response is what `expect` asks for, else why not.
async fn judge(response: Response, expect: Expect) -> Option<String> {
    let status = response.status();
    let content_type = content_type(&response);
    let text = response.text().await.unwrap_or_default();
    let shown: String = text.chars().take(300).collect();
    let problem = content_type.starts_with("application/problem+json");
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let invalid_query = status == StatusCode::BAD_REQUEST
        && problem
        && body["code"] == "invalid_query"
        && body["status"] == 400
        && body["title"].is_string()
        && body["type"].is_string();
    let fine = match expect {
        Expect::Invalid => invalid_query,
        Expect::ClientError => {
            status.is_client_error()
                && (status != StatusCode::BAD_REQUEST || !problem || body["code"] == "invalid_query")
        }
        Expect::InvalidOrNothing => invalid_query || (status == StatusCode::OK && body["data"] == json!([])),
        Expect::Items(count) => {
            status == StatusCode::OK && body["data"].as_array().is_some_and(|data| data.len() == count)
        }
    };
    (!fine).then(|| format!("expected {expect:?}, got {status} `{content_type}`: {shown}"))
}

/// A GET over a raw socket, for a request line too long for the HTTP client to build.
fn raw_get(port: u16, target: &str, host: &str, token: &str) -> Result<(u16, String), String> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(30))).map_err(|e| e.to_string())?;
    let request =
        format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n");
    let written = stream.write_all(request.as_bytes());
    let mut response = Vec::new();
    let mut chunk = [0u8; 8192];
    let read_error = loop {
        match stream.read(&mut chunk) {
            Ok(0) => break None,
            Ok(n) => response.extend_from_slice(&chunk[..n]),
            Err(e) => break Some(e),
        }
    };
    let text = String::from_utf8_lossy(&response).to_string();
    let status = text.strip_prefix("HTTP/1.1 ").and_then(|rest| rest.get(..3)).and_then(|code| code.parse().ok());
    status.map(|status| (status, text.clone())).ok_or_else(|| {
        format!(
            "no HTTP response (write: {written:?}, read error: {read_error:?}): {:?}",
            text.chars().take(200).collect::<String>()
        )
    })
}

async fn hostile_queries_are_refused_and_harmless(app: TestApp, database: &str) {
    let acme = app.tenant_admin("acme").await;
    let api = app.data(&acme);
    api.collection(&articles_collection()).await;
    let created = api.items("articles", &article_bodies()).await;

    let mut failures = Vec::new();
    for case in hostile_cases() {
        let response = match &case.sent {
            Sent::Pairs(pairs) => {
                let pairs: Vec<(&str, &str)> = pairs.iter().map(|(name, value)| (*name, value.as_str())).collect();
                api.list("articles", &pairs).await
            }
            Sent::Raw(query) => {
                let request = api.request(Method::GET, &format!("/api/items/articles?{query}"));
                match request.send().await {
                    Ok(response) => response,
                    Err(e) => {
                        failures.push(format!("{}: the request failed: {e:?}", case.what));
                        continue;
                    }
                }
            }
        };
        if let Some(why) = judge(response, case.expect).await {
            failures.push(format!("{}: {why}", case.what));
        }
    }

    // 10,000 `{"_and":[` do not fit in a URL the HTTP client builds (64 KiB); over a socket, ~110 KB.
    let target = format!("/api/items/articles?filter={}", nested(10_000));
    let (port, host, token) = (app.port, tenant_host(&acme.tenant.slug), acme.token.clone());
    let answer = tokio::task::spawn_blocking(move || raw_get(port, &target, &host, &token)).await.expect("raw GET");
    match answer {
        Ok((status, _)) if (400..500).contains(&status) => {}
        Ok((status, text)) => failures.push(format!(
            "a filter nested 10,000 deep: expected a 4xx, got {status}: {}",
            text.chars().take(300).collect::<String>()
        )),
        Err(why) => failures.push(format!("a filter nested 10,000 deep: {why}")),
    }

    let listed = api.listed("articles", &[("limit", "1000")]).await;
    let collection = api.get_collection("articles").await;
    assert!(
        failures.is_empty(),
        "[{database}] hostile queries not refused as 400 `invalid_query`:\n{}",
        failures.join("\n")
    );
    assert_eq!(listed["data"], json!(created), "[{database}] the items are intact after the hostile queries");
    json_body(collection, StatusCode::OK).await;
}

#[tokio::test]
async fn hostile_queries_are_invalid_query_and_leave_the_data_intact_on_postgres() {
    hostile_queries_are_refused_and_harmless(spawn_app().await, "postgres").await;
}

#[tokio::test]
async fn hostile_queries_are_invalid_query_and_leave_the_data_intact_on_sqlite() {
    hostile_queries_are_refused_and_harmless(spawn_sqlite_app().await, "sqlite").await;
}

#[tokio::test]
async fn sql_in_a_filter_value_is_only_a_value() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let api = app.data(&acme);
    api.collection(&articles_collection()).await;
    api.items("articles", &article_bodies()).await;

    let none = api.listed("articles", &[("filter", r#"{"title":{"_eq":"' OR 1=1 --"}}"#)]).await;
    let tricky = api.item("articles", &json!({"title": "' OR 1=1 --"})).await;
    let one = api.listed("articles", &[("filter", r#"{"title":{"_eq":"' OR 1=1 --"}}"#)]).await;

    assert_eq!(none["data"], json!([]), "no item has that title yet");
    assert_eq!(one["data"], json!([tricky]), "exactly the item with that title");
}

/// A filter whose percent-decoded bytes are not UTF-8 is malformed; decoding it lossily would run
/// another query than the one sent (here: one that finds an item titled U+FFFD U+FFFD).
async fn a_filter_that_is_not_utf8_is_invalid_query(app: TestApp) {
    let acme = app.tenant_admin("acme").await;
    let api = app.data(&acme);
    api.collection(&articles_collection()).await;
    api.items("articles", &[json!({"title": "\u{FFFD}\u{FFFD}"}), json!({"title": "plain"})]).await;

    let request = api.request(Method::GET, "/api/items/articles?filter=%7B%22title%22:%7B%22_eq%22:%22%FF%FE%22%7D%7D");
    let response = request.send().await.unwrap();

    assert_problem(response, StatusCode::BAD_REQUEST, "invalid_query").await;
}

#[tokio::test]
async fn a_filter_that_is_not_utf8_is_invalid_query_on_postgres() {
    a_filter_that_is_not_utf8_is_invalid_query(spawn_app().await).await;
}

#[tokio::test]
async fn a_filter_that_is_not_utf8_is_invalid_query_on_sqlite() {
    a_filter_that_is_not_utf8_is_invalid_query(spawn_sqlite_app().await).await;
}

/// A `number` is a double: what is sent is what is stored, returned and compared. (The raw
/// response text is checked: serde_json without its `float_roundtrip` feature may itself misread
/// the last digit of a double.)
async fn numbers_are_stored_and_compared_exactly(app: TestApp) {
    let acme = app.tenant_admin("acme").await;
    let api = app.data(&acme);
    api.collection(&notes_collection()).await;
    let scores = [11.917267483768047, 0.30000000000000004, -0.011086944629234985, 1e300, -1e-300, 2.5];
    let bodies: Vec<Value> = scores.iter().map(|score| json!({"score": score})).collect();

    let response = api.create("notes", &json!(bodies)).await;
    let status = response.status();
    let created_text = response.text().await.unwrap();
    let listed = api.list("notes", &[("fields", "score")]).await;
    let listed_text = listed.text().await.unwrap();

    assert_eq!(status, StatusCode::CREATED, "{created_text}");
    for score in scores {
        let literal = serde_json::to_string(&score).unwrap();
        assert!(created_text.contains(&literal), "{literal} was sent; the create answered {created_text}");
        assert!(listed_text.contains(&literal), "{literal} was sent; the list answered {listed_text}");
        let filter = json!({"score": {"_eq": score}}).to_string();
        let found = api.listed("notes", &[("filter", &filter), ("fields", "score")]).await;
        assert_eq!(found["data"].as_array().map(Vec::len), Some(1), "{filter} finds exactly its item: {found}");
    }
}

#[tokio::test]
async fn numbers_are_stored_and_compared_exactly_on_postgres() {
    numbers_are_stored_and_compared_exactly(spawn_app().await).await;
}

#[tokio::test]
async fn numbers_are_stored_and_compared_exactly_on_sqlite() {
    numbers_are_stored_and_compared_exactly(spawn_sqlite_app().await).await;
}

// ---------------------------------------------------------------------------------------------
// The semantics the reference relies on, one at a time (PostgreSQL).
// ---------------------------------------------------------------------------------------------

fn notes_collection() -> Value {
    json!({"name": "notes", "fields": [
        {"name": "title", "type": "string"},
        {"name": "body", "type": "text"},
        {"name": "views", "type": "integer"},
        {"name": "score", "type": "number"},
        {"name": "done", "type": "boolean"},
        {"name": "at", "type": "datetime"},
        {"name": "ref", "type": "uuid"},
    ]})
}

/// A tenant with the notes collection and these notes (created in one array, in this order).
async fn notes(app: &TestApp, notes: Vec<Value>) -> (TenantAdmin, Vec<Value>) {
    let acme = app.tenant_admin("acme").await;
    let api = app.data(&acme);
    api.collection(&notes_collection()).await;
    let created = if notes.is_empty() { Vec::new() } else { api.items("notes", &notes).await };
    (acme, created)
}

/// The titles of the listed notes, in order (`<null>` for an unset title).
async fn titles(api: &DataApi<'_>, query: &[(&str, &str)]) -> Vec<String> {
    let body = api.listed("notes", query).await;
    let data = body["data"].as_array().unwrap_or_else(|| panic!("no data array in {body}"));
    data.iter().map(|item| item["title"].as_str().unwrap_or("<null>").to_string()).collect()
}

async fn searched(api: &DataApi<'_>, term: &str) -> Vec<String> {
    titles(api, &[("search", term)]).await
}

async fn filtered(api: &DataApi<'_>, filter: Value) -> Vec<String> {
    titles(api, &[("filter", &filter.to_string())]).await
}

#[tokio::test]
async fn numbers_compare_as_numbers_not_strings() {
    let app = spawn_app().await;
    let bodies = [("nine", 9), ("ten", 10), ("hundred", 100), ("two", 2)];
    let (acme, _) =
        notes(&app, bodies.iter().map(|(title, views)| json!({"title": title, "views": views})).collect()).await;
    let api = app.data(&acme);

    assert_eq!(filtered(&api, json!({"views": {"_gt": 9}})).await, ["ten", "hundred"]);
    assert_eq!(filtered(&api, json!({"views": {"_lt": 10}})).await, ["nine", "two"]);
    assert_eq!(filtered(&api, json!({"views": {"_between": [2, 10]}})).await, ["nine", "ten", "two"]);
    assert_eq!(titles(&api, &[("sort", "views")]).await, ["two", "nine", "ten", "hundred"]);
    assert_eq!(titles(&api, &[("sort", "-views")]).await, ["hundred", "ten", "nine", "two"]);
}

#[tokio::test]
async fn fractions_and_negative_numbers_compare_numerically() {
    let app = spawn_app().await;
    let scores =
        [("ten and a half", 10.5), ("minus ten", -10.0), ("tenth", 0.1), ("two", 2.0), ("minus quarter", -0.25)];
    let (acme, _) =
        notes(&app, scores.iter().map(|(title, score)| json!({"title": title, "score": score})).collect()).await;
    let api = app.data(&acme);

    assert_eq!(
        titles(&api, &[("sort", "score")]).await,
        ["minus ten", "minus quarter", "tenth", "two", "ten and a half"]
    );
    assert_eq!(
        filtered(&api, json!({"score": {"_gt": -1}})).await,
        ["ten and a half", "tenth", "two", "minus quarter"]
    );
    assert_eq!(filtered(&api, json!({"score": {"_eq": 0.1}})).await, ["tenth"]);
    assert_eq!(filtered(&api, json!({"score": {"_eq": 2}})).await, ["two"], "an integer operand on a number field");
    assert_eq!(filtered(&api, json!({"score": {"_between": [-0.25, 2]}})).await, ["tenth", "two", "minus quarter"]);
}

#[tokio::test]
async fn integers_beyond_float_precision_compare_exactly() {
    let app = spawn_app().await;
    let values =
        [("2^53", 9_007_199_254_740_992_i64), ("2^53+1", 9_007_199_254_740_993), ("max", i64::MAX), ("min", i64::MIN)];
    let (acme, created) =
        notes(&app, values.iter().map(|(title, views)| json!({"title": title, "views": views})).collect()).await;
    let api = app.data(&acme);

    assert_eq!(created[1]["views"], json!(9_007_199_254_740_993_i64), "stored exactly");
    assert_eq!(filtered(&api, json!({"views": {"_eq": 9_007_199_254_740_993_i64}})).await, ["2^53+1"]);
    assert_eq!(filtered(&api, json!({"views": {"_gt": 9_007_199_254_740_992_i64}})).await, ["2^53+1", "max"]);
    assert_eq!(filtered(&api, json!({"views": {"_lt": i64::MIN + 1}})).await, ["min"]);
    assert_eq!(titles(&api, &[("sort", "views")]).await, ["min", "2^53", "2^53+1", "max"]);
}

#[tokio::test]
async fn datetimes_compare_chronologically_across_offsets() {
    let app = spawn_app().await;
    // As text the order would be d, c, b, a; in time it is a (08:00Z), b (09:00Z), d (09:30Z), c (10:30Z).
    let (acme, created) = notes(
        &app,
        vec![
            json!({"title": "a", "at": "2024-01-01T10:00:00+02:00"}),
            json!({"title": "b", "at": "2024-01-01T09:00:00Z"}),
            json!({"title": "c", "at": "2024-01-01T05:30:00-05:00"}),
            json!({"title": "d", "at": "2023-12-31T23:30:00-10:00"}),
        ],
    )
    .await;
    let api = app.data(&acme);

    assert_eq!(created[0]["at"], "2024-01-01T08:00:00.000000Z", "normalised to UTC with microseconds");
    assert_eq!(created[3]["at"], "2024-01-01T09:30:00.000000Z");
    assert_eq!(titles(&api, &[("sort", "at")]).await, ["a", "b", "d", "c"]);
    assert_eq!(titles(&api, &[("sort", "-at")]).await, ["c", "d", "b", "a"]);
    assert_eq!(filtered(&api, json!({"at": {"_gt": "2024-01-01T10:00:00+01:00"}})).await, ["c", "d"]);
    assert_eq!(filtered(&api, json!({"at": {"_eq": "2024-01-01T03:00:00-05:00"}})).await, ["a"]);
    assert_eq!(
        filtered(&api, json!({"at": {"_in": ["2024-01-01T08:00:00.000000Z", "2024-01-01T10:30:00Z"]}})).await,
        ["a", "c"]
    );
    let between = json!({"at": {"_between": ["2024-01-01T09:00:00Z", "2024-01-01T11:30:00+02:00"]}});
    assert_eq!(filtered(&api, between).await, ["b", "d"], "both bounds included");
}

#[tokio::test]
async fn strings_compare_by_unicode_code_point() {
    let app = spawn_app().await;
    let words = ["b", "B", "a", "é", "É", "～", "😀", "z", "Z"];
    let (acme, _) = notes(&app, words.iter().map(|title| json!({"title": title})).collect()).await;
    let api = app.data(&acme);

    // U+FF5E sorts before U+1F600 by code point (a UTF-16 comparison would put the emoji first).
    assert_eq!(titles(&api, &[("sort", "title")]).await, ["B", "Z", "a", "b", "z", "É", "é", "～", "😀"]);
    assert_eq!(titles(&api, &[("sort", "-title")]).await, ["😀", "～", "é", "É", "z", "b", "a", "Z", "B"]);
    assert_eq!(filtered(&api, json!({"title": {"_gt": "z"}})).await, ["é", "É", "～", "😀"]);
    assert_eq!(filtered(&api, json!({"title": {"_lt": "a"}})).await, ["B", "Z"]);
    assert_eq!(filtered(&api, json!({"title": {"_eq": "é"}})).await, ["é"], "equality is exact");
}

#[tokio::test]
async fn nulls_sort_first_ascending_and_last_descending() {
    let app = spawn_app().await;
    let (acme, _) = notes(
        &app,
        vec![
            json!({"title": "three", "views": 3}),
            json!({"title": "unset", "views": null}),
            json!({"title": "one", "views": 1}),
            json!({"title": "omitted"}),
            json!({"title": "two", "views": 2}),
        ],
    )
    .await;
    let api = app.data(&acme);

    assert_eq!(titles(&api, &[("sort", "views")]).await, ["unset", "omitted", "one", "two", "three"]);
    assert_eq!(titles(&api, &[("sort", "-views")]).await, ["three", "two", "one", "omitted", "unset"]);
}

#[tokio::test]
async fn ties_break_by_id_in_the_direction_of_the_last_sort_key() {
    let app = spawn_app().await;
    let bodies = [("p", 5), ("q", 5), ("r", 5), ("s", 5), ("t", 1)];
    let (acme, _) =
        notes(&app, bodies.iter().map(|(title, views)| json!({"title": title, "views": views})).collect()).await;
    let api = app.data(&acme);

    assert_eq!(titles(&api, &[]).await, ["p", "q", "r", "s", "t"], "the default is id ascending, creation order");
    assert_eq!(titles(&api, &[("sort", "views")]).await, ["t", "p", "q", "r", "s"]);
    assert_eq!(titles(&api, &[("sort", "-views")]).await, ["s", "r", "q", "p", "t"], "equal views newest first");
    assert_eq!(titles(&api, &[("sort", "-id")]).await, ["t", "s", "r", "q", "p"]);
    assert_eq!(titles(&api, &[("sort", "views,-id")]).await, ["t", "s", "r", "q", "p"]);
    assert_eq!(titles(&api, &[("sort", "-views,title")]).await, ["p", "q", "r", "s", "t"]);
    // `done` is unset everywhere: the last key decides the direction of the tie-break, not the first.
    assert_eq!(titles(&api, &[("sort", "-views,done")]).await, ["p", "q", "r", "s", "t"]);
    assert_eq!(titles(&api, &[("sort", "done,-views")]).await, ["s", "r", "q", "p", "t"]);
}

#[tokio::test]
async fn neq_does_not_match_unset_values() {
    let app = spawn_app().await;
    let (acme, _) = notes(
        &app,
        vec![
            json!({"title": "one", "views": 1}),
            json!({"title": "unset", "views": null}),
            json!({"title": "two", "views": 2}),
            json!({"title": "omitted"}),
        ],
    )
    .await;
    let api = app.data(&acme);

    assert_eq!(filtered(&api, json!({"views": {"_neq": 1}})).await, ["two"]);
    assert_eq!(filtered(&api, json!({"title": {"_neq": "one"}, "views": {"_neq": 2}})).await, Vec::<String>::new());
}

#[tokio::test]
async fn nin_does_not_match_unset_values() {
    let app = spawn_app().await;
    let (acme, _) = notes(
        &app,
        vec![
            json!({"title": "one", "views": 1}),
            json!({"title": "unset", "views": null}),
            json!({"title": "two", "views": 2}),
        ],
    )
    .await;
    let api = app.data(&acme);

    assert_eq!(filtered(&api, json!({"views": {"_nin": [1]}})).await, ["two"]);
    assert_eq!(filtered(&api, json!({"views": {"_nin": [7, 8]}})).await, ["one", "two"]);
}

#[tokio::test]
async fn only_null_true_and_nnull_false_match_unset_values() {
    let app = spawn_app().await;
    let (acme, _) = notes(
        &app,
        vec![
            json!({"title": "one", "views": 1}),
            json!({"title": "unset", "views": null}),
            json!({"title": "omitted"}),
            json!({"title": "zero", "views": 0}),
        ],
    )
    .await;
    let api = app.data(&acme);

    assert_eq!(filtered(&api, json!({"views": {"_null": true}})).await, ["unset", "omitted"]);
    assert_eq!(filtered(&api, json!({"views": {"_nnull": false}})).await, ["unset", "omitted"]);
    assert_eq!(filtered(&api, json!({"views": {"_null": false}})).await, ["one", "zero"]);
    assert_eq!(filtered(&api, json!({"views": {"_nnull": true}})).await, ["one", "zero"]);
    assert_eq!(filtered(&api, json!({"views": {"_lt": 100}})).await, ["one", "zero"]);
    assert_eq!(filtered(&api, json!({"views": {"_gte": -100}})).await, ["one", "zero"]);
    assert_eq!(filtered(&api, json!({"views": {"_between": [-100, 100]}})).await, ["one", "zero"]);
    assert_eq!(filtered(&api, json!({"views": {"_in": [0, 1]}})).await, ["one", "zero"]);
}

#[tokio::test]
async fn meta_total_count_ignores_limit() {
    let app = spawn_app().await;
    let (acme, _) =
        notes(&app, (0..7).map(|views| json!({"title": format!("n{views}"), "views": views})).collect()).await;
    let api = app.data(&acme);

    let page = api.listed("notes", &[("limit", "2"), ("offset", "1"), ("meta", "total_count")]).await;
    let filtered_page =
        api.listed("notes", &[("filter", r#"{"views":{"_gte":3}}"#), ("limit", "1"), ("meta", "total_count")]).await;
    let empty = api.listed("notes", &[("limit", "0"), ("meta", "total_count")]).await;
    let past_the_end = api.listed("notes", &[("offset", "100"), ("meta", "total_count")]).await;

    let views = |body: &Value| {
        body["data"].as_array().map(|data| data.iter().map(|item| item["views"].clone()).collect::<Vec<_>>())
    };
    assert_eq!((views(&page), &page["meta"]), (Some(vec![json!(1), json!(2)]), &json!({"total_count": 7})));
    assert_eq!((views(&filtered_page), &filtered_page["meta"]), (Some(vec![json!(3)]), &json!({"total_count": 4})));
    assert_eq!((&empty["data"], &empty["meta"]), (&json!([]), &json!({"total_count": 7})));
    assert_eq!((&past_the_end["data"], &past_the_end["meta"]), (&json!([]), &json!({"total_count": 7})));
}

#[tokio::test]
async fn fields_limits_the_returned_members() {
    let app = spawn_app().await;
    let (acme, created) = notes(&app, vec![json!({"title": "only", "views": 4, "done": true})]).await;
    let api = app.data(&acme);

    let members = |body: &Value| {
        let mut members: Vec<String> =
            body["data"][0].as_object().map(|item| item.keys().cloned().collect()).unwrap_or_default();
        members.sort();
        members
    };
    let two = api.listed("notes", &[("fields", "title,views")]).await;
    let id = api.listed("notes", &[("fields", "id")]).await;
    let system = api.listed("notes", &[("fields", "title,date_created,version")]).await;
    let all = api.listed("notes", &[("fields", "*")]).await;

    assert_eq!(members(&two), ["title", "views"], "{two}");
    assert_eq!(two["data"][0], json!({"title": "only", "views": 4}));
    assert_eq!(id["data"], json!([{"id": created[0]["id"]}]));
    assert_eq!(members(&system), ["date_created", "title", "version"], "{system}");
    assert_eq!(all["data"], json!(created), "`*` is every member");
}

#[tokio::test]
async fn search_is_case_insensitive_for_ascii_letters_only() {
    let app = spawn_app().await;
    let (acme, _) = notes(
        &app,
        vec![
            json!({"title": "Hello World"}),
            json!({"title": "ÉCOLE"}),
            json!({"title": "école"}),
            json!({"title": "Straße"}),
            json!({"title": "STRASSE"}),
            json!({"title": "x", "body": "Mixed Case Body"}),
            json!({"title": "y", "views": 1234}),
        ],
    )
    .await;
    let api = app.data(&acme);

    assert_eq!(searched(&api, "hello").await, ["Hello World"]);
    assert_eq!(searched(&api, "WORLD").await, ["Hello World"]);
    assert_eq!(searched(&api, "école").await, ["école"], "É and é are different characters");
    assert_eq!(searched(&api, "ÉCOLE").await, ["ÉCOLE"]);
    assert_eq!(searched(&api, "cole").await, ["ÉCOLE", "école"]);
    assert_eq!(searched(&api, "straße").await, ["Straße"]);
    assert_eq!(searched(&api, "strasse").await, ["STRASSE"], "ß is not SS");
    assert_eq!(searched(&api, "case body").await, ["x"], "text fields are searched");
    assert_eq!(searched(&api, "1234").await, Vec::<String>::new(), "integer fields are not");
}

#[tokio::test]
async fn contains_and_starts_with_are_case_sensitive_and_take_wildcards_literally() {
    let app = spawn_app().await;
    let words = ["100% sure", "100 percent", "a_b", "axb", "Back\\slash", "ABC"];
    let (acme, _) = notes(&app, words.iter().map(|title| json!({"title": title})).collect()).await;
    let api = app.data(&acme);

    assert_eq!(filtered(&api, json!({"title": {"_contains": "%"}})).await, ["100% sure"]);
    assert_eq!(filtered(&api, json!({"title": {"_contains": "_"}})).await, ["a_b"]);
    assert_eq!(filtered(&api, json!({"title": {"_contains": "\\"}})).await, ["Back\\slash"]);
    assert_eq!(filtered(&api, json!({"title": {"_contains": "b"}})).await, ["a_b", "axb"]);
    assert_eq!(filtered(&api, json!({"title": {"_contains": "c"}})).await, ["100 percent", "Back\\slash"]);
    assert_eq!(filtered(&api, json!({"title": {"_starts_with": "a"}})).await, ["a_b", "axb"]);
    assert_eq!(filtered(&api, json!({"title": {"_starts_with": "A"}})).await, ["ABC"]);
    assert_eq!(filtered(&api, json!({"title": {"_starts_with": "100%"}})).await, ["100% sure"]);
    assert_eq!(filtered(&api, json!({"title": {"_starts_with": "a_"}})).await, ["a_b"]);
}

#[tokio::test]
async fn an_empty_and_matches_everything_and_an_empty_or_nothing() {
    let app = spawn_app().await;
    let (acme, _) = notes(&app, vec![json!({"title": "one"}), json!({"title": "two"})]).await;
    let api = app.data(&acme);

    assert_eq!(filtered(&api, json!({"_and": []})).await, ["one", "two"]);
    assert_eq!(filtered(&api, json!({"_or": []})).await, Vec::<String>::new());
    assert_eq!(filtered(&api, json!({"_or": [{"_and": []}]})).await, ["one", "two"]);
    assert_eq!(filtered(&api, json!({"_and": [{"_or": []}]})).await, Vec::<String>::new());
    assert_eq!(filtered(&api, json!({})).await, ["one", "two"]);
}

#[tokio::test]
async fn between_includes_both_bounds() {
    let app = spawn_app().await;
    let (acme, _) =
        notes(&app, (1..=5).map(|views| json!({"title": format!("n{views}"), "views": views})).collect()).await;
    let api = app.data(&acme);

    assert_eq!(filtered(&api, json!({"views": {"_between": [2, 4]}})).await, ["n2", "n3", "n4"]);
    assert_eq!(filtered(&api, json!({"views": {"_between": [3, 3]}})).await, ["n3"]);
    assert_eq!(filtered(&api, json!({"views": {"_between": [4, 2]}})).await, Vec::<String>::new(), "low ≤ x ≤ high");
}

#[tokio::test]
async fn several_fields_and_operators_in_one_object_must_all_hold() {
    let app = spawn_app().await;
    let (acme, _) =
        notes(&app, (1..=4).map(|views| json!({"title": format!("n{views}"), "views": views})).collect()).await;
    let api = app.data(&acme);

    assert_eq!(filtered(&api, json!({"views": {"_gte": 2, "_lte": 3}})).await, ["n2", "n3"]);
    assert_eq!(filtered(&api, json!({"views": {"_gte": 2, "_lte": 3}, "title": {"_neq": "n3"}})).await, ["n2"]);
    let nested = json!({"_or": [{"views": {"_eq": 1}}, {"_and": [{"views": {"_gt": 2}}, {"title": {"_neq": "n4"}}]}]});
    assert_eq!(filtered(&api, nested).await, ["n1", "n3"]);
}

#[tokio::test]
async fn system_fields_can_be_filtered_and_sorted() {
    let app = spawn_app().await;
    let reference = "0190F0A8-0000-7000-8000-00000000ABCD";
    let (acme, created) = notes(
        &app,
        vec![json!({"title": "one"}), json!({"title": "two", "ref": reference}), json!({"title": "three"})],
    )
    .await;
    let api = app.data(&acme);
    let patched = api.patch("notes", created[1]["id"].as_str().unwrap(), &json!({"views": 9})).await;
    let patched = json_body(patched, StatusCode::OK).await["data"].clone();
    let upper_id = created[2]["id"].as_str().unwrap().to_uppercase();

    assert_eq!(created[1]["ref"], reference.to_lowercase(), "uuids are stored lowercase");
    assert_eq!(filtered(&api, json!({"ref": {"_eq": reference}})).await, ["two"], "uuid operands are normalised");
    assert_eq!(filtered(&api, json!({"version": {"_gt": 1}})).await, ["two"]);
    assert_eq!(filtered(&api, json!({"id": {"_eq": upper_id}})).await, ["three"]);
    assert_eq!(filtered(&api, json!({"id": {"_in": [created[0]["id"], created[2]["id"]]}})).await, ["one", "three"]);
    assert_eq!(filtered(&api, json!({"date_updated": {"_gte": patched["date_updated"]}})).await, ["two"]);
    assert_eq!(
        filtered(&api, json!({"date_created": {"_lte": created[2]["date_created"]}})).await,
        ["one", "two", "three"]
    );
    assert_eq!(
        filtered(&api, json!({"user_created": {"_eq": created[0]["user_created"]}})).await,
        ["one", "two", "three"]
    );
    assert_eq!(titles(&api, &[("sort", "-version")]).await, ["two", "three", "one"], "ties newest first");
    assert_eq!(titles(&api, &[("sort", "-date_updated")]).await[0], "two");
}

#[tokio::test]
async fn field_names_that_are_sql_keywords_work_in_filters_and_sorts() {
    let app = spawn_app().await;
    let acme = app.tenant_admin("acme").await;
    let api = app.data(&acme);
    api.collection(&json!({"name": "ledger", "fields": [
        {"name": "order", "type": "integer", "indexed": true},
        {"name": "group", "type": "string"},
        {"name": "select", "type": "boolean"},
        {"name": "user", "type": "text"},
    ]}))
    .await;
    let created = api
        .items(
            "ledger",
            &[
                json!({"order": 1, "group": "a", "select": true, "user": "x"}),
                json!({"order": 2, "group": "b", "select": false, "user": "y"}),
                json!({"order": 3, "group": "a", "select": true, "user": "z"}),
            ],
        )
        .await;
    let orders = |body: Value| {
        body["data"].as_array().map(|data| data.iter().map(|item| item["order"].clone()).collect::<Vec<_>>())
    };

    let filtered =
        api.listed("ledger", &[("filter", r#"{"order":{"_gt":1},"group":{"_eq":"a"},"select":{"_eq":true}}"#)]).await;
    let sorted = api.listed("ledger", &[("sort", "group,-order")]).await;
    let searched = api.listed("ledger", &[("search", "Z"), ("fields", "order,user")]).await;

    assert_eq!(orders(filtered), Some(vec![json!(3)]));
    assert_eq!(orders(sorted), Some(vec![json!(3), json!(1), json!(2)]));
    assert_eq!(searched["data"], json!([{"order": 3, "user": "z"}]));
    assert_eq!(created.len(), 3);
}

#[tokio::test]
async fn a_filter_nested_twenty_deep_is_invalid_query_and_three_deep_is_fine() {
    let app = spawn_app().await;
    let (acme, _) = notes(&app, vec![json!({"title": "one", "views": 1})]).await;
    let api = app.data(&acme);

    let deep = api.list("notes", &[("filter", &nested(20))]).await;
    let shallow = api.listed("notes", &[("filter", &nested(3))]).await;

    assert_problem(deep, StatusCode::BAD_REQUEST, "invalid_query").await;
    assert_eq!(shallow["data"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn in_takes_at_most_500_values() {
    let app = spawn_app().await;
    let (acme, _) = notes(&app, vec![json!({"title": "one", "views": 1})]).await;
    let api = app.data(&acme);

    let five_hundred = api.listed("notes", &[("filter", &in_list("_in", 500, 1))]).await;
    let five_hundred_one = api.list("notes", &[("filter", &in_list("_in", 501, 1))]).await;

    assert_eq!(five_hundred["data"].as_array().map(Vec::len), Some(1));
    assert_problem(five_hundred_one, StatusCode::BAD_REQUEST, "invalid_query").await;
}
