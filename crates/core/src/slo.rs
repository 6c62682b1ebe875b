//! SLOs: an objective over a rolling window, its error budget, and the multi-window,
//! multi-burn-rate alerts of the Google SRE Workbook (chapter 5, "Alerting on SLOs"). Pure:
//! the caller passes per-minute good and total counts.
//!
//! The burn rate over a window is the error rate over it divided by the error budget
//! (1 − objective): at 1× the budget lasts exactly the SLO window. An alert fires when the
//! burn rate is at or above its factor over both its long and its short window (the short
//! one makes it stop soon after the burning stops).

use serde::Serialize;

/// What counts as a good event.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Sli {
    /// Results that were not down.
    Availability,
    /// Results that were not down and answered within the threshold.
    Latency { threshold_ms: f64 },
}

/// One burn-rate alert.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BurnAlert {
    /// `page` or `ticket` (or any name).
    pub severity: String,
    pub factor: f64,
    pub long_ms: i64,
    pub short_ms: i64,
}

/// The Workbook's recommended set for a 30-day objective: page at 14.4× over 1 h (5 m) and
/// 6× over 6 h (30 m); ticket at 3× over 1 d (2 h) and 1× over 3 d (6 h).
pub fn default_alerts() -> Vec<BurnAlert> {
    const M: i64 = 60_000;
    const H: i64 = 60 * M;
    [
        ("page", 14.4, H, 5 * M),
        ("page", 6.0, 6 * H, 30 * M),
        ("ticket", 3.0, 24 * H, 2 * H),
        ("ticket", 1.0, 72 * H, 6 * H),
    ]
    .into_iter()
    .map(|(s, f, l, sh)| BurnAlert {
        severity: s.into(),
        factor: f,
        long_ms: l,
        short_ms: sh,
    })
    .collect()
}

/// Good and total events in one minute.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub minute_ms: i64,
    pub good: u64,
    pub total: u64,
}

/// One alert's state.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AlertState {
    pub severity: String,
    pub factor: f64,
    pub long_ms: i64,
    pub short_ms: i64,
    pub long_burn_rate: Option<f64>,
    pub short_burn_rate: Option<f64>,
    pub firing: bool,
}

/// Where an SLO stands.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Status {
    pub objective: f64,
    pub window_ms: i64,
    pub good: u64,
    pub total: u64,
    /// good ÷ total over the window; `None` with nothing measured.
    pub sli: Option<f64>,
    /// 1 − objective: the share of events allowed to be bad.
    pub error_budget: f64,
    /// Bad events ÷ the bad events the budget allows over the window's measured events.
    pub budget_consumed: Option<f64>,
    pub budget_remaining: Option<f64>,
    /// The burn rate over the whole window.
    pub burn_rate: Option<f64>,
    pub alerts: Vec<AlertState>,
}

/// The burn rate over `[now - span, now)`: the error rate there ÷ the budget; `None`
/// without events.
pub fn burn_rate(minutes: &[Counts], now_ms: i64, span_ms: i64, error_budget: f64) -> Option<f64> {
    let (good, total) = minutes
        .iter()
        .filter(|m| m.minute_ms >= now_ms - span_ms && m.minute_ms < now_ms)
        .fold((0u64, 0u64), |(g, t), m| (g + m.good, t + m.total));
    (total > 0 && error_budget > 0.0)
        .then(|| (total - good.min(total)) as f64 / total as f64 / error_budget)
}

/// Evaluates an SLO of `objective` (a fraction, e.g. 0.999) over the rolling `window_ms`
/// ending at `now_ms`.
pub fn evaluate(
    objective: f64,
    window_ms: i64,
    alerts: &[BurnAlert],
    minutes: &[Counts],
    now_ms: i64,
) -> Status {
    let budget = (1.0 - objective).max(0.0);
    let (good, total) = minutes
        .iter()
        .filter(|m| m.minute_ms >= now_ms - window_ms && m.minute_ms < now_ms)
        .fold((0u64, 0u64), |(g, t), m| (g + m.good, t + m.total));
    let good = good.min(total);
    let consumed =
        (total > 0 && budget > 0.0).then(|| (total - good) as f64 / (budget * total as f64));
    Status {
        objective,
        window_ms,
        good,
        total,
        sli: (total > 0).then(|| good as f64 / total as f64),
        error_budget: budget,
        budget_consumed: consumed,
        budget_remaining: consumed.map(|c| 1.0 - c),
        burn_rate: burn_rate(minutes, now_ms, window_ms, budget),
        alerts: alerts
            .iter()
            .map(|a| {
                let long = burn_rate(minutes, now_ms, a.long_ms, budget);
                let short = burn_rate(minutes, now_ms, a.short_ms, budget);
                AlertState {
                    severity: a.severity.clone(),
                    factor: a.factor,
                    long_ms: a.long_ms,
                    short_ms: a.short_ms,
                    long_burn_rate: long,
                    short_burn_rate: short,
                    firing: long.is_some_and(|l| l >= a.factor)
                        && short.is_some_and(|s| s >= a.factor),
                }
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: i64 = 60_000;

    /// `n` minutes ending at `now`, one event each, bad where `bad(i)` (i = minutes ago).
    fn minutes(now: i64, n: i64, bad: impl Fn(i64) -> bool) -> Vec<Counts> {
        (1..=n)
            .map(|ago| Counts {
                minute_ms: now - ago * M,
                good: u64::from(!bad(ago)),
                total: 1,
            })
            .collect()
    }

    #[test]
    fn budget_and_burn() {
        let now = 1_000_000 * M;
        // 30 days at one event a minute, 99.9%: 43.2 bad minutes allowed.
        let window = 30 * 1440 * M;
        let m = minutes(now, 30 * 1440, |ago| ago > 10_000 && ago <= 10_000 + 21);
        let s = evaluate(0.999, window, &default_alerts(), &m, now);
        assert_eq!((s.good, s.total), (43_200 - 21, 43_200));
        let consumed = s.budget_consumed.unwrap();
        assert!((consumed - 21.0 / 43.2).abs() < 1e-9, "{consumed}");
        assert!((s.budget_remaining.unwrap() - (1.0 - 21.0 / 43.2)).abs() < 1e-9);
        assert!(s.alerts.iter().all(|a| !a.firing), "old errors page nobody");
        // Nothing measured: unknown, not fine.
        let s = evaluate(0.999, window, &default_alerts(), &[], now);
        assert_eq!((s.sli, s.budget_remaining), (None, None));
    }

    #[test]
    fn the_fast_page_fires_on_a_fresh_outage_and_stops_after_it() {
        let now = 1_000_000 * M;
        // Down for the last 10 minutes: over 1 h the error rate is 1/6, 166× the budget;
        // over 5 m it is 100%: both above 14.4.
        let m = minutes(now, 3 * 1440, |ago| ago <= 10);
        let s = evaluate(0.999, 30 * 1440 * M, &default_alerts(), &m, now);
        let page = &s.alerts[0];
        assert!((page.long_burn_rate.unwrap() - (10.0 / 60.0) / 0.001).abs() < 1e-6);
        assert!(page.firing);
        // The 6 h window: 10/360 / 0.001 = 27.8 ≥ 6, short 30 m: 10/30/0.001 ≥ 6.
        assert!(s.alerts[1].firing);
        // Recovered 10 minutes ago: the 1 h window still burns, the 5 m one does not.
        let m = minutes(now, 3 * 1440, |ago| (11..=20).contains(&ago));
        let s = evaluate(0.999, 30 * 1440 * M, &default_alerts(), &m, now);
        assert!(s.alerts[0].long_burn_rate.unwrap() > 14.4);
        assert_eq!(s.alerts[0].short_burn_rate, Some(0.0));
        assert!(!s.alerts[0].firing);
    }

    #[test]
    fn a_slow_burn_opens_a_ticket_not_a_page() {
        let now = 1_000_000 * M;
        // One bad minute in every 100 for three days, against 99.9%: 10× the budget over
        // the long windows, but the short page windows (5 m, 30 m) hold no bad minute.
        let m = minutes(now, 3 * 1440, |ago| ago % 100 == 0);
        let s = evaluate(0.999, 30 * 1440 * M, &default_alerts(), &m, now);
        let day = s.alerts[2].long_burn_rate.unwrap();
        assert!((day - (14.0 / 1440.0) / 0.001).abs() < 1e-9, "{day}");
        assert!(!s.alerts[0].firing && !s.alerts[1].firing, "no page");
        assert!(s.alerts[2].firing && s.alerts[3].firing, "tickets");
    }
}
