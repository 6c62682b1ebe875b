//! What is true right now, shared between the recorder (the only writer) and the API and
//! metrics (readers). Updated only after a batch commits, so nothing shown here can be lost.

use crate::store::ResultRecord;
use probity_core::observe::Status;
use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// One target's current state.
#[derive(Clone, Debug)]
pub struct TargetLive {
    pub status: Status,
    pub last: Option<ResultRecord>,
    /// The leaf certificate's `notAfter`, seconds since the epoch, from the last TLS result.
    pub cert_not_after_s: Option<i64>,
    /// Results by health: up, degraded, down.
    pub counts: [u64; 3],
    pub open_incident: Option<i64>,
    /// Probes skipped because the previous one was still running.
    pub skipped: u64,
    /// What each vantage sees of it now.
    pub vantages: Vec<probity_core::quorum::Seen>,
    /// Vantages that see it failing while no incident is open (a regional degradation).
    pub regional: Vec<String>,
}

impl Default for TargetLive {
    fn default() -> Self {
        TargetLive {
            status: Status::Unknown,
            last: None,
            cert_not_after_s: None,
            counts: [0; 3],
            open_incident: None,
            skipped: 0,
            vantages: Vec::new(),
            regional: Vec::new(),
        }
    }
}

/// Upper bounds (seconds) of the scheduling-lateness histogram buckets.
pub const LATENESS_BUCKETS: [f64; 15] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Scheduling lateness (actual start minus planned start), as a histogram.
#[derive(Default)]
pub struct Lateness {
    buckets: [AtomicU64; LATENESS_BUCKETS.len()],
    count: AtomicU64,
    /// Sum in microseconds.
    sum_us: AtomicU64,
}

impl Lateness {
    pub fn observe(&self, seconds: f64) {
        for (i, le) in LATENESS_BUCKETS.iter().enumerate() {
            if seconds <= *le {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us
            .fetch_add((seconds.max(0.0) * 1e6) as u64, Ordering::Relaxed);
    }

    /// Cumulative bucket counts, total count and sum in seconds.
    pub fn snapshot(&self) -> (Vec<u64>, u64, f64) {
        (
            self.buckets
                .iter()
                .map(|b| b.load(Ordering::Relaxed))
                .collect(),
            self.count.load(Ordering::Relaxed),
            self.sum_us.load(Ordering::Relaxed) as f64 / 1e6,
        )
    }
}

/// State shared by the running parts of `probity run`.
#[derive(Default)]
pub struct Shared {
    pub targets: RwLock<HashMap<String, TargetLive>>,
    pub lateness: Lateness,
    pub batches_written: AtomicU64,
    pub write_errors: AtomicU64,
    /// Since when results cannot be stored (the first failed write of the current run of
    /// failures), with the last error; `None` while writes succeed.
    pub write_failing: RwLock<Option<(i64, String)>>,
    /// Each feed's polling figures.
    pub feeds: std::sync::Arc<crate::feeds::poll::FeedsLive>,
    /// Each provider's scorecard over the last 30 days, recomputed every few seconds.
    pub scorecards: RwLock<Vec<probity_core::scorecard::Scorecard>>,
    /// Each SLO's state, recomputed with the scorecards.
    pub slos: RwLock<Vec<(String, probity_core::slo::Status)>>,
    /// Observed incidents no provider declared past the grace period: (id, target).
    pub unacknowledged: RwLock<Vec<(i64, String)>>,
    /// Each agent as of its last push in this run.
    pub vantages: RwLock<std::collections::BTreeMap<String, crate::store::VantageRecord>>,
    /// Whether the server's own controls are reachable (`None`: none, or not yet known).
    pub local_controls_ok: std::sync::Arc<RwLock<Option<bool>>>,
    /// Each federation peer's recent statements, for its rate limit.
    pub peer_rates: PeerRates,
    /// The minutes written since the reconciliation last looked.
    pub touched: Touched,
    /// The servers sharing the store, as of this server's last heartbeat.
    pub cluster: RwLock<ClusterLive>,
}

/// What this server knows of the servers that share its store.
#[derive(Clone, Debug, Default)]
pub struct ClusterLive {
    /// This server's name.
    pub me: String,
    /// The live members, as of the last heartbeat that answered (this one included).
    pub members: Vec<crate::store::Member>,
    /// How many targets this server probes now.
    pub owned: u64,
    /// When the last heartbeat answered (ms), and the error of those since, if any.
    pub last_heartbeat_ms: Option<i64>,
    pub heartbeat_error: Option<String>,
}

/// The minutes results were written to since the last [`Touched::take`], per target: what
/// a pass that keeps figures between passes must read again. Marked after each write
/// commits, so a pass that takes the marks before it reads misses nothing: a write it did
/// not see is marked for the next pass.
#[derive(Default)]
pub struct Touched {
    inner: std::sync::Mutex<Touches>,
}

/// What [`Touched::take`] hands over.
#[derive(Clone, Debug, Default)]
pub struct Touches {
    /// The earliest minute (its start) written per target.
    pub earliest: HashMap<String, i64>,
    /// Stored minutes were removed (a prune): nothing kept may be reused.
    pub reset: bool,
}

impl Touched {
    /// Marks the minutes of results just written.
    pub fn mark(&self, results: &[crate::store::ResultRecord]) {
        if results.is_empty() {
            return;
        }
        let mut t = self.inner.lock().expect("touched lock");
        for r in results {
            let minute = crate::store::minute_of(r.at_ms);
            // A target's name is copied once per pass, not once per result.
            match t.earliest.get_mut(&r.target) {
                Some(m) => *m = (*m).min(minute),
                None => {
                    t.earliest.insert(r.target.clone(), minute);
                }
            }
        }
    }

    /// Marks that stored minutes were removed.
    pub fn reset(&self) {
        self.inner.lock().expect("touched lock").reset = true;
    }

    /// The marks since the last call, cleared.
    pub fn take(&self) -> Touches {
        std::mem::take(&mut *self.inner.lock().expect("touched lock"))
    }
}

/// A sliding minute per peer: how many statements it sent in the last 60 s.
#[derive(Default)]
pub struct PeerRates {
    recent: std::sync::Mutex<HashMap<String, std::collections::VecDeque<i64>>>,
}

impl PeerRates {
    /// Counts one statement from `peer` at `now_ms` if it sent fewer than `per_minute` in
    /// the minute before; false (refused, not counted) otherwise.
    pub fn admit(&self, peer: &str, per_minute: u32, now_ms: i64) -> bool {
        let mut all = self.recent.lock().expect("rates lock");
        let q = all.entry(peer.to_string()).or_default();
        while q.front().is_some_and(|t| *t <= now_ms - 60_000) {
            q.pop_front();
        }
        if q.len() >= per_minute as usize {
            return false;
        }
        q.push_back(now_ms);
        true
    }
}

impl Shared {
    pub fn note_skip(&self, target: &str) {
        let mut t = self.targets.write().expect("live lock");
        t.entry(target.to_string()).or_default().skipped += 1;
    }
}
