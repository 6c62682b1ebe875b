//! What every table's module shares: the checker that collects problems with their places,
//! one wording for duplicates, unknown keys (the known ones read off each table's type),
//! secrets, conditions, the quorum rule, and the schema's helper types.

use probity_core::condition::{Condition, closest};
use serde::Deserialize;
use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// Collects problems against one source text.
pub(super) struct Checker<'a> {
    pub(super) src: &'a str,
    pub(super) problems: Vec<(usize, Problem)>,
}

impl Checker<'_> {
    pub(super) fn at(&mut self, span: Range<usize>, message: impl Into<String>) {
        let (line, col) = line_col(self.src, span.start);
        self.problems.push((
            span.start,
            Problem {
                line,
                col,
                message: message.into(),
                snippet: None,
            },
        ));
    }

    pub(super) fn caret(&mut self, offset: usize, message: impl Into<String>) {
        let (line, col) = line_col(self.src, offset);
        let text = self.src.lines().nth(line - 1).unwrap_or("").to_string();
        self.problems.push((
            offset,
            Problem {
                line,
                col,
                message: message.into(),
                snippet: Some((text, col)),
            },
        ));
    }

    pub(super) fn toml_error(&mut self, e: &toml::de::Error, context: &str) {
        let span = e.span().unwrap_or(0..0);
        let msg = e.message().trim().to_string();
        self.at(span, humanize(&msg, context));
    }
}

/// The names taken so far by one kind of table, each with the line it was first defined
/// on: the one place that reports a duplicate, in one wording.
pub(super) struct Names {
    pub(super) what: &'static str,
    pub(super) first: HashMap<String, usize>,
}

impl Names {
    pub(super) fn new(what: &'static str) -> Self {
        Names {
            what,
            first: HashMap::new(),
        }
    }

    /// Claims `name` (written at `span`); a name already taken is reported there, and the
    /// answer is `false`. The caller goes on checking the table either way.
    pub(super) fn claim(&mut self, ck: &mut Checker<'_>, name: &str, span: Range<usize>) -> bool {
        if let Some(first) = self.first.get(name) {
            ck.at(
                span,
                format!(
                    "duplicate {} name `{name}` (first defined on line {first})",
                    self.what
                ),
            );
            return false;
        }
        self.first
            .insert(name.to_string(), line_col(ck.src, span.start).0);
        true
    }
}

/// serde's wording, made to speak of keys and sections.
pub(super) fn humanize(msg: &str, context: &str) -> String {
    if let Some(rest) = msg.strip_prefix("missing field `") {
        let key = rest.split('`').next().unwrap_or(rest);
        return format!("{context} is missing the required key `{key}`");
    }
    let msg = msg.replace("invalid type: ", "wrong type: ");
    format!("{context}: {msg}")
}

pub(super) fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, src[line_start..offset].chars().count() + 1)
}

/// Maps an offset inside a decoded TOML string back to the source, given the span of the
/// string literal (quotes included).
pub(super) fn raw_offset(src: &str, span: &Range<usize>, decoded: usize) -> usize {
    let lit = &src[span.start..span.end.min(src.len())];
    let (open, escapes) = if lit.starts_with("\"\"\"") {
        (3, true)
    } else if lit.starts_with("'''") {
        (3, false)
    } else if lit.starts_with('"') {
        (1, true)
    } else {
        (1, false)
    };
    let body = &lit[open.min(lit.len())..];
    let mut raw = 0;
    let mut seen = 0;
    let bytes = body.as_bytes();
    while seen < decoded && raw < bytes.len() {
        let ch_len = body[raw..].chars().next().map_or(1, char::len_utf8);
        if escapes && bytes[raw] == b'\\' {
            let skip = match bytes.get(raw + 1) {
                Some(b'u') => 6,
                Some(b'U') => 10,
                _ => 2,
            };
            raw += skip;
            seen += 1;
        } else {
            raw += ch_len;
            seen += ch_len;
        }
    }
    span.start + open + raw
}

/// Expands `${env:NAME}` and `${file:PATH}` references.
pub fn expand_secrets(value: &str, base_dir: &Path) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or_else(|| {
            "unterminated `${`; write `${env:NAME}` or `${file:PATH}`".to_string()
        })?;
        let reference = &after[..end];
        let resolved = if let Some(name) = reference.strip_prefix("env:") {
            std::env::var(name).map_err(|_| format!("environment variable `{name}` is not set"))?
        } else if let Some(path) = reference.strip_prefix("file:") {
            let p = base_dir.join(path);
            let text = std::fs::read_to_string(&p)
                .map_err(|e| format!("cannot read secret file `{path}`: {e}"))?;
            text.trim_end_matches(['\r', '\n']).to_string()
        } else {
            return Err(format!(
                "unknown reference `${{{reference}}}`; write `${{env:NAME}}` or `${{file:PATH}}`"
            ));
        };
        out.push_str(&resolved);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

pub(super) fn unknown_key(
    ck: &mut Checker<'_>,
    span: Range<usize>,
    key: &str,
    known: &[&str],
    context: &str,
) {
    let hint = closest(key, known)
        .map(|k| format!("; did you mean `{k}`?"))
        .unwrap_or_else(|| format!("; known keys: {}", known.join(", ")));
    ck.at(span, format!("unknown key `{key}` {context}{hint}"));
}

/// The keys a table type reads, in the order it declares them: derived from the type (its
/// JSON Schema, which follows serde's names), never kept by hand beside it.
pub(super) fn keys_of<T: schemars::JsonSchema + 'static>() -> &'static [&'static str] {
    type Cache = Mutex<HashMap<std::any::TypeId, &'static [&'static str]>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let mut cache = CACHE
        .get_or_init(Default::default)
        .lock()
        .expect("keys cache");
    cache.entry(std::any::TypeId::of::<T>()).or_insert_with(|| {
        let schema = schemars::schema_for!(T);
        let keys: Vec<&'static str> = schema
            .get("properties")
            .and_then(|p| p.as_object())
            .map(|p| {
                p.keys()
                    .map(|k| &*Box::leak(k.clone().into_boxed_str()))
                    .collect()
            })
            .unwrap_or_default();
        Box::leak(keys.into_boxed_slice())
    })
}

/// Reads one `[name]` or `[[name]]` table: every unknown key reported, then the rest
/// deserialised; `None` (with the problem reported) when it does not fit `T`.
pub(super) fn read_table<T: serde::de::DeserializeOwned + schemars::JsonSchema + 'static>(
    ck: &mut Checker<'_>,
    table: Spanned<DeTable<'_>>,
    name: &str,
) -> Option<T> {
    let table = strip_unknown(ck, table, keys_of::<T>(), &format!("in {name}"));
    T::deserialize(toml::de::Deserializer::from(table))
        .map_err(|e| ck.toml_error(&e, name))
        .ok()
}

/// Reports every unknown key in a table (serde stops at the first) and removes them, so
/// the remaining keys can still be checked.
pub(super) fn strip_unknown<'i>(
    ck: &mut Checker<'_>,
    table: Spanned<DeTable<'i>>,
    known: &[&str],
    context: &str,
) -> Spanned<DeTable<'i>> {
    let span = table.span();
    let mut t = table.into_inner();
    let unknown: Vec<_> = t
        .keys()
        .filter(|k| !known.contains(&k.get_ref().as_ref()))
        .cloned()
        .collect();
    for k in unknown {
        unknown_key(ck, k.span(), k.get_ref(), known, context);
        t.remove(&k);
    }
    Spanned::new(span, t)
}

/// Parses a target's `conditions` straight from its table, reporting each one that does not
/// parse with a caret under the spot. `None` when the key is absent.
pub(super) fn check_conditions(
    ck: &mut Checker<'_>,
    table: &DeTable<'_>,
) -> Option<Vec<Condition>> {
    let name = table
        .iter()
        .find(|(k, _)| k.get_ref() == "name")
        .and_then(|(_, v)| v.get_ref().as_str().map(str::to_string))
        .unwrap_or_else(|| "?".into());
    let (_, value) = table.iter().find(|(k, _)| k.get_ref() == "conditions")?;
    let DeValue::Array(items) = value.get_ref() else {
        return Some(Vec::new()); // a type error, reported by deserialisation
    };
    let mut out = Vec::new();
    for item in items.iter() {
        let Some(text) = item.get_ref().as_str() else {
            continue;
        };
        match Condition::parse(text) {
            Ok(c) => out.push(c),
            Err(e) => {
                let off = raw_offset(ck.src, &item.span(), e.offset);
                ck.caret(off, format!("target `{name}`: condition: {}", e.message));
            }
        }
    }
    Some(out)
}

/// Expands a value's secret references, reporting a problem (and yielding "") if one fails.
pub(super) fn secret(
    ck: &mut Checker<'_>,
    v: &Spanned<String>,
    base_dir: &Path,
    ctx: &str,
) -> String {
    match expand_secrets(v.get_ref(), base_dir) {
        Ok(s) => s,
        Err(e) => {
            ck.at(v.span(), format!("{ctx}: {e}"));
            String::new()
        }
    }
}

/// A duration as written in the configuration, for the schema.
pub(super) struct DurationSchema;

impl schemars::JsonSchema for DurationSchema {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^([0-9]+(ms|s|m|h|d|w))+$",
            "description": "A duration with units: 250ms, 30s, 5m, 2h, 14d, or sums like 1h30m.",
            "examples": ["30s", "5m", "1h30m"]
        })
    }
}

/// A credit tier of `[[sla]]`, for the schema.
#[derive(schemars::JsonSchema)]
#[allow(dead_code)] // only described, never built: `probity_core::sla::Tier` reads it
pub(super) struct TierSchema {
    /// Uptime below this percentage…
    pub(super) below: f64,
    /// …earns this percentage of the monthly bill as credit.
    pub(super) credit: f64,
}

/// `quorum = 2` or `quorum = "majority"`.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
#[schemars(rename = "Quorum")]
pub(super) enum QuorumToml {
    Count(i64),
    Word(String),
}

impl QuorumToml {
    pub(super) fn read(
        ck: &mut Checker<'_>,
        v: &Spanned<QuorumToml>,
        ctx: &str,
    ) -> Option<probity_core::quorum::Quorum> {
        let text = match v.get_ref() {
            QuorumToml::Count(n) => n.to_string(),
            QuorumToml::Word(w) => w.clone(),
        };
        match probity_core::quorum::Quorum::parse(&text) {
            Ok(q) => Some(q),
            Err(e) => {
                ck.at(v.span(), format!("{ctx}: {e}"));
                None
            }
        }
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
#[schemars(rename = "OneOrMany")]
pub(super) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub(super) fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

/// One problem in a configuration file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub line: usize,
    pub col: usize,
    pub message: String,
    /// The source line and the column to put a caret under, for problems inside a value.
    pub snippet: Option<(String, usize)>,
}

/// A `[[table]]` with a `name` of its own.
pub(super) trait NamedTable {
    fn name(&self) -> &Spanned<String>;
}

/// Reads every `[[kind]]` table: deserialised (problems reported where they are), its name
/// claimed once (a duplicate is reported, its table still checked), then `build` checks the
/// rest. Keeps what was built under a name of its own.
pub(super) fn read_named<T, U>(
    ck: &mut Checker<'_>,
    tables: Vec<Spanned<DeTable<'_>>>,
    kind: &'static str,
    mut build: impl FnMut(&mut Checker<'_>, T) -> Option<U>,
) -> Vec<U>
where
    T: serde::de::DeserializeOwned + schemars::JsonSchema + NamedTable + 'static,
{
    let mut names = Names::new(kind);
    let mut out = Vec::new();
    for table in tables {
        let Some(raw) = read_table::<T>(ck, table, &format!("[[{kind}]]")) else {
            continue;
        };
        let unique = names.claim(ck, raw.name().get_ref(), raw.name().span());
        if let Some(u) = build(ck, raw)
            && unique
        {
            out.push(u);
        }
    }
    out
}
