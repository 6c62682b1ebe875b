//! Shared observations between probity instances of different organisations: a signed
//! **outage statement** says "my log holds an incident on this provider's service and
//! region, from this minute to that, seen by this many vantages", and carries the proof.
//!
//! A statement is a C2SP signed note, signed with the sender's log key:
//!
//! ```text
//! probity-outage/v1
//! origin <the sender's log origin>
//! incident <the sender's incident id>
//! provider <text>
//! service <text>
//! region <text>
//! start <ms since the Unix epoch>
//! end <ms, or "open">
//! vantages <n>
//! leaf <index> <base64 SHA-256 leaf hash>     (the incident's "opened" record)
//! leaf <index> <base64 SHA-256 leaf hash>     (its "resolved" record, once it ended)
//! ```
//!
//! An [`Envelope`] carries the statement, a checkpoint signed by the same key, and one
//! inclusion proof per leaf in that checkpoint's tree. Only leaf *hashes* travel: a
//! receiver learns that the sender's log committed to the records, never their text (which
//! names the sender's target); the sender can reveal the records to an arbiter later, and
//! the hashes bind them. [`verify`] checks everything, purely; [`corroborations`] counts,
//! for each locally observed incident, the other organisations whose statements match it.

use crate::merkle::{self, Hash};
use crate::names::{same_region, same_service, slug};
use crate::note::{Checkpoint, NoteError, NoteSigner, NoteVerifier, verify_note};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

const HEADER: &str = "probity-outage/v1";

/// The largest envelope read from a peer.
pub const MAX_ENVELOPE_BYTES: usize = 32 * 1024;
/// The longest provider, service or region name accepted.
const MAX_NAME: usize = 200;
/// How far in the future a statement's times may be (clock skew).
pub const MAX_SKEW_MS: i64 = 5 * 60_000;
/// How far in the past a statement may begin.
pub const MAX_AGE_MS: i64 = 400 * 86_400_000;

/// What a statement says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Statement {
    pub origin: String,
    pub incident: i64,
    pub provider: String,
    pub service: String,
    pub region: String,
    pub start_ms: i64,
    /// `None` while the incident is open.
    pub end_ms: Option<i64>,
    pub vantages: u32,
    /// The incident's records in the sender's log: `(index, leaf hash)`.
    pub leaves: Vec<(u64, Hash)>,
}

/// A statement as it travels between instances and rides in evidence bundles.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// The signed statement note.
    pub statement: String,
    /// A checkpoint of the sender's log, signed with the same key, covering every leaf.
    pub checkpoint: String,
    /// One inclusion proof per `leaf` line, in order, each a list of base64 hashes.
    pub proofs: Vec<Vec<String>>,
}

/// Why a statement was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not a statement at all (a line, a field, a number).
    #[error("malformed statement: {0}")]
    Malformed(String),
    /// Not signed by the key it claims, or not by a known peer.
    #[error("signature: {0}")]
    Signature(String),
    /// The proofs do not tie the leaves to the checkpoint.
    #[error("proof: {0}")]
    Proof(String),
    /// Times in the future, too old, or reversed.
    #[error("time: {0}")]
    Time(String),
}

impl Statement {
    /// The note text (unsigned).
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "{HEADER}\norigin {}\nincident {}\nprovider {}\nservice {}\nregion {}\nstart {}\nend {}\nvantages {}\n",
            self.origin,
            self.incident,
            self.provider,
            self.service,
            self.region,
            self.start_ms,
            self.end_ms.map_or("open".to_string(), |e| e.to_string()),
            self.vantages,
        );
        for (index, hash) in &self.leaves {
            s.push_str(&format!("leaf {index} {}\n", B64.encode(hash)));
        }
        s
    }

    /// Reads a statement's text (its signature checked elsewhere).
    pub fn parse(text: &str) -> Result<Statement, Refusal> {
        let bad = |m: String| Refusal::Malformed(m);
        let mut lines = text.lines();
        if lines.next() != Some(HEADER) {
            return Err(bad(format!("the first line must be {HEADER}")));
        }
        let mut field = |name: &str| -> Result<String, Refusal> {
            let line = lines
                .next()
                .ok_or_else(|| bad(format!("no `{name}` line")))?;
            let value = line
                .strip_prefix(name)
                .and_then(|r| r.strip_prefix(' '))
                .ok_or_else(|| bad(format!("expected `{name} …`, found {line:?}")))?;
            if value.is_empty() || value.len() > MAX_NAME || value.chars().any(char::is_control) {
                return Err(bad(format!(
                    "`{name}` must be 1 to {MAX_NAME} printable characters"
                )));
            }
            Ok(value.to_string())
        };
        let number = |name: &str, v: String| -> Result<i64, Refusal> {
            v.parse::<i64>()
                .map_err(|_| bad(format!("`{name}` is not a whole number: {v:?}")))
        };
        let origin = field("origin")?;
        if origin.contains(' ') {
            return Err(bad("`origin` has a space".into()));
        }
        let incident = number("incident", field("incident")?)?;
        let provider = field("provider")?;
        let service = field("service")?;
        let region = field("region")?;
        let start_ms = number("start", field("start")?)?;
        let end = field("end")?;
        let end_ms = if end == "open" {
            None
        } else {
            Some(number("end", end)?)
        };
        let vantages = field("vantages")?
            .parse::<u32>()
            .ok()
            .filter(|v| *v >= 1)
            .ok_or_else(|| bad("`vantages` must be a whole number of at least 1".into()))?;
        let mut leaves = Vec::new();
        for line in lines {
            let rest = line
                .strip_prefix("leaf ")
                .ok_or_else(|| bad(format!("expected `leaf …`, found {line:?}")))?;
            let (index, hash) = rest
                .split_once(' ')
                .ok_or_else(|| bad("a `leaf` line is `leaf <index> <hash>`".into()))?;
            let index = index
                .parse::<u64>()
                .map_err(|_| bad(format!("leaf index {index:?} is not a number")))?;
            let hash: Hash = B64
                .decode(hash)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| bad("a leaf hash is not 32 bytes of base64".into()))?;
            leaves.push((index, hash));
        }
        if leaves.is_empty() || leaves.len() > 2 {
            return Err(bad("a statement names one or two leaves".into()));
        }
        if end_ms.is_some() != (leaves.len() == 2) {
            return Err(bad(
                "an ended incident names two leaves (opened, resolved), an open one one".into(),
            ));
        }
        Ok(Statement {
            origin,
            incident,
            provider,
            service,
            region,
            start_ms,
            end_ms,
            vantages,
            leaves,
        })
    }

    /// The envelope for this statement: signed, with the checkpoint and the proofs.
    pub fn seal(
        &self,
        signer: &NoteSigner,
        checkpoint_note: &str,
        proofs: &[Vec<Hash>],
    ) -> Result<Envelope, NoteError> {
        Ok(Envelope {
            statement: signer.sign(&self.to_text())?,
            checkpoint: checkpoint_note.to_string(),
            proofs: proofs
                .iter()
                .map(|p| p.iter().map(|h| B64.encode(h)).collect())
                .collect(),
        })
    }
}

/// Checks an envelope against the sender's key, purely: the statement and the checkpoint
/// are signed by `key`, are of its log (a probity log's key is named after its origin),
/// every leaf is proven in the checkpoint's
/// tree, and the times are sane at `now_ms`. Returns what it states.
pub fn verify(env: &Envelope, key: &NoteVerifier, now_ms: i64) -> Result<Statement, Refusal> {
    let sig = |what: &str, e: NoteError| Refusal::Signature(format!("{what}: {e}"));
    let text = verify_note(&env.statement, std::slice::from_ref(key))
        .map_err(|e| sig("the statement", e))?;
    let st = Statement::parse(text)?;
    if st.origin != key.name() {
        return Err(Refusal::Signature(format!(
            "the statement is of the log {:?}, the key of {:?}",
            st.origin,
            key.name()
        )));
    }
    let cp_text = verify_note(&env.checkpoint, std::slice::from_ref(key))
        .map_err(|e| sig("the checkpoint", e))?;
    let cp = Checkpoint::parse(cp_text).map_err(|e| Refusal::Malformed(e.to_string()))?;
    if cp.origin != st.origin {
        return Err(Refusal::Proof(format!(
            "the checkpoint is of {:?}, the statement of {:?}",
            cp.origin, st.origin
        )));
    }
    if env.proofs.len() != st.leaves.len() {
        return Err(Refusal::Proof(format!(
            "{} leaves but {} proofs",
            st.leaves.len(),
            env.proofs.len()
        )));
    }
    for ((index, hash), proof) in st.leaves.iter().zip(&env.proofs) {
        if proof.len() > 64 {
            return Err(Refusal::Proof("a proof longer than 64 hashes".into()));
        }
        let path: Vec<Hash> = proof
            .iter()
            .map(|h| B64.decode(h).ok().and_then(|b| b.try_into().ok()))
            .collect::<Option<_>>()
            .ok_or_else(|| Refusal::Proof("a proof hash is not 32 bytes of base64".into()))?;
        merkle::verify_inclusion(*index, cp.size, hash, &path, &cp.root).map_err(|e| {
            Refusal::Proof(format!(
                "leaf {index} is not in the checkpoint of size {}: {e}",
                cp.size
            ))
        })?;
    }
    let latest = now_ms + MAX_SKEW_MS;
    if st.start_ms > latest || st.end_ms.is_some_and(|e| e > latest) {
        return Err(Refusal::Time(
            "the statement's times are in the future".into(),
        ));
    }
    if st.end_ms.is_some_and(|e| e < st.start_ms) {
        return Err(Refusal::Time("it ends before it starts".into()));
    }
    if st.start_ms < now_ms - MAX_AGE_MS {
        return Err(Refusal::Time("it began more than 400 days ago".into()));
    }
    Ok(st)
}

/// An observed incident as corroboration sees it: provider, service and region, and its
/// span (`end_ms` `None` while open).
#[derive(Clone, Copy, Debug)]
pub struct Outage<'a> {
    pub provider: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub start_ms: i64,
    pub end_ms: Option<i64>,
}

impl<'a> Outage<'a> {
    /// An observed incident's outage, when its target names a provider, a service and a
    /// region (the only names shared).
    pub fn of(o: &'a crate::reconcile::Observed) -> Option<Outage<'a>> {
        Some(Outage {
            provider: o.names.provider.as_deref()?,
            service: o.names.service.as_deref()?,
            region: o.names.region.as_deref()?,
            start_ms: o.start_ms,
            end_ms: o.end_ms,
        })
    }
}

/// Whether a statement tells of the same outage: the same provider, service and region
/// (by the providers' names, as reconciliation matches them) and spans that overlap within
/// `tolerance_ms`. Open spans run to `now_ms`.
pub fn same_outage(o: &Outage<'_>, s: &Statement, tolerance_ms: i64, now_ms: i64) -> bool {
    let provider = slug(o.provider);
    if provider != slug(&s.provider)
        || !same_service(o.service, &s.service)
        || !same_region(&provider, o.region, &s.region)
    {
        return false;
    }
    let (a0, a1) = (o.start_ms, o.end_ms.unwrap_or(now_ms).max(o.start_ms));
    let (b0, b1) = (s.start_ms, s.end_ms.unwrap_or(now_ms).max(s.start_ms));
    a0 <= b1 + tolerance_ms && b0 <= a1 + tolerance_ms
}

/// The origins (other organisations' logs, sorted, each once) whose statements corroborate
/// `o`. Statements come from peers only: a peer's key is never this server's own.
pub fn corroborations<'s>(
    o: &Outage<'_>,
    statements: impl IntoIterator<Item = &'s Statement>,
    tolerance_ms: i64,
    now_ms: i64,
) -> Vec<String> {
    let mut origins: Vec<String> = statements
        .into_iter()
        .filter(|s| same_outage(o, s, tolerance_ms, now_ms))
        .map(|s| s.origin.clone())
        .collect();
    origins.sort();
    origins.dedup();
    origins
}

#[cfg(test)]
mod tests;
