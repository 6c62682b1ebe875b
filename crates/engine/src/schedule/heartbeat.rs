//! Push heartbeats, a dead man's switch for cron jobs and pipelines: the job pings
//! `/api/v1/heartbeat/{token}`; each ping is a result, and a ping missing for the interval
//! plus the grace is a failed result, repeated every interval while it stays missing. The
//! results go through the recorder like probe results: incidents, alerts, evidence.

use crate::probe::{ProbeOutput, ProbeSpec};
use crate::record::Measured;
use crate::store::Store;
use probity_core::result::{Cause, ErrorClass, Health, Phases};
use probity_ground::config::Target;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// A ping from a job.
#[derive(Debug)]
pub struct Ping {
    pub target: Arc<Target>,
    pub at_ms: i64,
    /// False when the job reported failure (`?status=fail`).
    pub ok: bool,
    /// What the job said (the request body, trimmed), kept with a failure.
    pub message: Option<String>,
}

/// The heartbeat targets and the way pings reach the watchdog.
pub struct Heartbeats {
    targets: Vec<Arc<Target>>,
    tx: mpsc::Sender<Ping>,
}

impl Heartbeats {
    /// The target whose token this is. Every token is compared, in constant time each, so
    /// the answer's timing does not say which one came close.
    pub fn find(&self, token: &str) -> Option<Arc<Target>> {
        find_in(&self.targets, token)
    }
}

/// The heartbeat target among `targets` whose token is `token` (compared in constant time).
pub fn find_in(targets: &[Arc<Target>], token: &str) -> Option<Arc<Target>> {
    let mut found = None;
    for t in targets {
        if let ProbeSpec::Heartbeat(h) = &t.spec
            && probity_ground::auth::constant_time_eq(h.token.as_bytes(), token.as_bytes())
        {
            found = Some(t.clone());
        }
    }
    found
}

impl Heartbeats {
    /// Hands a ping to the watchdog; false when probity is stopping.
    pub async fn ping(&self, p: Ping) -> bool {
        self.tx.send(p).await.is_ok()
    }
}

fn output(at_ms: i64, cause: Option<Cause>) -> ProbeOutput {
    ProbeOutput {
        at_ms,
        phases: Phases::default(),
        health: if cause.is_some() {
            Health::Down
        } else {
            Health::Up
        },
        cause,
        details: Default::default(),
        observation: Default::default(),
    }
}

/// Starts the watchdog for `targets` (the heartbeat ones); returns the handle the API pings
/// through. Results go to `results` until `shutdown`, when the watchdog drops its sender.
pub fn start(
    targets: Vec<Arc<Target>>,
    store: &Arc<dyn Store>,
    results: mpsc::Sender<Measured>,
    mut shutdown: watch::Receiver<bool>,
) -> (Arc<Heartbeats>, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel::<Ping>(1024);
    let now = jiff::Timestamp::now().as_millisecond();
    // A target's clock starts at its latest stored result, or now: a restart does not
    // forgive a ping that was already missing, nor invent one that was never due.
    let latest = store.latest_results().unwrap_or_default();
    let mut state: Vec<(Arc<Target>, i64, i64)> = targets
        .iter()
        .map(|t| {
            let last = latest
                .iter()
                .find(|r| r.target == t.name)
                .map_or(now, |r| r.at_ms);
            (t.clone(), last, i64::MIN)
        })
        .collect();
    let handle = tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(200));
        loop {
            tokio::select! {
                p = rx.recv() => {
                    let Some(p) = p else { break };
                    if let Some(s) = state.iter_mut().find(|s| s.0.name == p.target.name) {
                        s.1 = p.at_ms;
                        s.2 = i64::MIN;
                    }
                    let cause = (!p.ok).then(|| Cause {
                        class: ErrorClass::Unknown,
                        detail: format!(
                            "the job reported failure{}",
                            p.message.map(|m| format!(": {m}")).unwrap_or_default()
                        ),
                    });
                    if results.send(Measured { target: p.target, output: output(p.at_ms, cause), unmeasured: false }).await.is_err() {
                        break;
                    }
                }
                _ = tick.tick() => {
                    let now = jiff::Timestamp::now().as_millisecond();
                    for (t, last, missed_at) in state.iter_mut() {
                        let ProbeSpec::Heartbeat(h) = &t.spec else { continue };
                        let interval = t.interval.as_millis() as i64;
                        let due = *last + interval + h.grace_ms as i64;
                        // Missing: a failed result now, and again every interval it stays so.
                        if now >= due && (*missed_at == i64::MIN || now - *missed_at >= interval) {
                            *missed_at = now;
                            let cause = Cause {
                                class: ErrorClass::Timeout,
                                detail: format!(
                                    "no ping since {} (expected every {}, grace {})",
                                    probity_ground::time::rfc3339(*last),
                                    t.interval,
                                    probity_core::duration::HumanDuration::from_millis(h.grace_ms),
                                ),
                            };
                            let m = Measured { target: t.clone(), output: output(now, Some(cause)), unmeasured: false };
                            if results.send(m).await.is_err() {
                                return;
                            }
                        }
                    }
                }
                r = shutdown.changed() => {
                    if r.is_err() || *shutdown.borrow() {
                        break;
                    }
                }
            }
        }
    });
    (Arc::new(Heartbeats { targets, tx }), handle)
}
