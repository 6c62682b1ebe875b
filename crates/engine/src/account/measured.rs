//! What each watched target measured over a window, minute by minute: read whole from the
//! store for a window asked once (`probity scorecard`), or kept between the server's
//! reconciliation passes and brought up to date by reading only the minutes that are new
//! or were written since the last pass ([`MeasuredCache`]). Both give the same figures: the
//! cache's are those of a whole read of the same window, which a test checks pass by pass.

use crate::live::Touches;
use crate::store::{Store, StoreResult};
use probity_core::quorum::Quorum;
use probity_core::reconcile::Watched;
use probity_core::scorecard::Measured;
use probity_core::sla::Minute;
use std::collections::{HashMap, VecDeque};

const MINUTE: i64 = 60_000;

/// The start of the first whole minute at or after `t`.
fn ceil_minute(t: i64) -> i64 {
    t.div_euclid(MINUTE) * MINUTE + if t.rem_euclid(MINUTE) == 0 { 0 } else { MINUTE }
}

/// One minute of a target by its quorum rule (the q-th worst vantage's minute, as in SLA
/// accounting), for the minutes of `[from, to)` with results, oldest first. Minutes the
/// bounds cut count only their results inside them.
pub fn quorum_minutes(
    store: &dyn Store,
    target: &str,
    quorum: Quorum,
    (from, to): (i64, i64),
) -> StoreResult<Vec<(i64, Minute)>> {
    let mut per_minute: std::collections::BTreeMap<i64, Vec<Minute>> = Default::default();
    for (minute, _vantage, n, failures) in store.minute_counts(target, from, to)? {
        if n == 0 {
            continue;
        }
        per_minute.entry(minute).or_default().push(Minute {
            count: n as u32,
            failures: failures.min(n) as u32,
        });
    }
    Ok(per_minute
        .into_iter()
        .map(|(minute, seen)| {
            (
                minute,
                probity_core::sla::by_quorum(&seen, quorum.needed(seen.len())),
            )
        })
        .collect())
}

/// The measurements of `watched` from its quorum minutes.
fn measured<'a>(watched: &Watched, minutes: impl Iterator<Item = &'a (i64, Minute)>) -> Measured {
    let (mut count, mut down) = (0u64, 0u64);
    let mut all = Vec::new();
    let mut failing = Vec::new();
    for (minute, m) in minutes {
        all.push(*minute);
        if m.failures > 0 {
            failing.push(*minute);
        }
        count += u64::from(m.count);
        down += u64::from(m.failures);
    }
    Measured {
        watched: watched.clone(),
        availability: (count > 0).then(|| (count - down) as f64 / count as f64),
        minutes: all,
        failing_minutes: failing,
    }
}

/// The measurements of `watched` over `window`, read whole from the store.
pub fn read(
    store: &dyn Store,
    watched: &Watched,
    quorum: Quorum,
    window: (i64, i64),
) -> StoreResult<Measured> {
    let minutes = quorum_minutes(store, &watched.target, quorum, window)?;
    Ok(measured(watched, minutes.iter()))
}

/// A target's quorum minutes over the window of the last pass.
struct Kept {
    quorum: Quorum,
    window: (i64, i64),
    minutes: VecDeque<(i64, Minute)>,
}

/// The minutes each target measured over a sliding window of whole minutes, kept between
/// passes. A pass reads, per target, the minutes that entered the window and those written
/// since the last pass (the recorder marks them: [`Touches`]); minutes that left the
/// window are dropped. Each target's first measured minute is kept too, read whole at the
/// first pass and after a prune.
#[derive(Default)]
pub struct MeasuredCache {
    targets: HashMap<String, Kept>,
    first: Option<HashMap<String, i64>>,
}

impl MeasuredCache {
    /// Each target's first measured minute, as [`Store::first_measured`] would answer.
    pub fn first_measured(
        &mut self,
        store: &dyn Store,
        touched: &Touches,
    ) -> StoreResult<HashMap<String, i64>> {
        let first = match self.first.take() {
            Some(mut f) if !touched.reset => {
                for (target, minute) in &touched.earliest {
                    f.entry(target.clone())
                        .and_modify(|m| *m = (*m).min(*minute))
                        .or_insert(*minute);
                }
                f
            }
            _ => store.first_measured()?,
        };
        self.first = Some(first.clone());
        Ok(first)
    }

    /// The measurements of `watched` over `window`, as [`read`] would give them. The whole
    /// minutes inside the window are kept; the minutes its bounds cut are read each time
    /// (from the results themselves: a few rows).
    pub fn measured(
        &mut self,
        store: &dyn Store,
        watched: &Watched,
        quorum: Quorum,
        window: (i64, i64),
        touched: &Touches,
    ) -> StoreResult<Measured> {
        let (from, to) = window;
        let whole = (ceil_minute(from), to.div_euclid(MINUTE) * MINUTE);
        if whole.0 >= whole.1 {
            return read(store, watched, quorum, window);
        }
        let target = watched.target.as_str();
        let edge = |a: i64, b: i64| -> StoreResult<Vec<(i64, Minute)>> {
            if a < b {
                quorum_minutes(store, target, quorum, (a, b))
            } else {
                Ok(Vec::new())
            }
        };
        let (front, back) = (edge(from, whole.0)?, edge(whole.1, to)?);
        let reusable = self.targets.get(target).is_some_and(|k| {
            !touched.reset && k.quorum == quorum && k.window.0 <= whole.0 && k.window.1 <= whole.1
        });
        if !reusable {
            let minutes = quorum_minutes(store, target, quorum, whole)?;
            self.targets.insert(
                target.to_string(),
                Kept {
                    quorum,
                    window: whole,
                    minutes: minutes.into(),
                },
            );
        } else {
            let kept = self.targets.get_mut(target).expect("checked above");
            while kept.minutes.front().is_some_and(|(m, _)| *m < whole.0) {
                kept.minutes.pop_front();
            }
            // Read again from the first minute written since the last pass, or from where
            // the last pass ended.
            let again = touched
                .earliest
                .get(target)
                .map_or(kept.window.1, |t| (*t).min(kept.window.1))
                .max(whole.0);
            while kept.minutes.back().is_some_and(|(m, _)| *m >= again) {
                kept.minutes.pop_back();
            }
            if again < whole.1 {
                kept.minutes
                    .extend(quorum_minutes(store, target, quorum, (again, whole.1))?);
            }
            kept.window = whole;
        }
        let kept = &self.targets[target].minutes;
        Ok(measured(
            watched,
            front.iter().chain(kept.iter()).chain(back.iter()),
        ))
    }

    /// Forgets the targets not in `names` (no longer watched).
    pub fn retain(&mut self, names: &std::collections::HashSet<&str>) {
        self.targets.retain(|t, _| names.contains(t.as_str()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::Touched;
    use crate::store::traits::*;
    use crate::store::{Batch, ResultRecord, SqliteStore};
    use probity_core::reconcile::Names;

    const T0: i64 = 1_794_999_960_000; // a minute's start

    fn result(id: i64, target: &str, vantage: &str, at_ms: i64, down: bool) -> ResultRecord {
        super::super::testing::result(id, target, vantage, at_ms, down, 1.0)
    }

    /// Pass after pass over a sliding window (of whole minutes, or cutting minutes), with
    /// results written late into old minutes, minutes pruned and a quorum changed, the kept
    /// figures are those of a whole read.
    #[test]
    fn kept_figures_are_those_of_a_whole_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let touched = Touched::default();
        let mut cache = MeasuredCache::default();
        let mut rand = super::super::testing::random(0x9e37_79b9);
        let watched = |t: &str| Watched {
            target: t.into(),
            names: Names::default(),
            since_ms: 0,
        };
        let mut id = 0;
        let mut reused = 0;
        let (mut minutes, mut failing) = (0, 0);
        for step in 0..80i64 {
            let now = T0 + step * MINUTE;
            let mut batch = Batch::default();
            for (t, vantages) in [("a", 1), ("b", 3)] {
                for v in 0..vantages {
                    for _ in 0..rand(3) {
                        id += 1;
                        let at = now + rand(MINUTE as u64) as i64;
                        batch
                            .results
                            .push(result(id, t, &format!("v{v}"), at, rand(5) == 0));
                    }
                }
                // Now and then a vantage's backlog: a result into a minute long past.
                if rand(4) == 0 {
                    id += 1;
                    let back = rand(20) as i64 * MINUTE;
                    batch
                        .results
                        .push(result(id, t, "v0", now - back + 7, rand(2) == 0));
                }
            }
            store.write(&batch).unwrap();
            touched.mark(&batch.results);
            if step == 50 {
                // Minutes before the window's middle pruned.
                store.prune(now - 5 * MINUTE, now - 5 * MINUTE).unwrap();
                touched.reset();
            }
            // Windows of whole minutes, and windows whose bounds cut minutes.
            let end = now + MINUTE
                - if step % 3 == 0 {
                    0
                } else {
                    rand(MINUTE as u64) as i64
                };
            let window = (end - 12 * MINUTE, end);
            let marks = touched.take();
            if !marks.reset && step > 0 {
                reused += 1;
            }
            let quorum_b = if step < 40 {
                Quorum::Count(2)
            } else {
                Quorum::Count(1)
            };
            for (t, quorum) in [("a", Quorum::Count(1)), ("b", quorum_b)] {
                let kept = cache
                    .measured(&store, &watched(t), quorum, window, &marks)
                    .unwrap();
                let whole = read(&store, &watched(t), quorum, window).unwrap();
                assert_eq!(kept, whole, "target {t} at step {step}");
                minutes += whole.minutes.len();
                failing += whole.failing_minutes.len();
            }
            assert_eq!(
                cache.first_measured(&store, &marks).unwrap(),
                store.first_measured().unwrap(),
                "step {step}"
            );
        }
        assert!(reused > 70, "{reused}");
        // The comparisons were of something: minutes measured, some of them failing.
        assert!(minutes > 1000 && failing > 100, "{minutes} {failing}");
    }
}
