//! The edge of SLOs: per-minute good and total counts from the rollups, handed to
//! `probity_core::slo`, and the JSON the API serves.

use crate::store::{Store, StoreResult};
use probity_core::duration::HumanDuration;
use probity_core::slo::{Counts, Sli, Status, evaluate};
use probity_ground::config::SloConfig;
use probity_ground::time::Stamp;
use schemars::JsonSchema;
use serde::Serialize;
use std::collections::BTreeMap;

/// Where `slo` stands at `now_ms`.
pub fn status(store: &dyn Store, slo: &SloConfig, now_ms: i64) -> StoreResult<Status> {
    let window = slo.window.as_millis() as i64;
    let span = slo
        .alerts
        .iter()
        .map(|a| a.long_ms.max(a.short_ms))
        .fold(window, i64::max);
    let mut minutes: BTreeMap<i64, Counts> = BTreeMap::new();
    for t in &slo.targets {
        for r in store.rollups(t, now_ms - span, now_ms)? {
            let up = r.count - r.failures.min(r.count);
            let good = match slo.sli {
                Sli::Availability => up,
                Sli::Latency { threshold_ms } => up.min(r.sketch.count_at_most(threshold_ms)),
            };
            let m = minutes.entry(r.minute_ms).or_insert(Counts {
                minute_ms: r.minute_ms,
                ..Counts::default()
            });
            m.good += good;
            m.total += r.count;
        }
    }
    let minutes: Vec<Counts> = minutes.into_values().collect();
    Ok(evaluate(
        slo.objective,
        window,
        &slo.alerts,
        &minutes,
        now_ms,
    ))
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
