//! A vantage's judgement of its own reachability: results pass through [`gate`] on their
//! way from the scheduler (to the recorder on the server, to the spool on an agent), and a
//! failing result is marked `unmeasured` when the vantage's controls were all unreachable
//! at the time (see `probity_core::quorum::Judge`).
//!
//! **Invariant:** results leave the gate in the order they entered it; a failing result
//! waits for the controls' verdict (at most `hold_max`), and everything behind it waits too.

use crate::record::Measured;
use probity_core::quorum::{Judge, Verdict};
use probity_core::result::Health;
use std::collections::VecDeque;
use std::sync::{Arc, RwLock};
use tokio::sync::mpsc;
use tokio::time::{Duration, Instant};

/// The longest a failing result waits for a verdict: two rounds of the slowest control.
pub fn hold_max(controls: &[Arc<probity_ground::config::Target>]) -> Duration {
    let longest = controls
        .iter()
        .map(|t| 2 * t.interval.as_millis() + t.timeout.as_millis())
        .max()
        .unwrap_or(0);
    Duration::from_millis(longest.max(1000))
}

/// Passes results from `rx` to `tx`, judging failing ones by the controls named in
/// `controls`. `health` is set to the controls' state (`None` until they have reported).
/// Returns when `rx` closes, after passing on everything held.
pub async fn gate(
    mut rx: mpsc::Receiver<Measured>,
    tx: mpsc::Sender<Measured>,
    controls: Vec<String>,
    hold_max: Duration,
    health: Arc<RwLock<Option<bool>>>,
) {
    let mut judge = Judge::new(controls);
    let mut held: VecDeque<(Measured, Instant)> = VecDeque::new();
    let mut open = true;
    while open || !held.is_empty() {
        let tick = tokio::time::sleep(Duration::from_millis(100));
        tokio::select! {
            m = rx.recv(), if open => match m {
                Some(m) => {
                    if judge.is_control(&m.target.name) {
                        judge.control(&m.target.name, m.output.at_ms, m.output.health != Health::Down);
                        *health.write().expect("vantage health lock") = judge.healthy();
                    }
                    held.push_back((m, Instant::now()));
                }
                None => open = false,
            },
            _ = tick => {}
        }
        while let Some((m, since)) = held.front() {
            let failed = m.output.health == Health::Down;
            let unmeasured = match judge.verdict(m.output.at_ms, failed) {
                Verdict::Measured => false,
                Verdict::Unmeasured => true,
                // No verdict in time (or stopping): judge by the controls' latest results;
                // without any, the vantage cannot prove its own fault, so it is measured.
                Verdict::Wait if since.elapsed() >= hold_max || !open => {
                    judge.healthy() == Some(false)
                }
                Verdict::Wait => break,
            };
            let (mut m, _) = held.pop_front().expect("front exists");
            if unmeasured {
                tracing::warn!(target = %m.target.name, "controls unreachable: result marked unmeasured");
            }
            // Unmeasured already (this machine could not probe) stays unmeasured.
            m.unmeasured |= unmeasured;
            if tx.send(m).await.is_err() {
                return;
            }
        }
    }
}
