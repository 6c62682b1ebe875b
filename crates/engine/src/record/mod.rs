//! The recorder: the single writer. It turns each result into a stored record, feeds the
//! target's incident tracker, and writes results with the incident changes they caused in
//! one transaction, at most one commit every 100 ms: a result after a quiet spell is
//! written at once, and under load each commit carries everything that arrived since the
//! last one.
//!
//! Results come from the server's own scheduler (vantage `local`) and from agents' pushes.
//! Each target has one [`Combined`] state across its vantages (see `probity_core::quorum`).
//!
//! **Invariant:** live state and metrics change only after the batch that justifies them
//! has committed. A failed write is retried with the same ids (so it cannot double-count);
//! results are never dropped to make room.
//!
//! **Invariant:** a push is answered only after its results have committed, and a result
//! whose agent-made id is already stored is counted as a duplicate, never stored twice.

pub mod spool;
pub mod wire;

use crate::live::Shared;
use crate::store::{Batch, IncidentChange, IncidentFilter, ResultRecord, Store};
use probity_core::observe::{Observed, OpenIncident};
use probity_core::quorum::{Change, Combined};
use probity_core::result::Health;
use probity_ground::config::Target;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Most results per transaction.
const MAX_BATCH: usize = 5000;
/// The least time between two commits. A result waits at most this long to be written; a
/// lone result after a quiet spell is written at once.
const COMMIT_EVERY: std::time::Duration = std::time::Duration::from_millis(100);
/// The first wait before a spooled batch is tried on the store again (doubling to 10 s).
const SPOOL_RETRY_MIN: std::time::Duration = std::time::Duration::from_millis(500);

struct TargetState {
    combined: Combined,
    incident_id: Option<i64>,
}

/// What makes a target's tracker: the table as written and what the server adds to it
/// (default thresholds and quorum, the staleness bound). A target whose fingerprint is the
/// same after a reload keeps its tracker.
#[derive(Clone, Debug, PartialEq)]
struct Fingerprint {
    /// The SHA-256 of the table as written (its TOML text, digested once at load).
    source: [u8; 32],
    thresholds: probity_core::observe::Thresholds,
    quorum: probity_core::quorum::Quorum,
    stale_after_ms: i64,
}

fn fingerprint(t: &Target) -> Fingerprint {
    Fingerprint {
        source: t.source.digest(),
        thresholds: t.thresholds,
        quorum: t.quorum,
        stale_after_ms: stale_after_ms(t),
    }
}

/// The trackers one generation of `probity run` hands the next on a reload, so that an
/// unchanged target's failure counts, open incident and each vantage's state go on as if
/// nothing happened (only a changed target starts again).
#[derive(Default)]
pub struct Carried {
    states: HashMap<String, (Fingerprint, TargetState)>,
}

/// Where a recorder leaves its trackers when it stops.
pub type Handoff = Arc<std::sync::Mutex<Option<Carried>>>;

/// A vantage's state counts toward the quorum while its latest result is this recent
/// compared with the target's latest from any vantage.
pub fn stale_after_ms(t: &Target) -> i64 {
    (3 * t.interval.as_millis() as i64 + t.timeout.as_millis() as i64).max(30_000)
}

fn fresh_state(t: &Target) -> Combined {
    Combined::new(t.thresholds, t.quorum, stale_after_ms(t))
}

/// A result on its way to the recorder.
pub struct Measured {
    pub target: Arc<Target>,
    pub output: crate::probe::ProbeOutput,
    /// The vantage's own controls were unreachable when it was taken.
    pub unmeasured: bool,
}

/// One result pushed by an agent.
pub struct PushedItem {
    pub target: Arc<Target>,
    pub output: crate::probe::ProbeOutput,
    /// The agent's id for it.
    pub origin: String,
    pub unmeasured: bool,
    /// What was added to its time (the agent's clock was off).
    pub clock_offset_ms: Option<i64>,
}

/// An agent's batch, answered once it has committed, or refused whole (nothing applied)
/// when the store cannot say which of its ids are known already: the sender retries.
pub struct Pushed {
    pub vantage: String,
    pub items: Vec<PushedItem>,
    pub reply: oneshot::Sender<Result<PushReceipt, PushRefused>>,
}

/// Why a push was refused whole; nothing of it was applied or stored.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PushRefused(pub String);

/// What became of a push.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PushReceipt {
    pub accepted: usize,
    pub duplicates: usize,
}

#[allow(clippy::large_enum_variant)] // short-lived, one per arrival; boxing would add an allocation each
enum Input {
    Local(Measured),
    Push(Pushed),
}

pub struct Recorder {
    store: Arc<dyn Store>,
    shared: Arc<Shared>,
    states: HashMap<String, TargetState>,
    fingerprints: HashMap<String, Fingerprint>,
    handoff: Option<Handoff>,
    /// When set, incident changes put their alerts in the outbox, in the same transaction.
    alerting: Option<Arc<crate::alert::Alerting>>,
    pushes: Option<mpsc::Receiver<Pushed>>,
    telemetry: Option<Arc<crate::telemetry::Telemetry>>,
    /// The stop signal, and how long writes may go on failing after it before the
    /// recorder gives up on them.
    stop: Option<(tokio::sync::watch::Receiver<bool>, std::time::Duration)>,
    stop_seen: Option<tokio::time::Instant>,
    unstored: Unstored,
    /// Where batches wait while the store cannot take them (a database outage), and when
    /// to try the store again.
    spool: Option<spool::Spool>,
    spool_retry: (tokio::time::Instant, std::time::Duration),
}

/// What a recorder could not store before it stopped: writes kept failing (a full disk)
/// for longer than its bound after the stop was asked. Agents' results in it were refused
/// (their agents keep them and push again).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Unstored {
    pub results: usize,
    pub incident_changes: usize,
    pub pushed_results: usize,
    pub last_error: Option<String>,
}

impl Unstored {
    pub fn is_empty(&self) -> bool {
        self.results == 0 && self.incident_changes == 0 && self.pushed_results == 0
    }
}

impl Recorder {
    /// Builds the recorder, resuming trackers for incidents left open by a previous run.
    pub fn new(
        store: Arc<dyn Store>,
        shared: Arc<Shared>,
        targets: &[Arc<Target>],
    ) -> anyhow::Result<Self> {
        Self::carrying(store, shared, targets, None)
    }

    /// [`Recorder::new`], taking over the trackers of unchanged targets from the recorder
    /// that ran before a reload.
    pub fn carrying(
        store: Arc<dyn Store>,
        shared: Arc<Shared>,
        targets: &[Arc<Target>],
        carried: Option<Carried>,
    ) -> anyhow::Result<Self> {
        let open = store.incidents(IncidentFilter::Open)?;
        let latest = store.latest_results()?;
        // By target, the first of each as a search in order would find (a search per
        // target was 10,000 × 10,000 comparisons at each start and reload).
        let mut open_of: HashMap<&str, &crate::store::IncidentRecord> = HashMap::new();
        for i in &open {
            open_of.entry(i.target.as_str()).or_insert(i);
        }
        let mut latest_of: HashMap<&str, &ResultRecord> = HashMap::new();
        for r in &latest {
            latest_of.entry(r.target.as_str()).or_insert(r);
        }
        let mut states = HashMap::new();
        let mut carried = carried.unwrap_or_default();
        let mut live = shared.targets.write().expect("live lock");
        for t in targets {
            let kept = match carried.states.remove(&t.name) {
                Some((fp, state)) if fp == fingerprint(t) => Some(state),
                _ => None,
            };
            let state = match (kept, open_of.get(t.name.as_str()).copied()) {
                (Some(state), _) => state,
                (None, Some(inc)) => {
                    let mut failing: Vec<(String, i64)> = store
                        .incident_vantages(inc.id)?
                        .into_iter()
                        .filter(|(change, _)| change == "opened")
                        .filter_map(|(_, s)| Some((s.vantage, s.failing_since_ms?)))
                        .collect();
                    if failing.is_empty() {
                        failing.push((
                            probity_ground::vantage::LOCAL.to_string(),
                            inc.started_at_ms,
                        ));
                    }
                    TargetState {
                        combined: Combined::resume(
                            t.thresholds,
                            t.quorum,
                            stale_after_ms(t),
                            OpenIncident {
                                started_at_ms: inc.started_at_ms,
                                severity: inc.severity,
                                cause: inc.cause.clone(),
                            },
                            &failing,
                        ),
                        incident_id: Some(inc.id),
                    }
                }
                (None, None) => TargetState {
                    combined: fresh_state(t),
                    incident_id: None,
                },
            };
            let entry = live.entry(t.name.clone()).or_default();
            entry.status = state.combined.status();
            entry.open_incident = state.incident_id;
            entry.last = latest_of.get(t.name.as_str()).map(|r| (*r).clone());
            states.insert(t.name.clone(), state);
        }
        drop(live);
        Ok(Recorder {
            store,
            shared,
            states,
            fingerprints: targets
                .iter()
                .map(|t| (t.name.clone(), fingerprint(t)))
                .collect(),
            handoff: None,
            alerting: None,
            pushes: None,
            telemetry: None,
            stop: None,
            stop_seen: None,
            unstored: Unstored::default(),
            spool: None,
            spool_retry: (tokio::time::Instant::now(), SPOOL_RETRY_MIN),
        })
    }

    /// Once `stop` turns true, writes that keep failing for longer than `bound` are given
    /// up (counted in what [`Recorder::run`] returns), so a stop with a full disk ends.
    pub fn with_stop(
        mut self,
        stop: tokio::sync::watch::Receiver<bool>,
        bound: std::time::Duration,
    ) -> Self {
        self.stop = Some((stop, bound));
        self
    }

    /// Whether the stop was asked longer than the bound ago (noting when it was first seen).
    fn past_stop_bound(&mut self) -> bool {
        let Some((rx, bound)) = &self.stop else {
            return false;
        };
        if !*rx.borrow() {
            return false;
        }
        let seen = *self.stop_seen.get_or_insert_with(tokio::time::Instant::now);
        seen.elapsed() >= *bound
    }

    /// Exports every result it records (spans and metrics) through `telemetry`.
    pub fn with_telemetry(mut self, telemetry: Option<Arc<crate::telemetry::Telemetry>>) -> Self {
        self.telemetry = telemetry;
        self
    }

    /// Takes agents' pushes from this channel too.
    pub fn with_pushes(mut self, pushes: mpsc::Receiver<Pushed>) -> Self {
        self.pushes = Some(pushes);
        self
    }

    /// Leaves the trackers in `handoff` when it stops, for the next generation.
    pub fn with_handoff(mut self, handoff: Handoff) -> Self {
        self.handoff = Some(handoff);
        self
    }

    /// Keeps batches the store refuses in `spool` (on local disk) and goes on recording,
    /// instead of holding each one until the store takes it; they are written, in order,
    /// when it does.
    pub fn with_spool(mut self, spool: spool::Spool) -> Self {
        self.spool = Some(spool);
        self
    }

    /// Writes spooled batches, oldest first, until the spool is empty or the store refuses
    /// one (then it waits before trying again, backing off to 10 s).
    async fn drain(&mut self) {
        let now = tokio::time::Instant::now();
        if now < self.spool_retry.0 {
            return;
        }
        while let Some(sp) = self.spool.as_mut() {
            let batch = match sp.oldest() {
                Ok(Some(b)) => b,
                Ok(None) => {
                    *self
                        .shared
                        .write_failing
                        .write()
                        .expect("write health lock") = None;
                    self.spool_retry = (now, SPOOL_RETRY_MIN);
                    tracing::info!(
                        "the spool is written: every batch kept meanwhile is in the store"
                    );
                    return;
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the spool; it stays on disk");
                    self.spool_retry = (now + std::time::Duration::from_secs(10), SPOOL_RETRY_MIN);
                    return;
                }
            };
            let store = self.store.clone();
            let b = batch.clone();
            let written =
                match tokio::task::spawn_blocking(move || spool::write_once(store.as_ref(), &b))
                    .await
                {
                    Ok(r) => r.map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
            match written {
                Ok(()) => {
                    self.shared.touched.mark(&batch.results);
                    if let Err(e) = sp.pop() {
                        // Written again at the next start, where the check finds it stored.
                        tracing::error!(error = %e, "cannot remove a written batch from the spool");
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, waiting = sp.len(), "the store still refuses; the spool waits");
                    let delay = self.spool_retry.1;
                    self.spool_retry = (
                        now + delay,
                        (delay * 2).min(std::time::Duration::from_secs(10)),
                    );
                    return;
                }
            }
        }
    }

    /// Keeps `batch` in the spool; false when there is no spool or it cannot be written.
    fn spool_push(&mut self, batch: &Batch, error: &str) -> bool {
        let Some(sp) = self.spool.as_mut() else {
            return false;
        };
        match sp.push(batch) {
            Ok(()) => {
                if sp.len() == 1 {
                    tracing::warn!(%error, "the store refuses writes: batches are kept in the spool on local disk until it takes them");
                }
                true
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot write to the spool either; holding the batch");
                false
            }
        }
    }

    /// Alerts on the incident changes this recorder writes.
    pub fn with_alerting(mut self, alerting: Option<Arc<crate::alert::Alerting>>) -> Self {
        self.alerting = alerting;
        self
    }

    /// Runs until the local channel closes (every sender dropped), writing everything
    /// received; returns what it had to give up (see [`Recorder::with_stop`]).
    pub async fn run(mut self, mut rx: mpsc::Receiver<Measured>) -> Unstored {
        let mut last_commit = tokio::time::Instant::now() - COMMIT_EVERY;
        let mut pushes = self.pushes.take();
        loop {
            let first = tokio::select! {
                m = rx.recv() => match m {
                    Some(m) => Input::Local(m),
                    None => break,
                },
                Some(p) = async {
                    match pushes.as_mut() {
                        Some(p) => p.recv().await,
                        None => std::future::pending().await,
                    }
                } => Input::Push(p),
            };
            let mut inputs = vec![first];
            // Gather until a commit is due (at most one per COMMIT_EVERY), so that under load
            // each transaction and fsync carries many results instead of one.
            // Sleep rather than wake for every arrival; the channels hold them meanwhile.
            tokio::time::sleep_until(last_commit + COMMIT_EVERY).await;
            let mut n = 0;
            while n < MAX_BATCH {
                match rx.try_recv() {
                    Ok(m) => inputs.push(Input::Local(m)),
                    Err(_) => break,
                }
                n += 1;
            }
            if let Some(p) = pushes.as_mut() {
                while n < MAX_BATCH {
                    match p.try_recv() {
                        Ok(p) => {
                            n += p.items.len();
                            inputs.push(Input::Push(p));
                        }
                        Err(_) => break,
                    }
                }
            }
            last_commit = tokio::time::Instant::now();
            self.record(inputs).await;
        }
        if self.spool.as_ref().is_some_and(|s| !s.is_empty()) {
            // One last try; what stays is on disk and written at the next start.
            self.spool_retry.0 = tokio::time::Instant::now();
            self.drain().await;
            if let Some(n) = self.spool.as_ref().map(|s| s.len()).filter(|n| *n > 0) {
                tracing::warn!(
                    batches = n,
                    "stopping with batches in the spool: the next start writes them"
                );
            }
        }
        if let Some(h) = self.handoff.take() {
            let mut fps = std::mem::take(&mut self.fingerprints);
            let states = std::mem::take(&mut self.states)
                .into_iter()
                .filter_map(|(name, state)| Some((name.clone(), (fps.remove(&name)?, state))))
                .collect();
            *h.lock().expect("handoff lock") = Some(Carried { states });
        }
        self.unstored
    }

    async fn record(&mut self, inputs: Vec<Input>) {
        let mut batch = Batch::default();
        let mut updates: Vec<(String, Option<i64>)> = Vec::new();
        #[allow(clippy::type_complexity)]
        let mut replies: Vec<(
            oneshot::Sender<Result<PushReceipt, PushRefused>>,
            Result<PushReceipt, PushRefused>,
        )> = Vec::new();
        let now_ms = jiff::Timestamp::now().as_millisecond();
        for input in inputs {
            match input {
                Input::Local(m) => {
                    let (record, change) = self.apply(
                        &m.target,
                        &m.output,
                        Source {
                            vantage: probity_ground::vantage::LOCAL,
                            unmeasured: m.unmeasured,
                            origin: None,
                            clock_offset_ms: None,
                        },
                    );
                    self.collect(
                        &mut batch,
                        &mut updates,
                        &m.target,
                        &m.output,
                        record,
                        change,
                        now_ms,
                    );
                    // Canaries written by this server's own probes join the manifest;
                    // an agent's push cannot add to it.
                    if let Some(s) = &m.output.details.storage {
                        batch.canaries.extend(s.canaries_written.iter().cloned());
                    }
                    if let Some(t) = &self.telemetry {
                        t.probe(&m.target, probity_ground::vantage::LOCAL, &m.output);
                    }
                }
                Input::Push(p) => {
                    let origins: Vec<crate::store::Origin> = p
                        .items
                        .iter()
                        .map(|i| crate::store::Origin {
                            origin: i.origin.clone(),
                            target: i.target.name.clone(),
                            at_ms: i.output.at_ms,
                        })
                        .collect();
                    let (store, vantage) = (self.store.clone(), p.vantage.clone());
                    // Without knowing which ids are stored, a retried push would enter the
                    // trackers twice: refuse it whole and let the sender push again.
                    let mut known = match tokio::task::spawn_blocking(move || {
                        store.known_origins(&vantage, &origins)
                    })
                    .await
                    {
                        Ok(Ok(known)) => known,
                        Ok(Err(e)) => {
                            tracing::error!(error = %e, vantage = %p.vantage, "cannot look up a push's ids; refused, the sender retries");
                            let _ = p.reply.send(Err(PushRefused(
                                "the store could not check the results' ids; push again".into(),
                            )));
                            continue;
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "id lookup task failed; push refused");
                            let _ = p.reply.send(Err(PushRefused(
                                "the store could not check the results' ids; push again".into(),
                            )));
                            continue;
                        }
                    };
                    known.extend(
                        batch
                            .results
                            .iter()
                            .filter(|r| r.vantage == p.vantage)
                            .filter_map(|r| r.origin.clone()),
                    );
                    let mut receipt = PushReceipt::default();
                    let mut in_push: HashSet<&str> = HashSet::new();
                    for item in &p.items {
                        if known.contains(&item.origin) || !in_push.insert(&item.origin) {
                            receipt.duplicates += 1;
                            continue;
                        }
                        receipt.accepted += 1;
                        let (record, change) = self.apply(
                            &item.target,
                            &item.output,
                            Source {
                                vantage: &p.vantage,
                                unmeasured: item.unmeasured,
                                origin: Some(&item.origin),
                                clock_offset_ms: item.clock_offset_ms,
                            },
                        );
                        self.collect(
                            &mut batch,
                            &mut updates,
                            &item.target,
                            &item.output,
                            record,
                            change,
                            now_ms,
                        );
                        if let Some(t) = &self.telemetry {
                            t.probe(&item.target, &p.vantage, &item.output);
                        }
                    }
                    replies.push((p.reply, Ok(receipt)));
                }
            }
        }
        let mut delay = std::time::Duration::from_millis(100);
        // With batches waiting in the spool, this one joins them, so that batches reach the
        // store in the order they were made.
        if self.spool.as_ref().is_some_and(|s| !s.is_empty()) {
            self.drain().await;
        }
        let spooled = self.spool.as_ref().is_some_and(|s| !s.is_empty())
            && self.spool_push(&batch, "batches are waiting in the spool");
        if !spooled {
            loop {
                let store = self.store.clone();
                let b = batch.clone();
                let res = tokio::task::spawn_blocking(move || store.write(&b)).await;
                let error = match res {
                    Ok(Ok(())) => {
                        self.shared.touched.mark(&batch.results);
                        *self
                            .shared
                            .write_failing
                            .write()
                            .expect("write health lock") = None;
                        break;
                    }
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, results = batch.results.len(), "store write failed; retrying");
                        e.to_string()
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "store write task failed; retrying");
                        e.to_string()
                    }
                };
                {
                    let mut failing = self
                        .shared
                        .write_failing
                        .write()
                        .expect("write health lock");
                    let since = failing
                        .as_ref()
                        .map_or_else(|| jiff::Timestamp::now().as_millisecond(), |(s, _)| *s);
                    *failing = Some((since, error.clone()));
                }
                self.shared
                    .write_errors
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if self.spool_push(&batch, &error) {
                    self.spool_retry = (
                        tokio::time::Instant::now() + SPOOL_RETRY_MIN,
                        SPOOL_RETRY_MIN * 2,
                    );
                    break;
                }
                if self.past_stop_bound() {
                    let pushed: usize = batch.results.iter().filter(|r| r.origin.is_some()).count();
                    self.unstored.results += batch.results.len() - pushed;
                    self.unstored.pushed_results += pushed;
                    self.unstored.incident_changes += batch.incidents.len();
                    self.unstored.last_error = Some(error);
                    for (reply, _) in replies {
                        let _ = reply.send(Err(PushRefused(
                            "probity is stopping and cannot store results; push again".into(),
                        )));
                    }
                    return;
                }
                // While stopping, wake often enough to give up on time; a stop wakes it too.
                let nap = if self.stop_seen.is_some() {
                    delay.min(std::time::Duration::from_millis(500))
                } else {
                    delay
                };
                match self.stop.as_ref().map(|(rx, _)| rx.clone()) {
                    Some(mut rx) if self.stop_seen.is_none() => {
                        tokio::select! {
                            _ = tokio::time::sleep(nap) => {}
                            _ = async { let _ = rx.wait_for(|s| *s).await; } => {}
                        }
                    }
                    _ => tokio::time::sleep(nap).await,
                }
                delay = (delay * 2).min(std::time::Duration::from_secs(10));
            }
        }
        self.shared
            .batches_written
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut live = self.shared.targets.write().expect("live lock");
        // Each target's state after the whole batch, once per target (not once per result).
        let mut touched: HashSet<String> = HashSet::new();
        for ((name, cert), record) in updates.into_iter().zip(batch.results) {
            if !touched.contains(&name) {
                touched.insert(name.clone());
            }
            let t = live.entry(name).or_default();
            if cert.is_some() {
                t.cert_not_after_s = cert;
            }
            if !record.unmeasured {
                t.counts[match record.health {
                    Health::Up => 0,
                    Health::Degraded => 1,
                    Health::Down => 2,
                }] += 1;
            }
            t.last = Some(record);
        }
        for name in touched {
            let state = &self.states[&name];
            let t = live.entry(name).or_default();
            t.status = state.combined.status();
            t.open_incident = state.incident_id;
            t.vantages = state.combined.seen();
            t.regional = state.combined.regional();
        }
        drop(live);
        for (reply, receipt) in replies {
            let _ = reply.send(receipt);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn collect(
        &self,
        batch: &mut Batch,
        updates: &mut Vec<(String, Option<i64>)>,
        target: &Target,
        output: &crate::probe::ProbeOutput,
        record: ResultRecord,
        change: Option<IncidentChange>,
        now_ms: i64,
    ) {
        let cert = output
            .observation
            .cert_expires_in_ms
            .map(|left| (output.at_ms + left) / 1000);
        updates.push((target.name.clone(), cert));
        if let (Some(alerting), Some(change)) = (&self.alerting, &change) {
            batch
                .alerts
                .extend(alerting.for_change(target, change, now_ms));
        }
        batch.results.push(record);
        batch.incidents.extend(change);
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
            let (record, change) = self.apply(
                target,
                out,
                Source {
                    vantage,
                    unmeasured: false,
                    origin: None,
                    clock_offset_ms: None,
                },
            );
            batch.results.push(record);
            batch.incidents.extend(change);
        }
        batch
    }

    fn apply(
        &mut self,
        target: &Target,
        out: &crate::probe::ProbeOutput,
        src: Source<'_>,
    ) -> (ResultRecord, Option<IncidentChange>) {
        let vantage = src.vantage;
        let id = self.store.next_result_id().unwrap_or_default();
        // Kept for failures, and always for object storage (its phases live there).
        let details = (out.health != Health::Up || out.details.storage.is_some())
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
            unmeasured: src.unmeasured,
            origin: src.origin.map(str::to_string),
            clock_offset_ms: src.clock_offset_ms,
        };
        let state = self
            .states
            .entry(target.name.clone())
            .or_insert_with(|| TargetState {
                combined: fresh_state(target),
                incident_id: None,
            });
        state
            .combined
            .set_rules(target.thresholds, target.quorum, stale_after_ms(target));
        let transition = state.combined.observe(
            vantage,
            &Observed {
                result_id: id,
                at_ms: out.at_ms,
                health: out.health,
                cause: out.cause.clone(),
            },
            src.unmeasured,
        );
        let change = match transition {
            None => None,
            Some(Change::Opened {
                started_at_ms,
                severity,
                cause,
                evidence,
                seen,
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
                    seen,
                })
            }
            Some(Change::Escalated {
                severity,
                result_id,
            }) => state.incident_id.map(|inc| IncidentChange::Escalate {
                id: inc,
                severity,
                result_id,
            }),
            Some(Change::Resolved {
                resolved_at_ms,
                evidence,
                seen,
            }) => state.incident_id.take().map(|inc| {
                tracing::info!(target = %target.name, incident = inc, "incident resolved");
                IncidentChange::Resolve {
                    id: inc,
                    resolved_at_ms,
                    evidence,
                    seen,
                }
            }),
        };
        (record, change)
    }
}

/// Where a result came from.
struct Source<'a> {
    vantage: &'a str,
    unmeasured: bool,
    origin: Option<&'a str>,
    clock_offset_ms: Option<i64>,
}

#[cfg(test)]
mod tests;
