//! The recorder: the single writer. It turns each result into a stored record, feeds the
//! target's incident tracker, and writes results with the incident changes they caused in
//! one transaction, at most one commit every 100 ms: a result after a quiet spell is
//! written at once, and under load each commit carries everything that arrived since the
//! last one.
//!
//! **Invariant:** live state and metrics change only after the batch that justifies them
//! has committed. A failed write is retried with the same ids (so it cannot double-count);
//! results are never dropped to make room.

use crate::config::Target;
use crate::live::Shared;
use crate::schedule::Measured;
use crate::store::{Batch, IncidentChange, IncidentFilter, ResultRecord, Store};
use probity_core::observe::{Observed, OpenIncident, Status, Thresholds, Tracker, Transition};
use probity_core::result::Health;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;

/// The vantage name of the server's own probes.
pub const LOCAL_VANTAGE: &str = "local";

/// Most results per transaction.
const MAX_BATCH: usize = 5000;
/// The least time between two commits. A result waits at most this long to be written; a
/// lone result after a quiet spell is written at once.
const COMMIT_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

struct TargetState {
    tracker: Tracker,
    incident_id: Option<i64>,
}

pub struct Recorder {
    store: Arc<dyn Store>,
    shared: Arc<Shared>,
    states: HashMap<String, TargetState>,
    /// When set, incident changes put their alerts in the outbox, in the same transaction.
    alerting: Option<Arc<crate::alert::Alerting>>,
}

impl Recorder {
    /// Builds the recorder, resuming trackers for incidents left open by a previous run.
    pub fn new(
        store: Arc<dyn Store>,
        shared: Arc<Shared>,
        targets: &[Arc<Target>],
    ) -> anyhow::Result<Self> {
        let open = store.incidents(IncidentFilter::Open)?;
        let latest = store.latest_results()?;
        let mut states = HashMap::new();
        let mut live = shared.targets.write().expect("live lock");
        for t in targets {
            let th = t.thresholds;
            let state = match open.iter().find(|i| i.target == t.name) {
                Some(inc) => TargetState {
                    tracker: Tracker::resume(
                        th,
                        OpenIncident {
                            started_at_ms: inc.started_at_ms,
                            severity: inc.severity,
                            cause: inc.cause.clone(),
                        },
                    ),
                    incident_id: Some(inc.id),
                },
                None => TargetState {
                    tracker: Tracker::new(th),
                    incident_id: None,
                },
            };
            let entry = live.entry(t.name.clone()).or_default();
            entry.status = state.tracker.status();
            entry.open_incident = state.incident_id;
            entry.last = latest.iter().find(|r| r.target == t.name).cloned();
            states.insert(t.name.clone(), state);
        }
        drop(live);
        Ok(Recorder {
            store,
            shared,
            states,
            alerting: None,
        })
    }

    /// Alerts on the incident changes this recorder writes.
    pub fn with_alerting(mut self, alerting: Option<Arc<crate::alert::Alerting>>) -> Self {
        self.alerting = alerting;
        self
    }

    /// Runs until the channel closes (every sender dropped), writing everything received.
    pub async fn run(mut self, mut rx: mpsc::Receiver<Measured>) {
        let mut last_commit = tokio::time::Instant::now() - COMMIT_EVERY;
        while let Some(first) = rx.recv().await {
            let mut measured = vec![first];
            // Gather until a commit is due (at most one per COMMIT_EVERY), so that under load
            // each transaction and fsync carries many results instead of one.
            // Sleep rather than wake for every arrival; the channel holds them meanwhile.
            tokio::time::sleep_until(last_commit + COMMIT_EVERY).await;
            while measured.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(m) => measured.push(m),
                    Err(_) => break,
                }
            }
            last_commit = tokio::time::Instant::now();
            self.record(measured).await;
        }
    }

    async fn record(&mut self, measured: Vec<Measured>) {
        let mut batch = Batch::default();
        let mut updates: Vec<(String, Status, Option<i64>, Option<i64>)> = Vec::new();
        for m in &measured {
            let (record, change) = self.apply(&m.target, &m.output, LOCAL_VANTAGE);
            let state = &self.states[&m.target.name];
            let cert = m
                .output
                .observation
                .cert_expires_in_ms
                .map(|left| (m.output.at_ms + left) / 1000);
            updates.push((
                m.target.name.clone(),
                state.tracker.status(),
                state.incident_id,
                cert,
            ));
            if let (Some(alerting), Some(change)) = (&self.alerting, &change) {
                batch.alerts.extend(alerting.for_change(
                    &m.target,
                    change,
                    jiff::Timestamp::now().as_millisecond(),
                ));
            }
            batch.results.push(record);
            batch.incidents.extend(change);
        }
        let mut delay = std::time::Duration::from_millis(100);
        loop {
            let store = self.store.clone();
            let b = batch.clone();
            let res = tokio::task::spawn_blocking(move || store.write(&b)).await;
            match res {
                Ok(Ok(())) => break,
                Ok(Err(e)) => {
                    tracing::error!(error = %e, results = batch.results.len(), "store write failed; retrying")
                }
                Err(e) => tracing::error!(error = %e, "store write task failed; retrying"),
            }
            self.shared
                .write_errors
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(std::time::Duration::from_secs(10));
        }
        self.shared
            .batches_written
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut live = self.shared.targets.write().expect("live lock");
        for ((name, status, incident, cert), record) in updates.into_iter().zip(batch.results) {
            let t = live.entry(name).or_default();
            t.status = status;
            t.open_incident = incident;
            if cert.is_some() {
                t.cert_not_after_s = cert;
            }
            t.counts[match record.health {
                Health::Up => 0,
                Health::Degraded => 1,
                Health::Down => 2,
            }] += 1;
            t.last = Some(record);
        }
    }

    /// Turns one output into a record and runs it through the target's tracker.
    /// Runs `items` (in order) through the trackers as [`Recorder::run`] would, and returns
    /// them as one batch, for the caller to write in one transaction (imported history).
    pub fn batch_of(
        &mut self,
        items: &[(Arc<Target>, crate::probe::ProbeOutput, String)],
    ) -> Batch {
        let mut batch = Batch::default();
        for (target, out, vantage) in items {
            let (record, change) = self.apply(target, out, vantage);
            batch.results.push(record);
            batch.incidents.extend(change);
        }
        batch
    }

    fn apply(
        &mut self,
        target: &Target,
        out: &crate::probe::ProbeOutput,
        vantage: &str,
    ) -> (ResultRecord, Option<IncidentChange>) {
        let id = self.store.next_result_id().unwrap_or_default();
        let details = (out.health != Health::Up)
            .then(|| serde_json::to_string(&out.details).unwrap_or_default());
        let record = ResultRecord {
            id,
            target: target.name.clone(),
            vantage: vantage.into(),
            at_ms: out.at_ms,
            health: out.health,
            phases: out.phases,
            cause: out.cause.clone(),
            details,
        };
        let state = self
            .states
            .entry(target.name.clone())
            .or_insert_with(|| TargetState {
                tracker: Tracker::new(Thresholds::default()),
                incident_id: None,
            });
        state.tracker.set_thresholds(target.thresholds);
        let transition = state.tracker.observe(&Observed {
            result_id: id,
            at_ms: out.at_ms,
            health: out.health,
            cause: out.cause.clone(),
        });
        let change = match transition {
            None => None,
            Some(Transition::Opened {
                started_at_ms,
                severity,
                cause,
                evidence,
            }) => {
                let inc = self.store.next_incident_id().unwrap_or_default();
                state.incident_id = Some(inc);
                tracing::warn!(target = %target.name, incident = inc, cause = %cause, "incident opened");
                Some(IncidentChange::Open {
                    id: inc,
                    target: target.name.clone(),
                    started_at_ms,
                    severity,
                    cause,
                    evidence,
                })
            }
            Some(Transition::Escalated {
                severity,
                result_id,
            }) => state.incident_id.map(|inc| IncidentChange::Escalate {
                id: inc,
                severity,
                result_id,
            }),
            Some(Transition::Resolved {
                resolved_at_ms,
                evidence,
            }) => state.incident_id.take().map(|inc| {
                tracing::info!(target = %target.name, incident = inc, "incident resolved");
                IncidentChange::Resolve {
                    id: inc,
                    resolved_at_ms,
                    evidence,
                }
            }),
        };
        (record, change)
    }
}
