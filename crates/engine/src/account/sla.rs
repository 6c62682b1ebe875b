//! The edge of SLA accounting: the shipped catalog of terms, reading a month of minutes
//! from the store, and the report in its formats (table, JSON, CSV, HTML with a plot and
//! claim text). The arithmetic is `probity_core::sla`.

use crate::store::{IncidentFilter, ProviderFilter, Store, StoreResult};
use probity_core::provider::Impact;
use probity_core::sla::{Account, Minute, account, month_bounds};
use probity_ground::config::{Config, SlaConfig, Target};
use probity_ground::html::escape;
use probity_ground::time::Stamp;
use probity_ground::time::rfc3339;
use schemars::JsonSchema;
use serde::Serialize;

pub use probity_ground::config::sla_catalog::catalog;

/// A month, `YYYY-MM`.
pub fn parse_month(s: &str) -> Option<(i32, u32)> {
    let (y, m) = s.split_once('-')?;
    if y.len() != 4 || m.len() != 2 {
        return None;
    }
    let (y, m): (i32, u32) = (y.parse().ok()?, m.parse().ok()?);
    ((1970..=9999).contains(&y) && (1..=12).contains(&m)).then_some((y, m))
}

/// The current month, UTC.
pub fn this_month(now_ms: i64) -> (i32, u32) {
    let (y, m, _) = probity_core::sla::civil_from_days(now_ms.div_euclid(86_400_000));
    (y, m)
}

/// One SLA's month, accounted, with what the report shows beside the numbers.
pub struct Report {
    pub sla: SlaConfig,
    pub month: (i32, u32),
    pub account: Account,
    /// For each downtime interval: the ids of the observed incidents that overlap it.
    pub incidents: Vec<Vec<i64>>,
    /// Declared maintenance left out of the formula: (provider incident id, start, end).
    pub declared_maintenance: Vec<(String, i64, i64)>,
    /// The size of the first checkpoint signed after the span closed (the latest while it
    /// is open): it covers every result accounted that had arrived by then.
    pub checkpoint_size: Option<u64>,
    /// `[[maintenance]]` windows left out of the formula: (name, start, end).
    pub configured_maintenance: Vec<(String, i64, i64)>,
    /// Minutes of the month still to come: out of the formula (the report is "so far") and
    /// not counted in `excluded_minutes`.
    pub future_minutes: u32,
}

/// Accounts `sla` for `month` from the store.
pub fn report(
    store: &dyn Store,
    config: &Config,
    sla: &SlaConfig,
    month: (i32, u32),
    now_ms: i64,
) -> StoreResult<Report> {
    report_span(
        store,
        config,
        sla,
        month,
        month_bounds(month.0, month.1),
        now_ms,
    )
}

/// Accounts `sla` over `bounds` `[from, to)` (whole minutes), as a report of `month` (the
/// month whose terms and claim deadline apply). Minutes after `now_ms` are still to come:
/// out of the formula.
pub fn report_span(
    store: &dyn Store,
    config: &Config,
    sla: &SlaConfig,
    month: (i32, u32),
    bounds: (i64, i64),
    now_ms: i64,
) -> StoreResult<Report> {
    let now_ms = now_ms.min(bounds.1);
    let minutes = ((bounds.1 - bounds.0) / 60_000) as usize;
    // Each target's minutes; several vantages make one minute by the target's quorum rule
    // (the minute is down when as many vantages as an incident needs saw it down).
    let mut per_target = Vec::new();
    for name in &sla.targets {
        let quorum = config
            .targets
            .iter()
            .find(|t| &t.name == name)
            .map_or(probity_core::quorum::Quorum::Count(1), |t| t.quorum);
        let mut seen: Vec<Vec<Minute>> = vec![Vec::new(); minutes];
        for r in store.rollup_counts(name, bounds.0, bounds.1)? {
            let i = ((r.minute_ms - bounds.0) / 60_000) as usize;
            if let Some(slot) = seen.get_mut(i) {
                slot.push(Minute {
                    count: r.count as u32,
                    failures: r.failures as u32,
                });
            }
        }
        per_target.push(
            seen.iter()
                .map(|v| probity_core::sla::by_quorum(v, quorum.needed(v.len())))
                .collect::<Vec<_>>(),
        );
    }
    // Maintenance the provider declared on these targets, and the configured windows.
    let targets: Vec<&Target> = config
        .targets
        .iter()
        .filter(|t| sla.targets.contains(&t.name))
        .map(|t| &**t)
        .collect();
    let mut declared_maintenance = Vec::new();
    let mut declared = store.provider_incidents(&ProviderFilter {
        since_ms: Some(bounds.0),
        until_ms: Some(bounds.1),
        ..ProviderFilter::default()
    })?;
    crate::feeds::map_components(&config.reconcile.components, &mut declared);
    for p in declared {
        let i = &p.incident;
        if i.impact != Impact::Maintenance
            || !targets
                .iter()
                .any(|t| probity_core::names::affects(i, t.names()))
        {
            continue;
        }
        let start = i.started_at_ms.unwrap_or(p.first_seen_at_ms);
        let end = i.resolved_at_ms.or(p.removed_at_ms).unwrap_or(start);
        if end > start {
            declared_maintenance.push((format!("{}/{}", p.feed, i.external_id), start, end));
        }
    }
    let mut excluded = sla.maintenance.clone();
    // `[[maintenance]]` windows on any of these targets, where the terms leave them out.
    let mut configured_maintenance = Vec::new();
    if sla.exclude_maintenance {
        for m in &config.maintenance {
            if m.targets.iter().any(|t| sla.targets.contains(t)) {
                for (a, b) in m.window.spans_within(bounds.0, bounds.1) {
                    configured_maintenance.push((m.name.clone(), a, b));
                    excluded.push((a, b));
                }
            }
        }
    }
    excluded.extend(declared_maintenance.iter().map(|(_, a, b)| (*a, *b)));
    // The rest of a month in progress is out of the formula: the report is "so far".
    let future_from = (now_ms.div_euclid(60_000) + 1) * 60_000;
    if future_from < bounds.1 {
        excluded.push((future_from.max(bounds.0), bounds.1));
    }
    let mut account = account(&sla.terms, bounds, &per_target, &excluded);
    // Those the intervals below can name (a superset, filtered per interval).
    let observed = store.incidents(IncidentFilter::Overlapping {
        from_ms: bounds.0,
        until_ms: bounds.1,
    })?;
    let incidents = account
        .intervals
        .iter()
        .map(|iv| {
            observed
                .iter()
                .filter(|o| {
                    sla.targets.contains(&o.target)
                        && o.started_at_ms < iv.end_ms
                        && o.resolved_at_ms.unwrap_or(now_ms) > iv.start_ms
                })
                .map(|o| o.id)
                .collect()
        })
        .collect();
    let future_minutes = ((bounds.1 - future_from.clamp(bounds.0, bounds.1)) / 60_000) as u32;
    account.excluded_minutes -= future_minutes.min(account.excluded_minutes);
    Ok(Report {
        sla: sla.clone(),
        month,
        account,
        incidents,
        declared_maintenance,
        configured_maintenance,
        // The first checkpoint signed after the span closed covers all of it, and stays the
        // same however many are signed later; while the span is open, the latest.
        checkpoint_size: match store.first_checkpoint_since(bounds.1)? {
            Some(c) => Some(c.size),
            None => store.latest_checkpoint()?.map(|c| c.size),
        },
        future_minutes,
    })
}

/// Said wherever the terms' numbers are shown while the catalog entry is unverified.
pub const UNVERIFIED: &str = "these terms are not verified: a number in them is from a secondary source; check it against the provider's published terms before filing";

/// Said where the terms state no claim deadline.
pub const NO_DEADLINE: &str =
    "the terms as recorded state no claim deadline; check the provider's terms";

/// Where the terms come from: their address and the day they were read, or "custom terms".
fn terms_source(t: &probity_core::sla::Terms) -> String {
    match (t.url.is_empty(), t.read_on.is_empty()) {
        (true, _) => format!("custom terms `{}`", t.id),
        (false, true) => format!("{}, terms `{}`", t.url, t.id),
        (false, false) => format!("{}, as read on {}, terms `{}`", t.url, t.read_on, t.id),
    }
}

/// Minutes as a person writes them: `3`, `0.75`, `12.5` (at most three decimals).
fn minutes(m: f64) -> String {
    let s = format!("{:.3}", m + 0.0);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn month_name(m: (i32, u32)) -> String {
    format!("{:04}-{:02}", m.0, m.1)
}

/// `v` to `digits` decimals; never `-0.0`.
fn round(v: Option<f64>, digits: i32) -> Option<f64> {
    let f = 10f64.powi(digits);
    v.map(|x| (x * f).round() / f + 0.0)
}

/// One month's SLA report as the API and `probity sla report --format json` give it.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct SlaView {
    pub sla: String,
    /// `YYYY-MM`.
    pub month: String,
    pub terms: TermsView,
    pub targets: Vec<String>,
    pub minutes: u32,
    pub measured_minutes: u32,
    pub unmeasured_minutes: u32,
    pub future_minutes: u32,
    pub excluded_minutes: u32,
    pub downtime_minutes: f64,
    pub uptime_percent: Option<f64>,
    pub uptime_percent_if_unmeasured_down: Option<f64>,
    pub credit_percent: Option<f64>,
    pub credit_percent_if_unmeasured_down: Option<f64>,
    pub credit_amount: Option<f64>,
    pub currency: String,
    pub claim_deadline: Option<String>,
    /// Why there is no deadline, when there is none.
    pub claim_deadline_note: Option<&'static str>,
    pub downtime_intervals: Vec<IntervalView>,
    pub maintenance: Vec<MaintenanceView>,
    pub days: Vec<DayView>,
    pub evidence_checkpoint_size: Option<u64>,
    pub claim_text: Option<String>,
}

/// The terms a report applies, as the catalog (or `[[sla]]`) states them.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct TermsView {
    pub id: String,
    pub name: String,
    pub provider: String,
    pub url: String,
    pub read_on: String,
    /// False: a number is from a secondary source and awaits checking against the terms.
    pub verified: bool,
    pub commitment: f64,
    pub tiers: Vec<probity_core::sla::Tier>,
    pub basis: probity_core::sla::Basis,
    pub interval_minutes: u32,
    pub combine: probity_core::sla::Combine,
    pub downtime: String,
    pub exclusions: String,
}

/// A run of downtime.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct IntervalView {
    pub start: Stamp,
    pub end: Stamp,
    pub downtime_minutes: f64,
    pub error_rate: Option<f64>,
    pub results: u64,
    pub failures: u64,
    /// The observed incidents that overlap it.
    pub incidents: Vec<i64>,
}

/// Time left out of the formula.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct MaintenanceView {
    pub start: Stamp,
    pub end: Stamp,
    /// `config`, a provider incident's id, or `maintenance:NAME`.
    pub source: String,
}

/// One day of the month.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct DayView {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub uptime_percent: Option<f64>,
    pub downtime_minutes: f64,
    pub unmeasured_minutes: u32,
}

impl Report {
    pub fn claim_deadline(&self) -> Option<String> {
        self.sla
            .terms
            .claim_deadline(self.month.0, self.month.1)
            .map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}"))
    }

    pub fn credit_amount(&self) -> Option<f64> {
        Some(self.sla.monthly_bill? * self.account.credit_percent? / 100.0)
    }

    /// A claim ready to paste into a support case.
    pub fn claim_text(&self) -> Option<String> {
        let a = &self.account;
        if a.credit_percent.unwrap_or(0.0) <= 0.0 {
            return None;
        }
        let t = &self.sla.terms;
        let mut s = format!(
            "SLA Credit Request: {} for {}\n\nUnder the {} SLA ({}), the monthly uptime for {} was {:.4}% against a commitment of {}%, which earns a service credit of {}%{}.\n\nDowntime periods (UTC), measured by independent probes of {}:\n",
            t.name,
            month_name(self.month),
            t.name,
            terms_source(t),
            month_name(self.month),
            a.uptime_percent.unwrap_or(0.0),
            t.commitment,
            a.credit_percent.unwrap_or(0.0),
            match self.credit_amount() {
                Some(m) => format!(" ({m:.2} {})", self.sla.currency),
                None => String::new(),
            },
            self.sla.targets.join(", "),
        );
        for iv in &a.intervals {
            s.push_str(&format!(
                "- {} to {} ({} minutes{}; {} of {} probe results failed)\n",
                rfc3339(iv.start_ms),
                rfc3339(iv.end_ms),
                minutes(iv.downtime_minutes),
                iv.error_rate
                    .map(|r| format!(", error rate {:.1}%", r * 100.0))
                    .unwrap_or_default(),
                iv.failures,
                iv.results,
            ));
        }
        s.push_str(&format!(
            "\nThe measurements are recorded in a tamper-evident log{}; an evidence bundle covering this month can be provided and verified offline.",
            self.checkpoint_size
                .map(|n| format!(" (signed checkpoint of {n} records)"))
                .unwrap_or_default()
        ));
        if !t.claim.is_empty() {
            s.push_str(&format!("\n\nHow to claim: {}", t.claim));
        }
        match self.claim_deadline() {
            Some(d) => s.push_str(&format!(" Deadline: {d}.")),
            None => s.push_str(&format!(" Deadline: {}.", NO_DEADLINE)),
        }
        if !t.verified {
            s.push_str(&format!("\n\nNote: {UNVERIFIED}"));
        }
        Some(s)
    }

    pub fn json(&self) -> SlaView {
        let a = &self.account;
        let t = &self.sla.terms;
        let span = |a: i64, b: i64, source: String| MaintenanceView {
            start: Stamp::ms(a),
            end: Stamp::ms(b),
            source,
        };
        SlaView {
            sla: self.sla.name.clone(),
            month: month_name(self.month),
            terms: TermsView {
                id: t.id.clone(),
                name: t.name.clone(),
                provider: t.provider.clone(),
                url: t.url.clone(),
                read_on: t.read_on.clone(),
                verified: t.verified,
                commitment: t.commitment,
                tiers: t.tiers.clone(),
                basis: t.basis,
                interval_minutes: t.interval_minutes,
                combine: t.combine,
                downtime: t.downtime.clone(),
                exclusions: t.exclusions.clone(),
            },
            targets: self.sla.targets.clone(),
            minutes: a.minutes,
            measured_minutes: a.measured_minutes,
            unmeasured_minutes: a.unmeasured_minutes,
            future_minutes: self.future_minutes,
            excluded_minutes: a.excluded_minutes,
            downtime_minutes: round(Some(a.downtime_minutes), 3).unwrap_or(0.0),
            uptime_percent: round(a.uptime_percent, 5),
            uptime_percent_if_unmeasured_down: round(a.uptime_percent_if_unmeasured_down, 5),
            credit_percent: a.credit_percent,
            credit_percent_if_unmeasured_down: a.credit_percent_if_unmeasured_down,
            credit_amount: round(self.credit_amount(), 2),
            currency: self.sla.currency.clone(),
            claim_deadline: self.claim_deadline(),
            claim_deadline_note: self.claim_deadline().is_none().then_some(NO_DEADLINE),
            downtime_intervals: a
                .intervals
                .iter()
                .zip(&self.incidents)
                .map(|(iv, inc)| IntervalView {
                    start: Stamp::ms(iv.start_ms),
                    end: Stamp::ms(iv.end_ms),
                    downtime_minutes: round(Some(iv.downtime_minutes), 3).unwrap_or(0.0),
                    error_rate: round(iv.error_rate, 5),
                    results: iv.results,
                    failures: iv.failures,
                    incidents: inc.clone(),
                })
                .collect(),
            maintenance: self
                .sla
                .maintenance
                .iter()
                .map(|(a, b)| span(*a, *b, "config".into()))
                .chain(
                    self.declared_maintenance
                        .iter()
                        .map(|(id, a, b)| span(*a, *b, id.clone())),
                )
                .chain(
                    self.configured_maintenance
                        .iter()
                        .map(|(n, a, b)| span(*a, *b, format!("maintenance:{n}"))),
                )
                .collect(),
            days: a
                .days
                .iter()
                .map(|d| DayView {
                    date: rfc3339(d.start_ms)[..10].to_string(),
                    uptime_percent: round(d.uptime_percent, 5),
                    downtime_minutes: round(Some(d.downtime_minutes), 3).unwrap_or(0.0),
                    unmeasured_minutes: d.unmeasured_minutes,
                })
                .collect(),
            evidence_checkpoint_size: self.checkpoint_size,
            claim_text: self.claim_text(),
        }
    }
}

/// Every SLA of `config` (or only `only`) over `[from, to)`: whole minutes, the report
/// of the month `from` falls in.
pub fn reports_between(
    store: &dyn Store,
    config: &Config,
    span: (i64, i64),
    only: Option<&str>,
    now_ms: i64,
) -> StoreResult<Vec<Report>> {
    let month = this_month(span.0);
    config
        .slas
        .iter()
        .filter(|s| only.is_none_or(|o| o == s.name))
        .map(|s| report_span(store, config, s, month, span, now_ms))
        .collect()
}

/// Every SLA of `config` (or only `only`) for `month`.
pub fn reports(
    store: &dyn Store,
    config: &Config,
    month: (i32, u32),
    only: Option<&str>,
    now_ms: i64,
) -> StoreResult<Vec<Report>> {
    config
        .slas
        .iter()
        .filter(|s| only.is_none_or(|o| o == s.name))
        .map(|s| report(store, config, s, month, now_ms))
        .collect()
}

fn pct(v: Option<f64>) -> String {
    v.map_or("unknown".into(), |v| format!("{v:.4}%"))
}

pub fn table(reports: &[Report]) -> String {
    let mut out = format!(
        "{:<20} {:<8} {:<24} {:>10} {:>9} {:>10} {:>10} {:>7} {:>11}\n",
        "sla", "month", "terms", "uptime", "down min", "unmeasured", "floor", "credit", "claim by"
    );
    for r in reports {
        let a = &r.account;
        out.push_str(&format!(
            "{:<20} {:<8} {:<24} {:>10} {:>9.1} {:>10} {:>10} {:>7} {:>11}\n",
            r.sla.name.chars().take(20).collect::<String>(),
            month_name(r.month),
            r.sla.terms.id.chars().take(24).collect::<String>(),
            pct(a.uptime_percent),
            a.downtime_minutes,
            a.unmeasured_minutes,
            pct(a.uptime_percent_if_unmeasured_down),
            a.credit_percent.map_or("—".into(), |c| format!("{c}%")),
            r.claim_deadline().unwrap_or_else(|| "—".into()),
        ));
        out.push_str(&format!("    terms: {}\n", terms_source(&r.sla.terms)));
        if !r.sla.terms.verified {
            out.push_str(&format!("    note: {UNVERIFIED}\n"));
        }
        if r.claim_deadline().is_none() {
            out.push_str(&format!("    claim by: {NO_DEADLINE}\n"));
        }
        for (iv, inc) in a.intervals.iter().zip(&r.incidents) {
            out.push_str(&format!(
                "    down {} → {}  {:.1} min{}{}\n",
                rfc3339(iv.start_ms),
                rfc3339(iv.end_ms),
                iv.downtime_minutes,
                iv.error_rate
                    .map(|e| format!(", error rate {:.1}%", e * 100.0))
                    .unwrap_or_default(),
                if inc.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", incidents {}",
                        inc.iter()
                            .map(|i| i.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            ));
        }
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub fn csv(reports: &[Report]) -> String {
    let mut out = String::from(
        "sla,month,terms,terms_verified,uptime_percent,uptime_percent_if_unmeasured_down,downtime_minutes,unmeasured_minutes,excluded_minutes,credit_percent,credit_amount,currency,claim_deadline,downtime_intervals\n",
    );
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v}"));
    for r in reports {
        let a = &r.account;
        let intervals: Vec<String> = a
            .intervals
            .iter()
            .map(|iv| format!("{}/{}", rfc3339(iv.start_ms), rfc3339(iv.end_ms)))
            .collect();
        out.push_str(
            &[
                csv_field(&r.sla.name),
                month_name(r.month),
                csv_field(&r.sla.terms.id),
                r.sla.terms.verified.to_string(),
                opt(a.uptime_percent),
                opt(a.uptime_percent_if_unmeasured_down),
                format!("{}", a.downtime_minutes + 0.0),
                a.unmeasured_minutes.to_string(),
                a.excluded_minutes.to_string(),
                opt(a.credit_percent),
                opt(r.credit_amount()),
                csv_field(&r.sla.currency),
                r.claim_deadline().unwrap_or_default(),
                csv_field(&intervals.join(" ")),
            ]
            .join(","),
        );
        out.push('\n');
    }
    out
}

/// A self-contained HTML page: per SLA the figures, a daily uptime plot (inline SVG, no
/// script), every downtime interval with its evidence, and the claim text.
pub fn html(reports: &[Report]) -> String {
    let mut body = String::new();
    for r in reports {
        let a = &r.account;
        let t = &r.sla.terms;
        body.push_str(&format!(
            "<section><h2>{} — {}</h2><p class=terms>{} ({}){}</p>",
            escape(&r.sla.name),
            month_name(r.month),
            escape(&t.name),
            if t.url.is_empty() {
                "custom terms".to_string()
            } else {
                format!(
                    "<a href=\"{0}\">{0}</a>, read {1}",
                    escape(&t.url),
                    escape(&t.read_on)
                )
            },
            if t.verified {
                ""
            } else {
                " — <em>numbers from secondary copies: check them against the live terms</em>"
            }
        ));
        body.push_str(&format!(
            "<table class=figures><tr><th>uptime (measured time)</th><td>{}</td></tr><tr><th>uptime (unmeasured counted as down)</th><td>{}</td></tr><tr><th>commitment</th><td>{}%</td></tr><tr><th>downtime</th><td>{:.1} min</td></tr><tr><th>unmeasured</th><td>{} min</td></tr><tr><th>excluded maintenance</th><td>{} min</td></tr><tr><th>credit</th><td>{}</td></tr><tr><th>claim by</th><td>{}</td></tr></table>",
            pct(a.uptime_percent),
            pct(a.uptime_percent_if_unmeasured_down),
            t.commitment,
            a.downtime_minutes,
            a.unmeasured_minutes,
            a.excluded_minutes,
            match (a.credit_percent, r.credit_amount()) {
                (Some(c), Some(m)) => format!("{c}% ({m:.2} {})", escape(&r.sla.currency)),
                (Some(c), None) => format!("{c}%"),
                _ => "unknown (nothing measured)".into(),
            },
            r.claim_deadline().unwrap_or_else(|| "—".into()),
        ));
        body.push_str(&plot(r));
        body.push_str("<h3>Downtime</h3>");
        if a.intervals.is_empty() {
            body.push_str("<p>None measured.</p>");
        } else {
            body.push_str("<table class=intervals><tr><th>start (UTC)</th><th>end</th><th>minutes</th><th>error rate</th><th>failed / results</th><th>incidents</th></tr>");
            for (iv, inc) in a.intervals.iter().zip(&r.incidents) {
                body.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td><td>{:.1}</td><td>{}</td><td>{} / {}</td><td>{}</td></tr>",
                    rfc3339(iv.start_ms),
                    rfc3339(iv.end_ms),
                    iv.downtime_minutes,
                    iv.error_rate.map_or("—".into(), |e| format!("{:.1}%", e * 100.0)),
                    iv.failures,
                    iv.results,
                    inc.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", "),
                ));
            }
            body.push_str("</table>");
        }
        if let Some(claim) = r.claim_text() {
            body.push_str(&format!(
                "<h3>Claim</h3><pre class=claim>{}</pre>",
                escape(&claim)
            ));
        }
        body.push_str("</section>");
    }
    format!(
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8><title>SLA report</title><style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}}table{{border-collapse:collapse;margin:.5rem 0}}td,th{{border:1px solid #ccc;padding:.2rem .5rem;text-align:left}}pre.claim{{white-space:pre-wrap;background:#f6f6f6;padding:1rem}}.terms{{color:#555}}</style></head><body><h1>SLA report</h1>{body}<p>Generated by probity. Every figure comes from the probes' own results; minutes without results are shown as unmeasured, never counted as up.</p></body></html>\n"
    )
}

/// Daily uptime as bars on a fixed axis from 5 points under the commitment to 100%: green at
/// or above the commitment; a breach in red with its figure written over it (a day below the
/// axis is drawn to the axis, never as nothing); unmeasured days grey; days still to come
/// outlined only.
fn plot(r: &Report) -> String {
    let days = &r.account.days;
    let (w, h, pad) = (720.0, 170.0, 30.0);
    let bw = (w - pad * 2.0) / days.len().max(1) as f64;
    let commitment = r.sla.terms.commitment;
    let floor = (commitment - 5.0).max(0.0);
    let y = |u: f64| h - pad - (u.max(floor) - floor) / (100.0 - floor) * (h - pad * 2.0);
    let start = days.first().map_or(0, |d| d.start_ms);
    let future_from = start + (i64::from(r.account.minutes) - i64::from(r.future_minutes)) * 60_000;
    let mut svg = format!(
        "<svg role=img aria-label=\"daily uptime\" width={w} height={h} viewBox=\"0 0 {w} {h}\" xmlns=\"http://www.w3.org/2000/svg\"><title>Daily uptime, {}</title>",
        month_name(r.month)
    );
    for (i, d) in days.iter().enumerate() {
        let x = pad + i as f64 * bw;
        let day = &rfc3339(d.start_ms)[..10];
        let width = (bw - 1.0).max(1.0);
        match d.uptime_percent {
            _ if d.start_ms >= future_from => svg.push_str(&format!(
                "<rect class=future x={x:.1} y={pad:.1} width={width:.1} height={:.1} fill=\"none\" stroke=\"#ccc\" stroke-dasharray=\"2 2\"><title>{day}: still to come</title></rect>",
                h - pad * 2.0,
            )),
            Some(u) if u >= commitment => svg.push_str(&format!(
                "<rect class=met x={x:.1} y={:.1} width={width:.1} height={:.1} fill=\"#3a3\"><title>{day}: {u:.4}%</title></rect>",
                y(u),
                (h - pad - y(u)).max(2.0),
            )),
            Some(u) => {
                let top = y(u).min(h - pad - 3.0);
                svg.push_str(&format!(
                    "<rect class=breach x={x:.1} y={top:.1} width={width:.1} height={:.1} fill=\"#c33\"><title>{day}: {u:.4}%, below the commitment</title></rect><text class=breach-label x={x:.1} y={:.1} font-size=10 fill=\"#c33\">{u:.2}%</text>",
                    h - pad - top,
                    top - 3.0,
                ));
            }
            None => svg.push_str(&format!(
                "<rect class=unmeasured x={x:.1} y={pad:.1} width={width:.1} height={:.1} fill=\"#bbb\"><title>{day}: unmeasured</title></rect>",
                h - pad * 2.0,
            )),
        }
    }
    let c = y(commitment);
    svg.push_str(&format!(
        "<line x1={pad} x2={} y1={c:.1} y2={c:.1} stroke=\"#333\" stroke-dasharray=\"4 3\"/><text x={pad} y={:.1} font-size=11>commitment {commitment}%</text><text x={pad} y={} font-size=11>{floor}% and below</text><text x={pad} y=12 font-size=11>100%</text></svg><p class=legend><span style=\"color:#3a3\">■ met</span> <span style=\"color:#c33\">■ below the commitment (figure above the bar)</span> <span style=\"color:#999\">■ unmeasured</span> <span style=\"color:#999\">⬚ still to come</span></p>",
        w - pad,
        c - 3.0,
        h - pad + 12.0
    ));
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_parses_and_every_entry_is_sound() {
        let c = catalog();
        for id in [
            "azure-vm-single",
            "azure-vm-availability-set",
            "azure-vm-zones",
            "azure-storage",
            "aws-ec2-region",
            "aws-ec2-instance",
            "aws-s3",
            "gcp-compute-multi-zone",
            "gcp-compute-single",
            "gcp-storage-multi-region",
        ] {
            let t = c
                .iter()
                .find(|t| t.id == id)
                .unwrap_or_else(|| panic!("{id}"));
            t.check().unwrap_or_else(|e| panic!("{id}: {e}"));
            assert!(t.url.starts_with("https://"), "{id}");
            assert!(!t.read_on.is_empty() && !t.claim.is_empty() && !t.downtime.is_empty());
            assert!(
                t.claim_months_after.is_some() != t.claim_days_after.is_some(),
                "{id}: one claim deadline"
            );
        }
        let mut ids: Vec<&str> = c.iter().map(|t| t.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), c.len(), "ids are unique");
    }

    #[test]
    fn months() {
        assert_eq!(parse_month("2026-11"), Some((2026, 11)));
        assert_eq!(parse_month("2026-13"), None);
        assert_eq!(parse_month("26-11"), None);
        assert_eq!(parse_month("2026-1"), None);
        assert_eq!(this_month(1_795_440_000_000), (2026, 11));
    }
}
