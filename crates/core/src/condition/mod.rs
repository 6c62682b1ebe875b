//! The condition language: one readable expression per check, in the spirit of Gatus.
//!
//! ```text
//! [STATUS] == 200                 [STATUS] < 400            [STATUS] in (200, 204)
//! [LATENCY] < 500ms               [TTFB] <= 200ms           [TLS_TIME] < 1s
//! [BODY] contains "ok"            [BODY] matches "^v[0-9]+"  [BODY].status == "UP"
//! [BODY]/data/0/id == 42          [HEADER:Content-Type] contains "json"
//! [CERT_EXPIRY] > 14d             [TLS_VERSION] == "TLSv1.3"
//! [DNS_RCODE] == NOERROR          [DNS_ANSWERS] contains "192.0.2.10"   [DNS_ANSWER_COUNT] >= 2
//! [CONNECTED] == true             [REPLY] contains "+PONG"
//! ```
//!
//! Parsing reports the byte offset of the problem, so a configuration checker can put a
//! caret under it. Evaluation never fails: a condition either holds or explains why not.

use crate::result::{ErrorClass, Phases};
use std::fmt;

/// What a condition looks at.
#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    Status,
    Latency,
    DnsTime,
    ConnectTime,
    TlsTime,
    Ttfb,
    /// The whole body as text.
    Body,
    /// A value inside a JSON body, addressed by an RFC 6901 JSON pointer.
    BodyJson(String),
    Header(String),
    CertExpiry,
    TlsVersion,
    DnsRcode,
    DnsAnswers,
    DnsAnswerCount,
    Connected,
    Reply,
    /// Object storage: the time of the PUT (all parts), of the GET, of the LIST, of the
    /// DELETE.
    PutLatency,
    GetLatency,
    ListLatency,
    DeleteLatency,
    /// Object storage: `ok`, or the integrity class that failed.
    Integrity,
}

impl Operand {
    /// The error class a failure of this condition is reported under.
    pub fn error_class(&self) -> ErrorClass {
        match self {
            Operand::Status => ErrorClass::HttpStatus,
            Operand::Connected => ErrorClass::Connect,
            Operand::DnsRcode | Operand::DnsAnswers | Operand::DnsAnswerCount => ErrorClass::Dns,
            _ => ErrorClass::Condition,
        }
    }

    fn kind(&self) -> ValueKind {
        match self {
            Operand::Status | Operand::DnsAnswerCount => ValueKind::Number,
            Operand::Latency
            | Operand::DnsTime
            | Operand::ConnectTime
            | Operand::TlsTime
            | Operand::Ttfb
            | Operand::PutLatency
            | Operand::GetLatency
            | Operand::ListLatency
            | Operand::DeleteLatency
            | Operand::CertExpiry => ValueKind::Duration,
            Operand::Connected => ValueKind::Bool,
            Operand::DnsAnswers => ValueKind::List,
            Operand::BodyJson(_) => ValueKind::Json,
            _ => ValueKind::Text,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ValueKind {
    Number,
    Duration,
    Bool,
    Text,
    List,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
    NotContains,
    Matches,
    In,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Contains => "contains",
            Op::NotContains => "not contains",
            Op::Matches => "matches",
            Op::In => "in",
        }
    }
}

/// A literal on the right-hand side.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    Number(f64),
    /// Milliseconds, from a value with a unit (`500ms`, `14d`).
    Duration(f64),
    Bool(bool),
    Text(String),
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Number(n) => write!(f, "{n}"),
            Literal::Duration(ms) => write!(f, "{}", fmt_ms(*ms)),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Text(t) => write!(f, "{t:?}"),
        }
    }
}

/// A parsed condition. Displays as its source text.
#[derive(Clone, Debug)]
pub struct Condition {
    pub source: String,
    pub operand: Operand,
    pub op: Op,
    pub values: Vec<Literal>,
    regex: Option<regex::Regex>,
}

impl PartialEq for Condition {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// A parse error with the byte offset (into the condition text) where it was found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    pub offset: usize,
    pub message: String,
}

fn err<T>(offset: usize, message: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError {
        offset,
        message: message.into(),
    })
}

const OPERANDS: &[&str] = &[
    "STATUS",
    "LATENCY",
    "RESPONSE_TIME",
    "DNS_TIME",
    "CONNECT_TIME",
    "TLS_TIME",
    "TTFB",
    "BODY",
    "HEADER:<name>",
    "CERT_EXPIRY",
    "CERTIFICATE_EXPIRATION",
    "TLS_VERSION",
    "DNS_RCODE",
    "DNS_ANSWERS",
    "DNS_ANSWER_COUNT",
    "CONNECTED",
    "REPLY",
    "PUT_LATENCY",
    "GET_LATENCY",
    "LIST_LATENCY",
    "DELETE_LATENCY",
    "INTEGRITY",
];

struct Cursor<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }
    fn skip_ws(&mut self) {
        let r = self.rest();
        self.pos += r.len() - r.trim_start().len();
    }
    fn eat(&mut self, s: &str) -> bool {
        if self.rest().starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }
    fn eat_word(&mut self, w: &str) -> bool {
        let r = self.rest();
        // `get` rather than indexing: the word's length may fall inside a multi-byte char.
        let matches = r
            .get(..w.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(w))
            && !r[w.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_');
        if matches {
            self.pos += w.len();
            true
        } else {
            false
        }
    }
}

impl Condition {
    /// Parses one condition.
    pub fn parse(src: &str) -> Result<Condition, ParseError> {
        let mut c = Cursor { src, pos: 0 };
        c.skip_ws();
        if c.rest().is_empty() {
            return err(0, "empty condition; write e.g. `[STATUS] == 200`");
        }
        let operand = parse_operand(&mut c)?;
        c.skip_ws();
        let op_at = c.pos;
        let op = parse_op(&mut c)?;
        let kind = operand.kind();
        check_op(kind, op, op_at)?;
        c.skip_ws();
        let value_at = c.pos;
        let values = if op == Op::In {
            if !c.eat("(") && !c.eat("[") {
                return err(c.pos, "`in` takes a list such as `(200, 204)`");
            }
            let mut vals = Vec::new();
            loop {
                c.skip_ws();
                let at = c.pos;
                vals.push(coerce(kind, parse_literal(&mut c, true)?, at)?);
                c.skip_ws();
                if c.eat(",") {
                    continue;
                }
                if c.eat(")") || c.eat("]") {
                    break;
                }
                return err(c.pos, "expected `,` or `)` in the list");
            }
            vals
        } else {
            let lit = parse_literal(&mut c, false)?;
            let lit = if matches!(op, Op::Contains | Op::NotContains | Op::Matches) {
                match lit {
                    Literal::Text(t) => Literal::Text(t),
                    other => Literal::Text(other.to_string()),
                }
            } else {
                coerce(kind, lit, value_at)?
            };
            vec![lit]
        };
        c.skip_ws();
        if !c.rest().is_empty() {
            return err(c.pos, format!("unexpected `{}` after the value", c.rest()));
        }
        let regex = if op == Op::Matches {
            let Literal::Text(pattern) = &values[0] else {
                return err(value_at, "`matches` takes a regular expression in quotes");
            };
            match regex::Regex::new(pattern) {
                Ok(r) => Some(r),
                Err(e) => {
                    let first = e
                        .to_string()
                        .lines()
                        .last()
                        .unwrap_or("")
                        .trim()
                        .to_string();
                    return err(value_at, format!("invalid regular expression: {first}"));
                }
            }
        } else {
            None
        };
        Ok(Condition {
            source: src.trim().to_string(),
            operand,
            op,
            values,
            regex,
        })
    }
}

fn parse_operand(c: &mut Cursor<'_>) -> Result<Operand, ParseError> {
    let start = c.pos;
    if !c.eat("[") {
        return err(
            start,
            "a condition starts with a placeholder such as `[STATUS]`, `[LATENCY]` or `[BODY]`",
        );
    }
    let Some(close) = c.rest().find(']') else {
        return err(start, "missing `]` after the placeholder name");
    };
    let name = &c.rest()[..close];
    let name_at = c.pos;
    c.pos += close + 1;
    let upper = name.trim().to_ascii_uppercase();
    let operand = match upper.as_str() {
        "STATUS" => Operand::Status,
        "LATENCY" | "RESPONSE_TIME" => Operand::Latency,
        "DNS_TIME" => Operand::DnsTime,
        "CONNECT_TIME" => Operand::ConnectTime,
        "TLS_TIME" => Operand::TlsTime,
        "TTFB" => Operand::Ttfb,
        "BODY" => Operand::Body,
        "CERT_EXPIRY" | "CERTIFICATE_EXPIRATION" => Operand::CertExpiry,
        "TLS_VERSION" => Operand::TlsVersion,
        "DNS_RCODE" => Operand::DnsRcode,
        "DNS_ANSWERS" => Operand::DnsAnswers,
        "DNS_ANSWER_COUNT" => Operand::DnsAnswerCount,
        "CONNECTED" => Operand::Connected,
        "REPLY" => Operand::Reply,
        "PUT_LATENCY" => Operand::PutLatency,
        "GET_LATENCY" => Operand::GetLatency,
        "LIST_LATENCY" => Operand::ListLatency,
        "DELETE_LATENCY" => Operand::DeleteLatency,
        "INTEGRITY" => Operand::Integrity,
        h if h.starts_with("HEADER:") => {
            let header = name.trim()["HEADER:".len()..].trim();
            if header.is_empty() {
                return err(
                    name_at,
                    "`[HEADER:]` needs a header name, e.g. `[HEADER:Content-Type]`",
                );
            }
            Operand::Header(header.to_ascii_lowercase())
        }
        _ => {
            let hint = closest(&upper, OPERANDS)
                .map(|s| format!("; did you mean `[{s}]`?"))
                .unwrap_or_default();
            return err(name_at, format!("unknown placeholder `[{name}]`{hint}"));
        }
    };
    if operand == Operand::Body {
        let path_at = c.pos;
        if c.rest().starts_with('/') {
            let end = c.rest().find(char::is_whitespace).unwrap_or(c.rest().len());
            let pointer = c.rest()[..end].to_string();
            c.pos += end;
            return Ok(Operand::BodyJson(pointer));
        }
        if c.rest().starts_with('.') || c.rest().starts_with('[') {
            let end = c.rest().find(char::is_whitespace).unwrap_or(c.rest().len());
            let path = &c.rest()[..end];
            let pointer = dotted_to_pointer(path).ok_or(ParseError {
                offset: path_at,
                message: format!(
                    "`{path}` is not a JSON path; write e.g. `[BODY].data.items[0].id`"
                ),
            })?;
            c.pos += end;
            return Ok(Operand::BodyJson(pointer));
        }
    }
    Ok(operand)
}

/// `.a.b[0].c` → `/a/b/0/c` (RFC 6901 escaping applied).
fn dotted_to_pointer(path: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end == 0 {
                return None;
            }
            out.push('/');
            out.push_str(&r[..end].replace('~', "~0").replace('/', "~1"));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let idx = &r[..end];
            if idx.is_empty() || !idx.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            out.push('/');
            out.push_str(idx);
            rest = &r[end + 1..];
        } else {
            return None;
        }
    }
    Some(out)
}

fn parse_op(c: &mut Cursor<'_>) -> Result<Op, ParseError> {
    let at = c.pos;
    let symbol_len = c
        .rest()
        .find(|ch: char| !matches!(ch, '=' | '<' | '>' | '!'))
        .unwrap_or(c.rest().len());
    if symbol_len > 0 {
        let symbol = &c.rest()[..symbol_len];
        let op = match symbol {
            "==" => Op::Eq,
            "!=" => Op::Ne,
            "<=" => Op::Le,
            ">=" => Op::Ge,
            "<" => Op::Lt,
            ">" => Op::Gt,
            "=" => return err(at, "`=` is not an operator; write `==` to compare"),
            other => {
                return err(
                    at,
                    format!("`{other}` is not an operator; use ==, !=, <, <=, >, >="),
                );
            }
        };
        c.pos += symbol_len;
        return Ok(op);
    }
    if c.eat_word("contains") {
        return Ok(Op::Contains);
    }
    if c.eat_word("matches") {
        return Ok(Op::Matches);
    }
    if c.eat_word("in") {
        return Ok(Op::In);
    }
    if c.eat_word("not") {
        c.skip_ws();
        if c.eat_word("contains") {
            return Ok(Op::NotContains);
        }
        return err(c.pos, "expected `contains` after `not`");
    }
    let found = c
        .rest()
        .split_whitespace()
        .next()
        .unwrap_or("end of condition");
    err(
        at,
        format!(
            "expected an operator (==, !=, <, <=, >, >=, contains, not contains, matches, in), found `{found}`"
        ),
    )
}

fn check_op(kind: ValueKind, op: Op, at: usize) -> Result<(), ParseError> {
    let ok = match kind {
        ValueKind::Number | ValueKind::Duration => {
            !matches!(op, Op::Contains | Op::NotContains | Op::Matches)
        }
        ValueKind::Bool => matches!(op, Op::Eq | Op::Ne),
        ValueKind::Text | ValueKind::Json => true,
        ValueKind::List => matches!(op, Op::Contains | Op::NotContains | Op::Eq | Op::Ne),
    };
    if ok {
        Ok(())
    } else {
        err(
            at,
            format!("`{}` cannot be used with this placeholder", op.as_str()),
        )
    }
}

fn parse_literal(c: &mut Cursor<'_>, in_list: bool) -> Result<Literal, ParseError> {
    let at = c.pos;
    let rest = c.rest();
    if rest.is_empty() {
        return err(at, "missing value after the operator");
    }
    if let Some(q) = rest.chars().next().filter(|ch| *ch == '"' || *ch == '\'') {
        let mut out = String::new();
        let mut chars = rest[1..].char_indices();
        while let Some((i, ch)) = chars.next() {
            if ch == q {
                c.pos += 1 + i + 1;
                return Ok(Literal::Text(out));
            }
            // Only the quote itself is escaped; other backslashes stay, so regexes read as written.
            if ch == '\\' && rest[1 + i + 1..].starts_with(q) {
                out.push(q);
                chars.next();
            } else {
                out.push(ch);
            }
        }
        return err(at, "unterminated string: missing closing quote");
    }
    let stop = |ch: char| ch.is_whitespace() || (in_list && (ch == ',' || ch == ')' || ch == ']'));
    let end = rest.find(stop).unwrap_or(rest.len());
    let word = &rest[..end];
    c.pos += end;
    if word.eq_ignore_ascii_case("true") {
        return Ok(Literal::Bool(true));
    }
    if word.eq_ignore_ascii_case("false") {
        return Ok(Literal::Bool(false));
    }
    let num_end = word
        .find(|ch: char| !(ch.is_ascii_digit() || ch == '.' || ch == '-'))
        .unwrap_or(word.len());
    if num_end > 0
        && let Ok(n) = word[..num_end].parse::<f64>()
    {
        let unit = &word[num_end..];
        let factor = match unit {
            "" => return Ok(Literal::Number(n)),
            "ms" => 1.0,
            "s" => 1_000.0,
            "m" => 60_000.0,
            "h" => 3_600_000.0,
            "d" => 86_400_000.0,
            _ => return Ok(Literal::Text(word.to_string())),
        };
        return Ok(Literal::Duration(n * factor));
    }
    Ok(Literal::Text(word.to_string()))
}

fn coerce(kind: ValueKind, lit: Literal, at: usize) -> Result<Literal, ParseError> {
    match (kind, lit) {
        (ValueKind::Number, Literal::Number(n)) => Ok(Literal::Number(n)),
        (ValueKind::Number, other) => err(at, format!("expected a number, found {other}")),
        (ValueKind::Duration, Literal::Duration(ms)) => Ok(Literal::Duration(ms)),
        (ValueKind::Duration, Literal::Number(_)) => {
            err(at, "a time needs a unit: write e.g. `500ms`, `2s` or `14d`")
        }
        (ValueKind::Duration, other) => err(
            at,
            format!("expected a time such as `500ms` or `14d`, found {other}"),
        ),
        (ValueKind::Bool, Literal::Bool(b)) => Ok(Literal::Bool(b)),
        (ValueKind::Bool, other) => err(at, format!("expected `true` or `false`, found {other}")),
        (ValueKind::Text | ValueKind::List, Literal::Text(t)) => Ok(Literal::Text(t)),
        (ValueKind::Text | ValueKind::List, other) => Ok(Literal::Text(other.to_string())),
        (ValueKind::Json, lit) => Ok(lit),
    }
}

/// The closest known name to `word`, if any is close enough to be a likely typo.
pub fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| (strsim::levenshtein(&word, &c.to_ascii_lowercase()), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Everything a probe observed that conditions can look at. Fields a probe kind does not
/// produce stay `None`.
#[derive(Clone, Debug, Default)]
pub struct Observation {
    pub status: Option<u16>,
    pub phases: Phases,
    pub body: Option<String>,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    /// Milliseconds from the probe to the leaf certificate's `notAfter` (negative once expired).
    pub cert_expires_in_ms: Option<i64>,
    pub tls_version: Option<String>,
    pub dns_rcode: Option<String>,
    pub dns_answers: Option<Vec<String>>,
    pub connected: Option<bool>,
    pub reply: Option<String>,
    /// Object storage phases, in milliseconds.
    pub storage: StoragePhases,
    /// Object storage: `ok`, or the integrity class that failed.
    pub integrity: Option<String>,
}

/// The phases of one object-storage cycle, in milliseconds (`None`: not reached).
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StoragePhases {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub put_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub get_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub list_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete_ms: Option<f64>,
}

/// The outcome of one condition against one observation.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    Pass,
    /// The condition does not hold; the text says what was found instead.
    Fail(String),
}

impl Condition {
    /// Evaluates the condition. `json` is the body parsed as JSON, when it parses (the
    /// caller parses once for all conditions).
    pub fn evaluate(&self, obs: &Observation, json: Option<&serde_json::Value>) -> Verdict {
        let actual = match self.actual(obs, json) {
            Ok(a) => a,
            Err(why) => return Verdict::Fail(why),
        };
        let holds = match &actual {
            Actual::Num(x) | Actual::Millis(x) => self.values.iter().any(|v| match v {
                Literal::Number(n) | Literal::Duration(n) => compare_num(self.op, *x, *n),
                _ => false,
            }),
            Actual::Bool(b) => {
                let want = matches!(self.values[0], Literal::Bool(true));
                (self.op == Op::Eq) == (*b == want)
            }
            Actual::Text(t) => self.text_holds(t),
            Actual::List(items) => {
                let Literal::Text(want) = &self.values[0] else {
                    return Verdict::Fail("bad literal".into());
                };
                match self.op {
                    Op::Contains => items.iter().any(|i| i == want),
                    Op::NotContains => !items.iter().any(|i| i == want),
                    Op::Eq => items.len() == 1 && items[0] == *want,
                    Op::Ne => !(items.len() == 1 && items[0] == *want),
                    _ => false,
                }
            }
            Actual::Json(v) => self.json_holds(v),
        };
        if holds {
            Verdict::Pass
        } else {
            Verdict::Fail(format!("{} (got {})", self.source, actual))
        }
    }

    fn text_holds(&self, t: &str) -> bool {
        match (self.op, &self.values[0]) {
            (Op::Matches, _) => self.regex.as_ref().is_some_and(|r| r.is_match(t)),
            (Op::Contains, Literal::Text(w)) => t.contains(w.as_str()),
            (Op::NotContains, Literal::Text(w)) => !t.contains(w.as_str()),
            (Op::In, _) => self.values.iter().any(|v| literal_text_eq(v, t)),
            (Op::Eq, v) => literal_text_eq(v, t),
            (Op::Ne, v) => !literal_text_eq(v, t),
            (op, Literal::Text(w)) => match (t.parse::<f64>(), w.parse::<f64>()) {
                (Ok(a), Ok(b)) => compare_num(op, a, b),
                _ => compare_ord(op, t.cmp(w.as_str())),
            },
            (op, Literal::Number(n) | Literal::Duration(n)) => {
                t.parse::<f64>().is_ok_and(|a| compare_num(op, a, *n))
            }
            _ => false,
        }
    }

    fn json_holds(&self, v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::Number(n) => {
                let x = n.as_f64().unwrap_or(f64::NAN);
                match self.op {
                    Op::In => self.values.iter().any(|l| literal_num(l) == Some(x)),
                    Op::Contains | Op::NotContains | Op::Matches => self.text_holds(&n.to_string()),
                    op => literal_num(&self.values[0]).is_some_and(|w| compare_num(op, x, w)),
                }
            }
            serde_json::Value::Bool(b) => {
                let want = match &self.values[0] {
                    Literal::Bool(w) => Some(*w),
                    Literal::Text(t) => t.parse::<bool>().ok(),
                    _ => None,
                };
                match self.op {
                    Op::Eq => want == Some(*b),
                    Op::Ne => want != Some(*b),
                    _ => false,
                }
            }
            serde_json::Value::String(s) => self.text_holds(s),
            serde_json::Value::Null => match self.op {
                Op::Eq => matches!(&self.values[0], Literal::Text(t) if t == "null"),
                Op::Ne => !matches!(&self.values[0], Literal::Text(t) if t == "null"),
                _ => false,
            },
            serde_json::Value::Array(items) => match self.op {
                Op::Contains | Op::NotContains => {
                    let found = items.iter().any(|i| match i {
                        serde_json::Value::String(s) => literal_text_eq(&self.values[0], s),
                        other => literal_text_eq(&self.values[0], &other.to_string()),
                    });
                    found == (self.op == Op::Contains)
                }
                op => literal_num(&self.values[0])
                    .is_some_and(|w| compare_num(op, items.len() as f64, w)),
            },
            serde_json::Value::Object(_) => self.text_holds(&v.to_string()),
        }
    }

    fn actual(
        &self,
        obs: &Observation,
        json: Option<&serde_json::Value>,
    ) -> Result<Actual, String> {
        let missing = |what: &str| format!("{}: no {what} was observed", self.source);
        let phase = |p: Option<f64>, what: &str| p.map(Actual::Millis).ok_or_else(|| missing(what));
        Ok(match &self.operand {
            Operand::Status => {
                Actual::Num(f64::from(obs.status.ok_or_else(|| missing("HTTP status"))?))
            }
            Operand::Latency => phase(obs.phases.total_ms, "total time")?,
            Operand::DnsTime => phase(obs.phases.dns_ms, "DNS lookup")?,
            Operand::ConnectTime => phase(obs.phases.connect_ms, "connect")?,
            Operand::TlsTime => phase(obs.phases.tls_ms, "TLS handshake")?,
            Operand::Ttfb => phase(obs.phases.ttfb_ms, "first byte")?,
            Operand::Body => Actual::Text(obs.body.clone().ok_or_else(|| missing("body"))?),
            Operand::BodyJson(pointer) => {
                let root = json.ok_or_else(|| format!("{}: the body is not JSON", self.source))?;
                Actual::Json(
                    root.pointer(pointer).cloned().ok_or_else(|| {
                        format!("{}: `{pointer}` is not in the body", self.source)
                    })?,
                )
            }
            Operand::Header(name) => Actual::Text(
                obs.headers
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| format!("{}: no `{name}` header", self.source))?,
            ),
            Operand::CertExpiry => Actual::Millis(
                obs.cert_expires_in_ms
                    .ok_or_else(|| missing("certificate"))? as f64,
            ),
            Operand::TlsVersion => {
                Actual::Text(obs.tls_version.clone().ok_or_else(|| missing("TLS"))?)
            }
            Operand::DnsRcode => {
                Actual::Text(obs.dns_rcode.clone().ok_or_else(|| missing("DNS answer"))?)
            }
            Operand::DnsAnswers => Actual::List(
                obs.dns_answers
                    .clone()
                    .ok_or_else(|| missing("DNS answer"))?,
            ),
            Operand::DnsAnswerCount => Actual::Num(
                obs.dns_answers
                    .as_ref()
                    .ok_or_else(|| missing("DNS answer"))?
                    .len() as f64,
            ),
            Operand::Connected => Actual::Bool(obs.connected.unwrap_or(false)),
            Operand::Reply => Actual::Text(obs.reply.clone().ok_or_else(|| missing("reply"))?),
            Operand::PutLatency => phase(obs.storage.put_ms, "PUT")?,
            Operand::GetLatency => phase(obs.storage.get_ms, "GET")?,
            Operand::ListLatency => phase(obs.storage.list_ms, "LIST")?,
            Operand::DeleteLatency => phase(obs.storage.delete_ms, "DELETE")?,
            Operand::Integrity => Actual::Text(
                obs.integrity
                    .clone()
                    .ok_or_else(|| missing("integrity check"))?,
            ),
        })
    }

    /// True when the condition is about time (a latency or phase threshold).
    pub fn is_latency(&self) -> bool {
        self.operand.kind() == ValueKind::Duration && self.operand != Operand::CertExpiry
    }
}

enum Actual {
    Num(f64),
    /// A time in milliseconds, shown with a unit.
    Millis(f64),
    Bool(bool),
    Text(String),
    List(Vec<String>),
    Json(serde_json::Value),
}

impl fmt::Display for Actual {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actual::Num(n) => write!(f, "{}", trim_num(*n)),
            Actual::Millis(ms) => f.write_str(&humane_ms(*ms)),
            Actual::Bool(b) => write!(f, "{b}"),
            Actual::Text(t) => {
                let short: String = t.chars().take(80).collect();
                let ell = if t.chars().count() > 80 { "…" } else { "" };
                write!(f, "{short:?}{ell}")
            }
            Actual::List(l) => write!(f, "{l:?}"),
            Actual::Json(v) => {
                let s = v.to_string();
                let short: String = s.chars().take(80).collect();
                write!(f, "{short}")
            }
        }
    }
}

fn trim_num(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n:.1}")
    }
}

/// `903.1ms`, `2.5s`, `9d 23h`: the unit a person would use for the size.
fn humane_ms(ms: f64) -> String {
    let a = ms.abs();
    if a < 1000.0 {
        format!("{ms:.1}ms")
    } else if a < 120_000.0 {
        format!("{:.2}s", ms / 1000.0)
    } else if a < 7_200_000.0 {
        format!("{:.1}m", ms / 60_000.0)
    } else if a < 172_800_000.0 {
        format!("{:.1}h", ms / 3_600_000.0)
    } else {
        format!("{:.1}d", ms / 86_400_000.0)
    }
}

fn fmt_ms(ms: f64) -> String {
    format!("{}ms", trim_num(ms))
}

fn literal_num(l: &Literal) -> Option<f64> {
    match l {
        Literal::Number(n) | Literal::Duration(n) => Some(*n),
        Literal::Text(t) => t.parse().ok(),
        Literal::Bool(_) => None,
    }
}

fn literal_text_eq(l: &Literal, t: &str) -> bool {
    match l {
        Literal::Text(w) => w == t,
        Literal::Number(n) => t.parse::<f64>().is_ok_and(|x| x == *n),
        Literal::Bool(b) => t == b.to_string(),
        Literal::Duration(_) => false,
    }
}

fn compare_num(op: Op, a: f64, b: f64) -> bool {
    match op {
        Op::Eq | Op::In => a == b,
        Op::Ne => a != b,
        Op::Lt => a < b,
        Op::Le => a <= b,
        Op::Gt => a > b,
        Op::Ge => a >= b,
        _ => false,
    }
}

fn compare_ord(op: Op, o: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::*;
    match op {
        Op::Lt => o == Less,
        Op::Le => o != Greater,
        Op::Gt => o == Greater,
        Op::Ge => o != Less,
        _ => false,
    }
}

#[cfg(test)]
mod tests;
