//! What a feed poll changes, decided without the database: both backends read the feed's
//! current incidents, ask [`revisions`] what this poll makes of them, and write that.

use super::*;
use probity_core::provider::{FieldChange, ProviderIncident, compare};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A provider incident as stored before this poll.
pub(crate) struct Current {
    pub revision: u32,
    pub removed_at_ms: Option<i64>,
    pub incident: ProviderIncident,
}

/// One revision a poll makes: `new`, `changed`, `returned` or `removed`.
pub(crate) struct Revision {
    pub id: String,
    pub revision: u32,
    pub kind: &'static str,
    pub changes: Vec<FieldChange>,
    pub incident: ProviderIncident,
}

impl Revision {
    /// Whether it altered what was already published.
    pub fn edited(&self) -> bool {
        self.changes.iter().any(|c| c.edit)
    }

    /// Counts it into the poll's summary.
    pub fn count(&self, summary: &mut PollSummary) {
        match self.kind {
            "new" => {
                summary.new += 1;
                summary.new_ids.push(self.id.clone());
            }
            "removed" => summary.removed += 1,
            "returned" => summary.returned += 1,
            _ => summary.changed += 1,
        }
        if self.kind != "new" && self.kind != "removed" && self.edited() {
            summary.edited += 1;
        }
    }
}

/// The body a poll read (a failure's truncated body too), its hash and its error text.
pub(crate) fn poll_body(poll: &FeedPoll) -> (Option<&Vec<u8>>, Option<String>, Option<&str>) {
    let body = match &poll.outcome {
        PollOutcome::Ok { body, .. } => Some(body),
        PollOutcome::Failed { body, .. } => body.as_ref(),
        PollOutcome::NotModified => None,
    };
    let error = match &poll.outcome {
        PollOutcome::Failed { error, .. } => Some(error.as_str()),
        _ => None,
    };
    (body, body.map(|b| sha256_hex(b)), error)
}

/// What the listed `incidents` make of the feed's `current` ones, and the ids listed. A
/// feed that lists one id twice: the first stands.
pub(crate) fn revisions(
    current: &HashMap<String, Current>,
    incidents: &[ProviderIncident],
    overwrites_in_place: bool,
) -> (Vec<Revision>, HashSet<String>) {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for incident in incidents {
        let id = &incident.external_id;
        if !seen.insert(id.clone()) {
            continue;
        }
        let (revision, kind, changes) = match current.get(id) {
            None => (1, "new", Vec::new()),
            Some(c) => {
                let changes = compare(&c.incident, incident, overwrites_in_place);
                if c.removed_at_ms.is_some() {
                    (c.revision + 1, "returned", changes)
                } else if !changes.is_empty() {
                    (c.revision + 1, "changed", changes)
                } else {
                    continue;
                }
            }
        };
        out.push(Revision {
            id: id.clone(),
            revision,
            kind,
            changes,
            incident: incident.clone(),
        });
    }
    // Sorted so both backends give leaves in one order (the map's is not stable).
    let mut gone: Vec<_> = current
        .iter()
        .filter(|(id, c)| c.removed_at_ms.is_none() && !seen.contains(*id))
        .collect();
    gone.sort_by(|a, b| a.0.cmp(b.0));
    for (id, c) in gone {
        out.push(Revision {
            id: id.clone(),
            revision: c.revision + 1,
            kind: "removed",
            changes: Vec::new(),
            incident: c.incident.clone(),
        });
    }
    (out, seen)
}

/// Whether a stored provider incident is one `f` asks for (its window, as of `now_ms`,
/// meets the filter's; edited ones only if asked).
pub(crate) fn wanted(p: &StoredProviderIncident, f: &ProviderFilter, now_ms: i64) -> bool {
    if f.changed_only && !p.changed_after_publication {
        return false;
    }
    let i = &p.incident;
    let start = [i.started_at_ms, i.published_at_ms, Some(p.first_seen_at_ms)]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(p.first_seen_at_ms);
    let end = i
        .resolved_at_ms
        .or(p.removed_at_ms)
        .unwrap_or(now_ms)
        .max(start);
    !(f.since_ms.is_some_and(|s| end < s) || f.until_ms.is_some_and(|u| start >= u))
}

/// The incidents a document lists, each id once (the first listing stands).
pub(crate) fn first_listings(incidents: &[ProviderIncident]) -> Vec<&ProviderIncident> {
    let mut seen = HashSet::new();
    incidents
        .iter()
        .filter(|i| seen.insert(i.external_id.as_str()))
        .collect()
}
