//! What becomes a leaf of the evidence log: the canonical record encoding. It lives with
//! the store because leaves are appended in the same transaction as the rows they attest,
//! and the audit rebuilds them from those rows.
//!
//! **Canonical records** are compact JSON, UTF-8, keys in the order written here, no
//! whitespace; a leaf is exactly these bytes, so anyone holding the bytes can recompute
//! its hash (`SHA-256(0x00 ‖ bytes)`), and anyone holding the database rows can recompute
//! the bytes. docs/evidence.md specifies them field by field.
//!
//! - One `results` record per committed batch of results.
//! - One `incident` record per incident change (opened, escalated, resolved).
//! - One `verdict` record per judgement of a deployment gate (the record is the fact).
//! - One `canary` record per object-storage canary written (the manifest entry).

use super::{IncidentChange, ResultRecord};
use serde_json::json;

/// The canonical record of a batch of results.
pub fn results_record(results: &[ResultRecord]) -> Vec<u8> {
    let items: Vec<serde_json::Value> = results
        .iter()
        .map(|r| {
            let mut v = json!({
                "id": r.id,
                "target": r.target,
                "vantage": r.vantage,
                "at_ms": r.at_ms,
                "health": r.health.as_str(),
                "total_ms": r.phases.total_ms,
                "error_class": r.cause.as_ref().map(|c| c.class.as_str()),
                "error": r.cause.as_ref().map(|c| c.detail.as_str()),
            });
            // Present only when they say something, so that a local result's record is
            // the same as before vantages existed.
            if r.unmeasured {
                v["unmeasured"] = json!(true);
            }
            if let Some(o) = &r.origin {
                v["origin"] = json!(o);
            }
            if let Some(c) = r.clock_offset_ms {
                v["clock_offset_ms"] = json!(c);
            }
            v
        })
        .collect();
    serde_json::to_vec(&json!({"type": "results", "v": 1, "results": items}))
        .expect("JSON of plain values")
}

/// The canonical record of an incident change.
pub fn incident_record(change: &IncidentChange) -> Vec<u8> {
    let v = match change {
        IncidentChange::Open {
            id,
            target,
            started_at_ms,
            severity,
            cause,
            evidence,
            seen,
        } => with_seen(
            json!({
                "type": "incident", "v": 1, "change": "opened", "id": id, "target": target,
                "at_ms": started_at_ms, "severity": severity.as_str(),
                "cause_class": cause.class.as_str(), "cause": cause.detail, "evidence": evidence,
            }),
            seen,
        ),
        IncidentChange::Escalate {
            id,
            severity,
            result_id,
        } => json!({
            "type": "incident", "v": 1, "change": "escalated", "id": id,
            "severity": severity.as_str(), "evidence": [result_id],
        }),
        IncidentChange::Resolve {
            id,
            resolved_at_ms,
            evidence,
            seen,
        } => with_seen(
            json!({
                "type": "incident", "v": 1, "change": "resolved", "id": id,
                "at_ms": resolved_at_ms, "evidence": evidence,
            }),
            seen,
        ),
    };
    serde_json::to_vec(&v).expect("JSON of plain values")
}

/// Adds `vantages` (what each vantage saw) to an incident record, when there is more than
/// the server's own view: a single `local` vantage adds nothing.
fn with_seen(mut v: serde_json::Value, seen: &[probity_core::quorum::Seen]) -> serde_json::Value {
    let only_local = seen.len() == 1 && seen[0].vantage == probity_ground::vantage::LOCAL;
    if !seen.is_empty() && !only_local {
        v["vantages"] = seen
            .iter()
            .map(|s| {
                json!({
                    "vantage": s.vantage, "status": s.status.as_str(),
                    "failing_since_ms": s.failing_since_ms, "last_at_ms": s.last_at_ms,
                })
            })
            .collect();
    }
    v
}

/// The canonical record of one poll of a provider feed: what came back, and the SHA-256
/// of the document exactly as served (the document itself is kept in the database).
pub fn feed_poll_record(
    feed: &str,
    at_ms: i64,
    outcome: &str,
    http_status: Option<u16>,
    sha256: Option<&str>,
    bytes: Option<usize>,
    error: Option<&str>,
) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "type": "feed_poll", "v": 1, "feed": feed, "at_ms": at_ms, "outcome": outcome,
        "http_status": http_status, "sha256": sha256, "bytes": bytes, "error": error,
    }))
    .expect("JSON of plain values")
}

/// The canonical record of one revision of a provider incident: a first sighting, a
/// change, a removal from the feed or a return, with the normalized incident as seen and
/// the document it came from.
#[allow(clippy::too_many_arguments)]
pub fn provider_revision_record(
    feed: &str,
    external_id: &str,
    revision: u32,
    kind: &str,
    seen_at_ms: i64,
    changes: &[probity_core::provider::FieldChange],
    document_sha256: &str,
    incident: &probity_core::provider::ProviderIncident,
) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "type": "provider_incident", "v": 1, "feed": feed, "external_id": external_id,
        "revision": revision, "kind": kind, "seen_at_ms": seen_at_ms, "changes": changes,
        "document": document_sha256, "incident": incident,
    }))
    .expect("JSON of plain values")
}

/// A deployment gate's verdict as recorded: what was compared, over which time, and what
/// the judge said, metric by metric. The record is the fact itself (no row restates it),
/// so "we rolled back because …" is provable from the log alone.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VerdictRecord {
    pub at_ms: i64,
    /// The `[[gate]]` or plan that asked, when one did.
    pub gate: Option<String>,
    /// The plan's step (1-based), for `gate run`.
    pub step: Option<u32>,
    /// What each side was: `target:NAME`, a URL without credentials or query, a PromQL
    /// query or a file name.
    pub baseline: String,
    pub canary: String,
    /// The samples' time span (Unix ms), when known.
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub verdict: String,
    pub score: f64,
    pub decided_by: Option<String>,
    pub summary: String,
    pub metrics: Vec<VerdictMetric>,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VerdictMetric {
    pub metric: String,
    pub class: String,
    pub baseline_n: u64,
    pub canary_n: u64,
    pub baseline: Option<f64>,
    pub canary: Option<f64>,
    pub p_worse: Option<f64>,
}

impl VerdictRecord {
    /// The record of `j`, with what was compared.
    pub fn new(
        at_ms: i64,
        (baseline, canary): (String, String),
        (from_ms, to_ms): (Option<i64>, Option<i64>),
        j: &probity_core::judge::Judgement,
    ) -> Self {
        let name = |v: serde_json::Value| v.as_str().unwrap_or("?").to_string();
        VerdictRecord {
            at_ms,
            gate: None,
            step: None,
            baseline,
            canary,
            from_ms,
            to_ms,
            verdict: name(json!(j.verdict)),
            score: j.score,
            decided_by: j.decided_by.map(String::from),
            summary: j.summary.clone(),
            metrics: j
                .metrics
                .iter()
                .map(|m| VerdictMetric {
                    metric: m.metric.to_string(),
                    class: name(json!(m.class)),
                    baseline_n: m.baseline_n,
                    canary_n: m.canary_n,
                    baseline: m.baseline,
                    canary: m.canary,
                    p_worse: m.p_worse,
                })
                .collect(),
        }
    }
}

/// The canonical record of a gate's verdict.
pub fn verdict_record(v: &VerdictRecord) -> Vec<u8> {
    tagged("verdict", v)
}

/// The canonical record of a canary object written: what probity put where, when.
pub fn canary_record(c: &crate::probe::CanaryEntry) -> Vec<u8> {
    tagged("canary", c)
}

/// `{"type":KIND,"v":1,…the body's fields}`: a record that is its value's own fields.
fn tagged<T: serde::Serialize>(kind: &'static str, body: &T) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct Tagged<'a, T> {
        #[serde(rename = "type")]
        kind: &'static str,
        v: u32,
        #[serde(flatten)]
        body: &'a T,
    }
    serde_json::to_vec(&Tagged { kind, v: 1, body }).expect("JSON of plain values")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A verdict record read back and encoded again is the same bytes, for p-values and
    /// figures of every magnitude: JSON numbers are parsed exactly (serde_json's
    /// `float_roundtrip`), so anyone may re-encode a record from its fields.
    #[test]
    fn verdict_records_reencode_byte_for_byte() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let f = f64::from_bits(x >> 2) % 1e6;
            let p = (x % 1_000_003) as f64 / 1_000_003.0 * 10f64.powi(-((x % 300) as i32));
            let record = VerdictRecord {
                at_ms: (x >> 20) as i64,
                gate: Some("g".into()),
                step: Some(2),
                baseline: "target:a".into(),
                canary: "target:b".into(),
                from_ms: None,
                to_ms: Some(1),
                verdict: "fail".into(),
                score: (x % 10_001) as f64 / 100.0,
                decided_by: None,
                summary: "s".into(),
                metrics: vec![VerdictMetric {
                    metric: "latency".into(),
                    class: "high".into(),
                    baseline_n: x % 1000,
                    canary_n: 7,
                    baseline: Some(f).filter(|f| f.is_finite()),
                    canary: Some(f / 3.0).filter(|f| f.is_finite()),
                    p_worse: Some(p),
                }],
            };
            let bytes = verdict_record(&record);
            let back: VerdictRecord = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(
                verdict_record(&back),
                bytes,
                "{}",
                String::from_utf8_lossy(&bytes)
            );
        }
    }
}
