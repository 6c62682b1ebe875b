//! The edge of SLOs: per-minute good and total counts from the rollups, handed to
//! `probity_core::slo`, and the JSON the API serves.

use crate::live::Touches;
use crate::store::{Store, StoreResult};
use probity_core::duration::HumanDuration;
use probity_core::slo::{Counts, Sli, Status, evaluate};
use probity_ground::config::SloConfig;
use probity_ground::time::Stamp;
use schemars::JsonSchema;
use serde::Serialize;
use std::collections::BTreeMap;

/// Where `slo` stands at `now_ms`, read whole from the store.
pub fn status(store: &dyn Store, slo: &SloConfig, now_ms: i64) -> StoreResult<Status> {
    let mut minutes = BTreeMap::new();
    read_minutes(store, slo, (now_ms - span_of(slo), now_ms), &mut minutes)?;
    Ok(evaluate_minutes(slo, &minutes, now_ms))
}

/// How far back an SLO reads: its window, or its longest alert window if longer.
fn span_of(slo: &SloConfig) -> i64 {
    let window = slo.window.as_millis() as i64;
    slo.alerts
        .iter()
        .map(|a| a.long_ms.max(a.short_ms))
        .fold(window, i64::max)
}

/// Adds the good and total counts of `slo`'s targets in `[from, to)` to `minutes`.
fn read_minutes(
    store: &dyn Store,
    slo: &SloConfig,
    (from, to): (i64, i64),
    minutes: &mut BTreeMap<i64, Counts>,
) -> StoreResult<()> {
    let mut add = |minute_ms: i64, good: u64, total: u64| {
        let m = minutes.entry(minute_ms).or_insert(Counts {
            minute_ms,
            ..Counts::default()
        });
        m.good += good;
        m.total += total;
    };
    let up = |count: u64, failures: u64| count - failures.min(count);
    for t in &slo.targets {
        match slo.sli {
            // Counts only: no sketch read or parsed.
            Sli::Availability => {
                for r in store.rollup_counts(t, from, to)? {
                    add(r.minute_ms, up(r.count, r.failures), r.count);
                }
            }
            Sli::Latency { threshold_ms } => {
                for r in store.rollups(t, from, to)? {
                    let good = up(r.count, r.failures).min(r.sketch.count_at_most(threshold_ms));
                    add(r.minute_ms, good, r.count);
                }
            }
        }
    }
    Ok(())
}

fn evaluate_minutes(slo: &SloConfig, minutes: &BTreeMap<i64, Counts>, now_ms: i64) -> Status {
    let minutes: Vec<Counts> = minutes.values().copied().collect();
    evaluate(
        slo.objective,
        slo.window.as_millis() as i64,
        &slo.alerts,
        &minutes,
        now_ms,
    )
}

/// Each SLO's minutes kept between the server's passes (every 5 s): a pass reads only the
/// minutes its targets' results were written to since the last pass (the recorder marks
/// them, [`Touches`]) and drops those that left the window, instead of reading the whole
/// window (30 days of every target's rollups, sketches included) again. A pass's status is
/// that of a whole read at the same instant; a test checks it pass by pass.
#[derive(Default)]
pub struct SloCache {
    kept: std::collections::HashMap<String, Kept>,
}

struct Kept {
    /// What the minutes were read for: another SLO under the same name reads again.
    config: SloConfig,
    minutes: BTreeMap<i64, Counts>,
}

impl SloCache {
    /// Where each of `slos` stands at `now_ms`, bringing the kept minutes up to date with
    /// `touched` (the marks taken since the previous pass).
    pub fn statuses(
        &mut self,
        store: &dyn Store,
        slos: &[SloConfig],
        now_ms: i64,
        touched: &Touches,
    ) -> StoreResult<Vec<(String, Status)>> {
        if touched.reset {
            self.kept.clear();
        }
        self.kept
            .retain(|name, _| slos.iter().any(|s| &s.name == name));
        let mut out = Vec::with_capacity(slos.len());
        for slo in slos {
            let from = now_ms - span_of(slo);
            let kept = match self.kept.get_mut(&slo.name) {
                Some(k) if k.config == *slo => {
                    // Minutes written since the last pass, from the earliest of them on.
                    let dirty = slo
                        .targets
                        .iter()
                        .filter_map(|t| touched.earliest.get(t))
                        .min()
                        .copied();
                    if let Some(d) = dirty {
                        let d = d.max(from);
                        drop(k.minutes.split_off(&d));
                        read_minutes(store, slo, (d, now_ms), &mut k.minutes)?;
                    }
                    k
                }
                _ => {
                    let mut minutes = BTreeMap::new();
                    read_minutes(store, slo, (from, now_ms), &mut minutes)?;
                    let config = slo.clone();
                    self.kept.insert(slo.name.clone(), Kept { config, minutes });
                    self.kept.get_mut(&slo.name).expect("just kept")
                }
            };
            // Minutes that left the window.
            kept.minutes = kept.minutes.split_off(&from);
            out.push((
                slo.name.clone(),
                evaluate_minutes(slo, &kept.minutes, now_ms),
            ));
        }
        Ok(out)
    }
}

fn dur(ms: i64) -> String {
    HumanDuration::from_millis(ms.max(0) as u64).to_string()
}

/// An SLO's state as the API gives it.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct SloView {
    pub name: String,
    pub targets: Vec<String>,
    pub sli: probity_core::slo::Sli,
    pub objective_percent: f64,
    pub window: String,
    pub at: Stamp,
    pub good: u64,
    pub total: u64,
    pub sli_value: Option<f64>,
    pub error_budget: Option<f64>,
    pub budget_consumed: Option<f64>,
    pub budget_remaining: Option<f64>,
    pub burn_rate: Option<f64>,
    pub alerts: Vec<BurnAlertView>,
}

/// One multi-window burn-rate alert and whether it fires.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct BurnAlertView {
    pub severity: String,
    pub factor: f64,
    pub long: String,
    pub short: String,
    pub long_burn_rate: Option<f64>,
    pub short_burn_rate: Option<f64>,
    pub firing: bool,
}

pub fn json(slo: &SloConfig, s: &Status, now_ms: i64) -> SloView {
    let round = |v: Option<f64>| v.map(|x| (x * 1e6).round() / 1e6);
    SloView {
        name: slo.name.clone(),
        targets: slo.targets.clone(),
        sli: slo.sli,
        objective_percent: (s.objective * 1e6).round() / 1e4,
        window: slo.window.to_string(),
        at: Stamp::ms(now_ms),
        good: s.good,
        total: s.total,
        sli_value: round(s.sli),
        error_budget: round(Some(s.error_budget)),
        budget_consumed: round(s.budget_consumed),
        budget_remaining: round(s.budget_remaining),
        burn_rate: round(s.burn_rate),
        alerts: s
            .alerts
            .iter()
            .map(|a| BurnAlertView {
                severity: a.severity.clone(),
                factor: a.factor,
                long: dur(a.long_ms),
                short: dur(a.short_ms),
                long_burn_rate: round(a.long_burn_rate),
                short_burn_rate: round(a.short_burn_rate),
                firing: a.firing,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::testing::{random, result};
    use crate::live::Touched;
    use crate::store::traits::*;
    use crate::store::{Batch, SqliteStore};

    const T0: i64 = 1_794_999_960_000; // a minute's start
    const MINUTE: i64 = 60_000;

    fn slos(objective: &str) -> Vec<SloConfig> {
        let src = format!(
            r#"
[[target]]
name = "a"
kind = "tcp"
address = "127.0.0.1:1"

[[target]]
name = "b"
kind = "tcp"
address = "127.0.0.1:1"

[[slo]]
name = "both"
targets = ["a", "b"]
objective = {objective}
window = "12m"
alerts = [{{ severity = "page", factor = 2.0, long = "15m", short = "2m" }}]

[[slo]]
name = "fast"
targets = ["b"]
objective = 90.0
window = "20m"
sli = "latency"
threshold = "5ms"
"#
        );
        probity_ground::config::parse("t.toml", &src, std::path::Path::new("."))
            .unwrap()
            .slos
    }

    /// Pass after pass, with results written late into old minutes, a prune and an SLO
    /// changed under the same name, each kept status is that of a whole read.
    #[test]
    fn kept_statuses_are_those_of_a_whole_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let touched = Touched::default();
        let mut cache = SloCache::default();
        let mut rand = random(0x2545_f491);
        let (mut id, mut reused, mut burning) = (0, 0, 0);
        for step in 0..70i64 {
            let now = T0 + step * MINUTE;
            let mut batch = Batch::default();
            for (t, vantages) in [("a", 1), ("b", 2)] {
                for v in 0..vantages {
                    for _ in 0..rand(4) {
                        id += 1;
                        let at = now + rand(MINUTE as u64) as i64;
                        let ms = 1.0 + rand(8) as f64;
                        batch
                            .results
                            .push(result(id, t, &format!("v{v}"), at, rand(6) == 0, ms));
                    }
                }
                if rand(4) == 0 {
                    // A vantage's backlog: a result into a minute long past.
                    id += 1;
                    let at = now - rand(25) as i64 * MINUTE + 7;
                    batch
                        .results
                        .push(result(id, t, "v0", at, rand(2) == 0, 2.0));
                }
            }
            store.write(&batch).unwrap();
            touched.mark(&batch.results);
            if step == 45 {
                store.prune(now - 8 * MINUTE, now - 8 * MINUTE).unwrap();
                touched.reset();
            }
            let marks = touched.take();
            if !marks.reset && step > 0 {
                reused += 1;
            }
            // Some passes at whole minutes, most cutting one; the objective changes once.
            let at = now + MINUTE
                - if step % 3 == 0 {
                    0
                } else {
                    rand(MINUTE as u64) as i64
                };
            let configs = slos(if step < 30 { "99.0" } else { "95.0" });
            let kept = cache.statuses(&store, &configs, at, &marks).unwrap();
            assert_eq!(kept.len(), 2);
            for ((name, k), slo) in kept.iter().zip(&configs) {
                assert_eq!(name, &slo.name);
                let whole = status(&store, slo, at).unwrap();
                assert_eq!(*k, whole, "{name} at step {step}");
                burning += whole.alerts.iter().filter(|a| a.firing).count();
            }
        }
        assert!(reused > 60, "{reused}");
        // The comparisons were of something: alerts fired at some passes.
        assert!(burning > 5, "{burning}");
    }
}
