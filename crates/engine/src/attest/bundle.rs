//! Evidence bundles: a self-contained JSON file with records, their inclusion proofs, a
//! signed checkpoint, consistency proofs from earlier checkpoints, and the verifier key,
//! checked offline by `probity evidence verify` (or any program following docs/evidence.md).
//! Also the audit that recomputes the log from the store.

use crate::store::{Store, StoredCheckpoint};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use probity_core::merkle::{self, Hash};
use probity_core::note::{Checkpoint, NoteVerifier, verify_note};
use serde::{Deserialize, Serialize};

pub const FORMAT: &str = "probity-evidence-bundle/1";

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    pub format: String,
    /// The log's verifier key, `name+keyhash+base64`. Check it against one you hold.
    pub verifier_key: String,
    /// The signed checkpoint every record is proven against.
    pub checkpoint: String,
    /// The time window asked for (RFC 3339).
    pub from: String,
    pub to: String,
    pub records: Vec<BundleRecord>,
    /// Proofs that the checkpoint extends earlier ones.
    pub consistency: Vec<BundleConsistency>,
    /// Other organisations' signed statements of the same outages as incidents in the
    /// bundle (`evidence export --corroborated`), each checked with its sender's key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub corroboration: Vec<BundleCorroboration>,
}

/// The statements that corroborate one of this log's incidents.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleCorroboration {
    /// This log's incident id (its records are in the bundle).
    pub incident: i64,
    /// The statements as the peers sent them.
    pub statements: Vec<probity_core::federation::Envelope>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleRecord {
    pub index: u64,
    /// Hex.
    pub leaf_hash: String,
    /// The canonical record bytes, base64.
    pub record: String,
    /// The inclusion proof in the checkpoint's tree, hex.
    pub proof: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleConsistency {
    /// An earlier signed checkpoint.
    pub old_checkpoint: String,
    /// The consistency proof from its size to the bundle's checkpoint, hex.
    pub proof: Vec<String>,
}

fn hexes(v: &[Hash]) -> Vec<String> {
    v.iter().map(hex::encode).collect()
}

/// What an export wrote.
pub struct Exported {
    pub checkpoint_size: u64,
    /// The signed checkpoint the records are proven against, with its cosignatures.
    pub checkpoint: String,
    pub records: usize,
    pub consistency_proofs: usize,
    /// Leaves in the window appended after the checkpoint (not in the bundle).
    pub uncovered: u64,
}

/// Writes a bundle of the leaves appended in `from_ms..to_ms` to `out`, proven against the
/// latest checkpoint that at least `min_witnesses` witnesses cosigned (their cosignatures
/// ride in the bundle's checkpoint). `since` is an earlier checkpoint (a signed note) to
/// prove consistency from; `corroboration` rides along as given. The records are written
/// as they are read, a thousand at a time, so memory does not grow with the window.
#[allow(clippy::too_many_arguments)]
pub fn export(
    store: &dyn Store,
    verifier: &NoteVerifier,
    (from_ms, to_ms): (i64, i64),
    since: Option<&str>,
    min_witnesses: usize,
    corroboration: &[BundleCorroboration],
    progress: &indicatif::ProgressBar,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<Exported> {
    let mut cp = if min_witnesses == 0 {
        store.latest_checkpoint()?.ok_or_else(|| {
            anyhow::anyhow!("no checkpoint has been signed yet; run probity first")
        })?
    } else {
        let size = store.latest_cosigned_size(min_witnesses)?.ok_or_else(|| {
            anyhow::anyhow!("no checkpoint has been cosigned by {min_witnesses} witnesses yet")
        })?;
        store
            .checkpoint_at(size)?
            .ok_or_else(|| anyhow::anyhow!("the checkpoint of size {size} is missing"))?
    };
    cp.note = crate::attest::cosign::cosigned_note(store, &cp)?;
    // Consistency from the previous export's checkpoint and from the one given: checked
    // and proven before anything is written.
    let mut olds: Vec<StoredCheckpoint> = Vec::new();
    if let Some(prev) = store.last_export()? {
        olds.extend(store.checkpoint_at(prev)?.filter(|c| c.size > 0));
    }
    if let Some(note) = since {
        let text = verify_note(note, std::slice::from_ref(verifier))
            .map_err(|e| anyhow::anyhow!("--since: {e}"))?;
        let old = Checkpoint::parse(text)?;
        anyhow::ensure!(
            old.size > 0,
            "--since: a checkpoint of the empty log proves nothing"
        );
        anyhow::ensure!(
            old.size <= cp.size,
            "--since: that checkpoint (size {}) is newer than the latest here ({})",
            old.size,
            cp.size
        );
        let ours = store.evidence_root(old.size)?;
        anyhow::ensure!(
            ours == old.root,
            "--since: this log does NOT extend that checkpoint: at size {} its root is {}, the checkpoint says {}",
            old.size,
            hex::encode(ours),
            hex::encode(old.root)
        );
        olds.push(StoredCheckpoint {
            size: old.size,
            root: old.root,
            note: note.to_string(),
            at_ms: 0,
        });
    }
    let mut consistency = Vec::new();
    for old in olds {
        let proof = if old.size == cp.size {
            Vec::new()
        } else {
            store.consistency_proof(old.size, cp.size)?
        };
        consistency.push(BundleConsistency {
            old_checkpoint: old.note,
            proof: hexes(&proof),
        });
    }
    let (start, end) = store
        .evidence_range_by_time(from_ms, to_ms)?
        .unwrap_or((0, 0));
    let covered_end = end.min(cp.size);
    let uncovered = end.saturating_sub(cp.size.max(start));
    progress.set_length(covered_end.saturating_sub(start));

    // The bundle as JSON, its fields in `Bundle`'s order, the records one a line.
    let rfc = probity_ground::time::rfc3339;
    let j = serde_json::to_string::<str>;
    write!(
        out,
        "{{\n  \"format\": {},\n  \"verifier_key\": {},\n  \"checkpoint\": {},\n  \"from\": {},\n  \"to\": {},\n  \"records\": [",
        j(FORMAT)?,
        j(&verifier.to_string())?,
        j(&cp.note)?,
        j(&rfc(from_ms))?,
        j(&rfc(to_ms))?,
    )?;
    let mut records = 0usize;
    let mut at = start;
    while at < covered_end {
        let leaves = store.evidence_records_within(at, (at + 1000).min(covered_end), 8 << 20)?;
        let Some(last) = leaves.last() else {
            anyhow::bail!("the evidence log has no leaf {at} below its checkpoint's size");
        };
        let chunk_end = last.index + 1;
        for leaf in leaves {
            // A record rebuilt from compacted results must be the one that was hashed; a
            // bundle with another would not verify.
            if leaf.rebuilt
                && merkle::leaf_hash(&leaf.record).as_slice() != leaf.leaf_hash.as_slice()
            {
                anyhow::bail!(
                    "leaf {}: the stored results no longer give the record that was hashed (run probity evidence audit)",
                    leaf.index
                );
            }
            let (_, proof) = store.inclusion_proof(leaf.index, cp.size)?;
            let record = BundleRecord {
                index: leaf.index,
                leaf_hash: hex::encode(&leaf.leaf_hash),
                record: B64.encode(&leaf.record),
                proof: hexes(&proof),
            };
            write!(out, "{}\n    ", if records == 0 { "" } else { "," })?;
            serde_json::to_writer(&mut *out, &record)?;
            records += 1;
            progress.inc(1);
        }
        at = chunk_end;
    }
    write!(
        out,
        "\n  ],\n  \"consistency\": {}",
        serde_json::to_string(&consistency)?
    )?;
    if !corroboration.is_empty() {
        write!(
            out,
            ",\n  \"corroboration\": {}",
            serde_json::to_string(corroboration)?
        )?;
    }
    writeln!(out, "\n}}")?;
    out.flush()?;
    Ok(Exported {
        checkpoint_size: cp.size,
        checkpoint: cp.note,
        records,
        consistency_proofs: consistency.len(),
        uncovered,
    })
}

/// One thing the audit found wrong.
#[derive(Debug, Serialize, PartialEq)]
pub struct Finding {
    pub leaf: Option<u64>,
    pub problem: String,
}

/// What the audit checked.
#[derive(Debug, Serialize, Default)]
pub struct Audit {
    pub leaves: u64,
    pub checkpoints: usize,
    pub results_compared: u64,
    pub incidents_compared: u64,
    pub feed_records_compared: u64,
    /// Feed polls in the log whose rows were pruned past their retention.
    #[serde(skip_serializing_if = "is_zero")]
    pub feed_records_pruned: u64,
    /// The first [`MAX_FINDINGS`] problems found.
    pub findings: Vec<Finding>,
    /// Problems found beyond those listed (a log damaged throughout would otherwise need
    /// memory in proportion to its length).
    #[serde(skip_serializing_if = "is_zero")]
    pub findings_omitted: u64,
}

/// The most problems an audit lists; the rest are counted.
pub const MAX_FINDINGS: usize = 10_000;

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Audit {
    /// Every problem found, listed or not.
    pub fn problems(&self) -> u64 {
        self.findings.len() as u64 + self.findings_omitted
    }
}

/// Recomputes the whole log from the store: every leaf against its record, the tree against
/// every signed checkpoint, and the records against the rows they attest.
pub fn audit(
    store: &dyn Store,
    verifier: &NoteVerifier,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<Audit> {
    audit_paged(store, verifier, progress, 1000)
}

/// [`audit`], reading `page` checkpoints at a time.
pub fn audit_paged(
    store: &dyn Store,
    verifier: &NoteVerifier,
    progress: &indicatif::ProgressBar,
    page: usize,
) -> anyhow::Result<Audit> {
    let size = store.evidence_size()?;
    progress.set_length(size);
    let mut a = Audit {
        leaves: size,
        ..Default::default()
    };
    // The leaves are replayed through the tree's right edge only, and the checkpoints read a
    // page at a time: memory stays bounded whatever the log's length.
    let mut tree = merkle::Frontier::new();
    let mut checkpoints = CheckpointPages::new(store, page.max(1));
    let incidents = store.incidents(crate::store::IncidentFilter::All)?;
    let polls_pruned_before = store.feed_polls_pruned_before()?;
    checkpoints.check_at(&tree, verifier, &mut a)?;
    // Leaves are read at most 5,000 and about 8 MiB of records at a time (an import's leaf
    // of 10,000 results is about 1 MiB, a live batch's a few KiB), never fewer than one.
    let mut at = 0;
    while at < size {
        let leaves = store.evidence_records_within(at, (at + 5000).min(size), 8 << 20)?;
        let Some(last) = leaves.last() else {
            anyhow::bail!("the evidence log has no leaf {at} below its size {size}");
        };
        let end = last.index + 1;
        for leaf in leaves {
            let computed = merkle::leaf_hash(&leaf.record);
            if computed.as_slice() != leaf.leaf_hash.as_slice() {
                a.findings.push(Finding {
                    leaf: Some(leaf.index),
                    problem: if leaf.rebuilt {
                        "the record rebuilt from the compacted results does not match its stored leaf hash (the results were altered or lost)"
                    } else {
                        "the record does not match its stored leaf hash (the record was altered)"
                    }
                    .into(),
                });
            }
            tree.push(computed);
            if leaf.rebuilt {
                // The record was made from the stored results: matching its hash is the
                // comparison with them.
                a.results_compared += results_in_record(&leaf.record);
            } else {
                compare_with_rows(
                    store,
                    (&leaf.record, leaf.index),
                    &incidents,
                    polls_pruned_before,
                    &mut a,
                )?;
            }
            checkpoints.check_at(&tree, verifier, &mut a)?;
            if a.findings.len() > MAX_FINDINGS {
                a.findings_omitted += (a.findings.len() - MAX_FINDINGS) as u64;
                a.findings.truncate(MAX_FINDINGS);
            }
            progress.inc(1);
        }
        at = end;
    }
    while let Some(cp) = checkpoints.next()? {
        a.findings.push(Finding {
            leaf: None,
            problem: format!(
                "checkpoint at size {} is beyond the log's {} leaves",
                cp.size, size
            ),
        });
    }
    a.checkpoints = checkpoints.seen;
    Ok(a)
}

/// The stored checkpoints, oldest first, read a page at a time.
struct CheckpointPages<'a> {
    store: &'a dyn Store,
    size: usize,
    page: std::collections::VecDeque<StoredCheckpoint>,
    after: Option<u64>,
    done: bool,
    seen: usize,
}

impl<'a> CheckpointPages<'a> {
    fn new(store: &'a dyn Store, size: usize) -> Self {
        CheckpointPages {
            store,
            size,
            page: Default::default(),
            after: None,
            done: false,
            seen: 0,
        }
    }

    fn peek(&mut self) -> anyhow::Result<Option<&StoredCheckpoint>> {
        if self.page.is_empty() && !self.done {
            let page = self.store.checkpoints_after(self.after, self.size)?;
            self.done = page.len() < self.size;
            if let Some(last) = page.last() {
                self.after = Some(last.size);
            }
            self.page.extend(page);
        }
        Ok(self.page.front())
    }

    fn next(&mut self) -> anyhow::Result<Option<StoredCheckpoint>> {
        self.peek()?;
        let cp = self.page.pop_front();
        self.seen += cp.is_some() as usize;
        Ok(cp)
    }

    /// Checks every checkpoint of the tree's current size against its root.
    fn check_at(
        &mut self,
        tree: &merkle::Frontier,
        verifier: &NoteVerifier,
        a: &mut Audit,
    ) -> anyhow::Result<()> {
        while self.peek()?.is_some_and(|c| c.size == tree.size()) {
            let cp = self.next()?.expect("peeked");
            let signed = verify_note(&cp.note, std::slice::from_ref(verifier))
                .ok()
                .and_then(|t| Checkpoint::parse(t).ok());
            match signed {
                None => a.findings.push(Finding {
                    leaf: None,
                    problem: format!("checkpoint at size {}: the signature does not verify", cp.size),
                }),
                Some(c) if c.size != cp.size || c.root != tree.root() => a.findings.push(Finding {
                    leaf: None,
                    problem: format!(
                        "checkpoint at size {}: the signed root differs from the root recomputed from the leaves",
                        cp.size
                    ),
                }),
                Some(_) => {}
            }
        }
        Ok(())
    }
}

/// How many results a results record lists.
fn results_in_record(record: &[u8]) -> u64 {
    serde_json::from_slice::<serde_json::Value>(record)
        .ok()
        .and_then(|v| v["results"].as_array().map(|a| a.len() as u64))
        .unwrap_or(0)
}

/// Compares a record with the database rows it attests (when they still exist).
fn compare_with_rows(
    store: &dyn Store,
    (record, leaf): (&[u8], u64),
    incidents: &[crate::store::IncidentRecord],
    polls_pruned_before: Option<i64>,
    a: &mut Audit,
) -> anyhow::Result<()> {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(record) else {
        a.findings.push(Finding {
            leaf: Some(leaf),
            problem: "the record is not JSON".into(),
        });
        return Ok(());
    };
    match v["type"].as_str() {
        Some("results") => {
            let items = v["results"].as_array().map_or(&[][..], |a| a.as_slice());
            // The leaf's rows in one read: a batch's ids are one run.
            let ids = items.iter().filter_map(|i| i["id"].as_i64());
            let rows: std::collections::HashMap<i64, crate::store::ResultRecord> =
                match (ids.clone().min(), ids.max()) {
                    (Some(lo), Some(hi)) if hi - lo < 4 * items.len() as i64 + 1024 => store
                        .results_by_ids(lo, hi)?
                        .into_iter()
                        .map(|r| (r.id, r))
                        .collect(),
                    _ => Default::default(),
                };
            for item in items {
                let (Some(id), Some(target)) = (item["id"].as_i64(), item["target"].as_str())
                else {
                    continue;
                };
                let at = item["at_ms"].as_i64().unwrap_or(0);
                let found = match rows.get(&id) {
                    Some(r) => Some(r.clone()),
                    None => store
                        .results(target, Some(at), Some(at + 1), 100)?
                        .into_iter()
                        .find(|r| r.id == id),
                };
                let Some(row) = found.as_ref() else {
                    let any = store.results(target, None, None, 1)?;
                    if !any.is_empty() && any[0].at_ms < at {
                        // Newer than everything stored would mean a deleted row; older rows
                        // may simply be past retention.
                        a.findings.push(Finding {
                            leaf: Some(leaf),
                            problem: format!(
                                "result {id} is in the log but missing from the database"
                            ),
                        });
                    }
                    continue;
                };
                a.results_compared += 1;
                let canonical: serde_json::Value = serde_json::from_slice(
                    &crate::store::leaf::results_record(std::slice::from_ref(row)),
                )?;
                let db_item = &canonical["results"][0];
                if db_item != item {
                    let field = [
                        "target",
                        "vantage",
                        "at_ms",
                        "health",
                        "total_ms",
                        "error_class",
                        "error",
                    ]
                    .into_iter()
                    .find(|f| db_item[f] != item[f])
                    .unwrap_or("?");
                    a.findings.push(Finding {
                        leaf: Some(leaf),
                        problem: format!(
                            "result {id}: `{field}` is {} in the database but {} in the log",
                            db_item[field], item[field]
                        ),
                    });
                }
            }
        }
        Some("incident") => {
            let Some(id) = v["id"].as_i64() else {
                return Ok(());
            };
            let Some(inc) = incidents.iter().find(|i| i.id == id) else {
                a.findings.push(Finding {
                    leaf: Some(leaf),
                    problem: format!("incident {id} is in the log but missing from the database"),
                });
                return Ok(());
            };
            a.incidents_compared += 1;
            let mismatch = match v["change"].as_str() {
                Some("opened") => (v["at_ms"].as_i64() != Some(inc.started_at_ms))
                    .then_some("its start")
                    .or((v["target"].as_str() != Some(inc.target.as_str())).then_some("its target"))
                    .or((v["cause"].as_str() != Some(inc.cause.detail.as_str()))
                        .then_some("its cause")),
                Some("resolved") => {
                    (v["at_ms"].as_i64() != inc.resolved_at_ms).then_some("its end")
                }
                _ => None,
            };
            if let Some(what) = mismatch {
                a.findings.push(Finding {
                    leaf: Some(leaf),
                    problem: format!(
                        "incident {id}: {what} differs between the database and the log"
                    ),
                });
            }
        }
        Some(kind @ ("feed_poll" | "provider_incident")) => {
            match store.feed_record_from_rows(leaf)? {
                // A poll from before the pruning's mark went on purpose (docs/operations.md).
                None if kind == "feed_poll"
                    && v["at_ms"]
                        .as_i64()
                        .zip(polls_pruned_before)
                        .is_some_and(|(at, before)| at < before) =>
                {
                    a.feed_records_pruned += 1;
                }
                None => a.findings.push(Finding {
                    leaf: Some(leaf),
                    problem: format!(
                        "the {kind} record is in the log but missing from the database"
                    ),
                }),
                Some((from_rows, doc_ok)) => {
                    a.feed_records_compared += 1;
                    if from_rows != record {
                        a.findings.push(Finding {
                            leaf: Some(leaf),
                            problem: format!(
                                "the {kind} record differs between the database and the log"
                            ),
                        });
                    }
                    if doc_ok == Some(false) {
                        a.findings.push(Finding {
                            leaf: Some(leaf),
                            problem: format!(
                                "the feed document {} is missing from the database or no longer matches its hash",
                                v["sha256"].as_str().unwrap_or("?")
                            ),
                        });
                    }
                }
            }
        }
        Some("canary") => match store.canary_record_at(leaf)? {
            None => a.findings.push(Finding {
                leaf: Some(leaf),
                problem: "the canary record is in the log but missing from the database".into(),
            }),
            Some(from_row) if from_row != record => a.findings.push(Finding {
                leaf: Some(leaf),
                problem: format!(
                    "canary {}: the manifest entry differs between the database and the log",
                    v["key"].as_str().unwrap_or("?")
                ),
            }),
            Some(_) => {}
        },
        Some("verdict") => {
            // The record is the fact (no row restates it): it must read as one.
            if let Err(e) = serde_json::from_value::<crate::store::leaf::VerdictRecord>(v.clone()) {
                a.findings.push(Finding {
                    leaf: Some(leaf),
                    problem: format!("the verdict record does not read: {e}"),
                });
            }
        }
        _ => a.findings.push(Finding {
            leaf: Some(leaf),
            problem: "unknown record type".into(),
        }),
    }
    Ok(())
}

/// A progress bar on stderr, hidden when stderr is not a terminal.
pub fn progress_bar(what: &str) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} ({eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message(what.to_string());
    bar
}
