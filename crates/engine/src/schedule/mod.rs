//! The scheduler: every target on its interval, at a stable per-target offset so load is
//! spread and restarts keep the same phase.
//!
//! Due times are exact; the scheduler wakes on a 5 ms tick and starts everything due by
//! then, so a probe starts at most one tick (plus load) after its due time.
//!
//! **Invariants:** the next due time is the previous due time plus the interval (never
//! "now plus interval"), so schedules do not drift; a target whose previous probe is still
//! running is skipped, not queued, so a hung target never delays another; at most
//! `max_concurrency` probes run at once.

pub mod cluster;
pub mod heartbeat;
pub mod sources;
pub mod vantage;

use crate::live::Shared;
use crate::probe::{self, ProbeContext, ProbeOutput};
use crate::record::Measured;
use probity_ground::config::Target;

/// The real probe function for [`run`]: runs the target's spec and conditions.
pub fn prober(
    ctx: Arc<ProbeContext>,
) -> impl Fn(Arc<Target>) -> std::pin::Pin<Box<dyn std::future::Future<Output = ProbeOutput> + Send>>
+ Clone
+ Send
+ 'static {
    move |t: Arc<Target>| {
        let ctx = ctx.clone();
        Box::pin(async move { probe::run(&ctx, &t.spec, &t.conditions, t.timeout.as_std()).await })
    }
}
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::time::{Duration, Instant};

/// A stable 64-bit hash (FNV-1a): the same name gets the same offset in every process.
fn stable_hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The target's first due time: the next wall-clock instant `k * interval + offset`.
pub fn first_due(name: &str, interval_ms: u64, now_wall_ms: i64, now: Instant) -> Instant {
    let interval = interval_ms.max(1) as i64;
    let offset = (stable_hash(name) % interval as u64) as i64;
    let k = (now_wall_ms - offset).div_euclid(interval) + 1;
    let due_wall = k * interval + offset;
    now + Duration::from_millis((due_wall - now_wall_ms).max(0) as u64)
}

/// The scheduler's wake-up granularity.
pub const TICK: Duration = Duration::from_millis(5);

/// The first tick boundary (counted from `origin`) at or after `due`.
fn tick_after(origin: Instant, due: Instant) -> Instant {
    let since = due.saturating_duration_since(origin).as_nanos();
    let tick = TICK.as_nanos();
    origin + Duration::from_nanos((since.div_ceil(tick) * tick) as u64)
}

/// Runs every target until `shutdown` turns true, then waits for probes in flight. `probe`
/// runs one probe ([`prober`] in production; tests pass their own).
pub async fn run<P, F>(
    targets: Vec<Arc<Target>>,
    probe: P,
    tx: mpsc::Sender<Measured>,
    shared: Arc<Shared>,
    max_concurrency: usize,
    shutdown: watch::Receiver<bool>,
) where
    P: Fn(Arc<Target>) -> F + Clone + Send + 'static,
    F: std::future::Future<Output = ProbeOutput> + Send + 'static,
{
    run_holding(
        targets,
        &Default::default(),
        probe,
        tx,
        shared,
        max_concurrency,
        shutdown,
    )
    .await
}

/// [`run`], with the targets named in `hold` first probed at their first slot after the
/// instant given (a target just taken over from another server waits until that server
/// surely stopped probing it).
pub async fn run_holding<P, F>(
    targets: Vec<Arc<Target>>,
    hold: &std::collections::HashMap<String, Instant>,
    probe: P,
    tx: mpsc::Sender<Measured>,
    shared: Arc<Shared>,
    max_concurrency: usize,
    mut shutdown: watch::Receiver<bool>,
) where
    P: Fn(Arc<Target>) -> F + Clone + Send + 'static,
    F: std::future::Future<Output = ProbeOutput> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(max_concurrency));
    let busy: Vec<Arc<AtomicBool>> = targets
        .iter()
        .map(|_| Arc::new(AtomicBool::new(false)))
        .collect();
    let now = Instant::now();
    let wall = jiff::Timestamp::now().as_millisecond();
    let mut queue: BinaryHeap<Reverse<(Instant, usize)>> = targets
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let interval = Duration::from_millis(t.interval.as_millis().max(1));
            let mut due = first_due(&t.name, t.interval.as_millis(), wall, now);
            if let Some(until) = hold.get(&t.name) {
                while due < *until {
                    due += interval;
                }
            }
            Reverse((due, i))
        })
        .collect();
    let mut tasks = tokio::task::JoinSet::new();
    let origin = now;
    while let Some(&Reverse((first, _))) = queue.peek() {
        // Wake on a coarse tick and start everything due by then: one wake-up serves many
        // probes (and their sockets share event-loop turns) at the price of at most one
        // tick of lateness.
        let wake = tick_after(origin, first);
        tokio::select! {
            _ = tokio::time::sleep_until(wake) => {}
            _ = shutdown.changed() => break,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
        }
        if *shutdown.borrow() {
            break;
        }
        let now = Instant::now();
        while let Some(&Reverse((due, i))) = queue.peek() {
            if due > wake.max(now) {
                break;
            }
            queue.pop();
            let target = &targets[i];
            let interval = Duration::from_millis(target.interval.as_millis());
            let mut next = due + interval;
            while next <= now {
                // After a stall (suspend, overload) skip missed slots instead of bursting.
                next += interval;
            }
            queue.push(Reverse((next, i)));
            if busy[i].swap(true, Ordering::AcqRel) {
                shared.note_skip(&target.name);
                continue;
            }
            let (target, probe, tx, shared, permits, busy) = (
                target.clone(),
                probe.clone(),
                tx.clone(),
                shared.clone(),
                permits.clone(),
                busy[i].clone(),
            );
            tasks.spawn(async move {
                let Ok(_permit) = permits.acquire().await else {
                    return;
                };
                shared
                    .lateness
                    .observe(Instant::now().saturating_duration_since(due).as_secs_f64());
                let output = probe(target.clone()).await;
                // A probe this machine could not make measures nothing of the target.
                let unmeasured = output
                    .cause
                    .as_ref()
                    .is_some_and(|c| c.class == probity_core::result::ErrorClass::Local);
                let _ = tx
                    .send(Measured {
                        target,
                        output,
                        unmeasured,
                    })
                    .await;
                busy.store(false, Ordering::Release);
            });
        }
    }
    // Probes already started are measurements: let them finish and be recorded.
    while tasks.join_next().await.is_some() {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_stable_and_inside_the_interval() {
        let now = Instant::now();
        for name in ["a", "storage-eu", "dns/example.com"] {
            let d1 = first_due(name, 30_000, 1_000_000_000_123, now);
            let d2 = first_due(name, 30_000, 1_000_000_000_123, now);
            assert_eq!(d1, d2);
            let wait = d1 - now;
            assert!(wait <= Duration::from_millis(30_000), "{name}: {wait:?}");
            // The due instant sits at the same phase of the interval whatever "now" is.
            let later = first_due(name, 30_000, 1_000_000_007_000, now);
            let phase1 = (1_000_000_000_123 + (d1 - now).as_millis() as i64) % 30_000;
            let phase2 = (1_000_000_007_000 + (later - now).as_millis() as i64) % 30_000;
            assert_eq!(phase1, phase2, "{name}");
        }
    }

    #[test]
    fn ticks_round_up() {
        let o = Instant::now();
        assert_eq!(tick_after(o, o), o);
        assert_eq!(tick_after(o, o + Duration::from_millis(1)), o + TICK);
        assert_eq!(tick_after(o, o + TICK), o + TICK);
        assert_eq!(
            tick_after(o, o + TICK + Duration::from_nanos(1)),
            o + TICK * 2
        );
    }

    #[test]
    fn offsets_spread_targets_across_the_interval() {
        let now = Instant::now();
        let mut buckets = [0u32; 10];
        for i in 0..10_000 {
            let wait = first_due(&format!("target-{i}"), 10_000, 0, now) - now;
            buckets[(wait.as_millis() as usize / 1000).min(9)] += 1;
        }
        for b in buckets {
            assert!((800..1200).contains(&b), "uneven spread: {buckets:?}");
        }
    }
}

#[cfg(test)]
mod paused_clock_tests {
    //! The scheduler under tokio's paused clock: hours pass in milliseconds, and every
    //! start time is exact, so drift and interference show as numbers.
    use super::*;
    use probity_core::result::{Health, Phases};
    use std::collections::HashMap;
    use std::sync::Mutex;

    fn target(name: &str, interval_s: u64) -> Arc<Target> {
        let src = format!(
            "[[target]]\nname = \"{name}\"\nkind = \"tcp\"\naddress = \"127.0.0.1:1\"\ninterval = \"{interval_s}s\"\n"
        );
        let c = probity_ground::config::parse("t.toml", &src, std::path::Path::new(".")).unwrap();
        c.targets.into_iter().next().unwrap()
    }

    fn output() -> ProbeOutput {
        ProbeOutput {
            at_ms: 0,
            phases: Phases::default(),
            health: Health::Up,
            cause: None,
            details: Default::default(),
            observation: Default::default(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn six_hours_without_drift_and_a_hung_target_disturbs_no_one() {
        let targets = vec![
            target("a", 30),
            target("b", 30),
            target("c", 7),
            target("hung", 10),
        ];
        let starts: Arc<Mutex<HashMap<String, Vec<Instant>>>> = Arc::default();
        let recorded = starts.clone();
        let probe = move |t: Arc<Target>| {
            let starts = recorded.clone();
            async move {
                starts
                    .lock()
                    .unwrap()
                    .entry(t.name.clone())
                    .or_default()
                    .push(Instant::now());
                // "hung" never answers within an hour; the others take 200 ms.
                let took = if t.name == "hung" {
                    Duration::from_secs(3600)
                } else {
                    Duration::from_millis(200)
                };
                tokio::time::sleep(took).await;
                output()
            }
        };
        let (tx, mut rx) = mpsc::channel(1024);
        tokio::spawn(async move { while rx.recv().await.is_some() {} });
        let shared = Arc::new(Shared::default());
        let (stop_tx, stop_rx) = watch::channel(false);
        let begin = Instant::now();
        let hours = Duration::from_secs(6 * 3600);
        tokio::spawn(async move {
            tokio::time::sleep(hours).await;
            let _ = stop_tx.send(true);
        });
        run(targets, probe, tx, shared.clone(), 16, stop_rx).await;

        let starts = starts.lock().unwrap();
        for (name, interval) in [("a", 30), ("b", 30), ("c", 7)] {
            let s = &starts[name];
            // Starts at offset o < T, then every T: ceil((H - o) / T) of them.
            let (lo, hi) = (
                hours.as_secs() / interval - 1,
                hours.as_secs().div_ceil(interval),
            );
            let n = s.len() as u64;
            assert!(
                (lo..=hi).contains(&n),
                "{name}: {n} starts, expected {lo}..={hi}"
            );
            // Consecutive starts are exactly one interval apart, to the tick: no drift.
            for w in s.windows(2) {
                let gap = w[1] - w[0];
                let want = Duration::from_secs(interval);
                assert!(
                    gap + TICK >= want && gap <= want + TICK,
                    "{name}: gap {gap:?}"
                );
            }
            // The last start is where the first plus n intervals puts it.
            let span = *s.last().unwrap() - s[0];
            let want = Duration::from_secs(interval * (s.len() as u64 - 1));
            assert!(
                span.abs_diff(want) <= TICK,
                "{name}: drifted {:?}",
                span.abs_diff(want)
            );
            assert!(s[0] - begin <= Duration::from_secs(interval) + TICK);
        }
        // The hung target ran once an hour and skipped its turns in between.
        assert_eq!(starts["hung"].len(), 6, "{:?}", starts["hung"].len());
        let skipped = shared.targets.read().unwrap()["hung"].skipped;
        assert!((2100..=2160).contains(&skipped), "skipped {skipped}");
        // Every probe started within one tick of its plan.
        let (buckets, count, _) = shared.lateness.snapshot();
        let within_tick = buckets[crate::live::LATENESS_BUCKETS
            .iter()
            .position(|b| *b >= TICK.as_secs_f64())
            .unwrap()];
        assert_eq!(
            within_tick, count,
            "some probes started later than one tick"
        );
    }
}
