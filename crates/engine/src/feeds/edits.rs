//! What a provider changed after publishing: each edit of a declaration, with the value
//! before and after and when probity saw it, read from the stored revisions; and the
//! declaration as first published.

use crate::store::{ProviderRevision, StoredProviderIncident};
use probity_core::provider::ProviderIncident;
use probity_ground::time::{Stamp, rfc3339};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Value, json};

/// One edit of something already published.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct Edit {
    /// `title`, `impact`, `started_at`, `published_at`, `resolved_at`, `services`,
    /// `regions`, `update_text`, `update_removed`.
    pub field: String,
    /// The value before (times RFC 3339; updates as `status: text`).
    pub from: Value,
    /// The value after.
    pub to: Value,
    pub seen_at: Stamp,
}

/// A declaration's values as first seen.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct FirstPublished {
    pub title: String,
    pub impact: probity_core::provider::Impact,
    pub started_at: Option<Stamp>,
    pub published_at: Option<Stamp>,
    pub resolved_at: Option<Stamp>,
    pub services: Vec<String>,
    pub regions: Vec<String>,
    /// When probity first saw it.
    pub first_seen_at: Stamp,
}

/// The value of `field` in `i`, as an edit shows it.
pub fn value(i: &ProviderIncident, field: &str) -> Value {
    let time = |t: Option<i64>| t.map_or(Value::Null, |t| json!(rfc3339(t)));
    match field {
        "title" => json!(i.title),
        "impact" => json!(i.impact.as_str()),
        "status" => json!(i.status),
        "started_at" => time(i.started_at_ms),
        "published_at" => time(i.published_at_ms),
        "resolved_at" => time(i.resolved_at_ms),
        "services" => json!(i.services),
        "regions" => json!(i.regions),
        "url" => json!(i.url),
        _ => json!(
            i.updates
                .iter()
                .map(|u| format!("{}: {}", u.status, u.text))
                .collect::<Vec<_>>()
        ),
    }
}

/// Every edit among `revisions` (oldest first), field by field.
pub fn edits(revisions: &[&ProviderRevision]) -> Vec<Edit> {
    revisions
        .windows(2)
        .flat_map(|w| {
            let (before, after) = (w[0], w[1]);
            after.changes.iter().filter(|c| c.edit).map(move |c| Edit {
                field: c.field.clone(),
                from: value(&before.incident, &c.field),
                to: value(&after.incident, &c.field),
                seen_at: Stamp::ms(after.seen_at_ms),
            })
        })
        .collect()
}

/// Whether an edit made the declaration read shorter: its start later, or its end earlier.
pub fn shortens(before: &ProviderIncident, after: &ProviderIncident) -> bool {
    let later = matches!(
        (before.started_at_ms, after.started_at_ms),
        (Some(a), Some(b)) if b > a
    );
    let earlier = matches!(
        (before.resolved_at_ms, after.resolved_at_ms),
        (Some(a), Some(b)) if b < a
    );
    later || earlier
}

/// The declaration as first published (the first revision, or the latest version when no
/// revisions are stored).
pub fn first_published(p: &StoredProviderIncident) -> FirstPublished {
    let i = p.revisions.first().map_or(&p.incident, |r| &r.incident);
    FirstPublished {
        title: i.title.clone(),
        impact: i.impact,
        started_at: Stamp::opt(i.started_at_ms),
        published_at: Stamp::opt(i.published_at_ms),
        resolved_at: Stamp::opt(i.resolved_at_ms),
        services: i.services.clone(),
        regions: i.regions.clone(),
        first_seen_at: Stamp::ms(p.first_seen_at_ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use probity_core::provider::{FieldChange, Impact};

    fn incident(start: i64, end: i64) -> ProviderIncident {
        ProviderIncident {
            provider: "p".into(),
            source: "f".into(),
            external_id: "x".into(),
            title: "Errors".into(),
            services: vec!["API".into()],
            regions: vec![],
            impact: Impact::Major,
            status: "resolved".into(),
            started_at_ms: Some(start),
            published_at_ms: Some(start),
            updated_at_ms: None,
            resolved_at_ms: Some(end),
            updates: vec![],
            url: None,
        }
    }

    #[test]
    fn an_edit_of_the_start_reads_before_and_after() {
        let first = ProviderRevision {
            revision: 1,
            seen_at_ms: 1_000,
            kind: "new".into(),
            changes: vec![],
            leaf: 0,
            incident: incident(0, 600_000),
        };
        let moved = ProviderRevision {
            revision: 2,
            seen_at_ms: 2_000,
            kind: "changed".into(),
            changes: vec![FieldChange {
                field: "started_at".into(),
                edit: true,
            }],
            leaf: 1,
            incident: incident(300_000, 600_000),
        };
        let e = edits(&[&first, &moved]);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].field, "started_at");
        assert_eq!(e[0].from, json!("1970-01-01T00:00:00.000Z"));
        assert_eq!(e[0].to, json!("1970-01-01T00:05:00.000Z"));
        assert_eq!(e[0].seen_at, Stamp::ms(2_000));
        assert!(shortens(&first.incident, &moved.incident));
        assert!(!shortens(&moved.incident, &first.incident));
        assert!(shortens(&incident(0, 600_000), &incident(0, 500_000)));
    }
}
