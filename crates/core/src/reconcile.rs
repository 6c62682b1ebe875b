//! Reconciliation: what probity observed set against what providers declared. Pure
//! functions over plain values; the caller gathers incidents from the store and passes
//! `now` in.
//!
//! - [`matches`]: does a declared incident cover an observed one? Same provider, a service
//!   and region that map to each other ([`crate::names`]), spans that overlap within a
//!   tolerance. Many-to-many.
//! - [`reconcile`]: every match with its detection lead and disclosure lag; each observed
//!   incident's verdict (acknowledged, unacknowledged, pending, too short, unconfirmed); the
//!   declarations on watched services that probity did not see.
//! - [`scorecard`]: per provider (and service) over a window: measured and declared
//!   availability, unacknowledged incidents, acknowledgment rate, disclosure lag, edits
//!   after publication, and a grade whose formula is [`grade`].

use crate::names::{TargetNames, affects};
use crate::provider::{Impact, ProviderIncident};
use crate::result::Health;
use serde::Serialize;

/// How a target names itself for matching (owned; see [`TargetNames`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Names {
    pub provider: Option<String>,
    pub service: Option<String>,
    pub region: Option<String>,
}

impl Names {
    pub fn borrowed(&self) -> TargetNames<'_> {
        TargetNames {
            provider: self.provider.as_deref(),
            service: self.service.as_deref(),
            region: self.region.as_deref(),
        }
    }
}

/// An incident probity observed on one target.
#[derive(Clone, Debug, PartialEq)]
pub struct Observed {
    pub id: i64,
    pub target: String,
    pub names: Names,
    pub start_ms: i64,
    /// `None` while open.
    pub end_ms: Option<i64>,
    pub severity: Health,
    /// How many vantage points saw it.
    pub vantages: u32,
    /// Its cause says stored data was lost, changed or served stale (an object-storage
    /// integrity class), not that the service was unreachable.
    pub integrity: bool,
    /// The other organisations (their logs' origins) whose signed statements tell of the
    /// same outage ([`crate::federation`]).
    pub corroborated_by: Vec<String>,
}

impl Observed {
    /// How many organisations saw it: this one and those that corroborate it.
    pub fn organisations(&self) -> u32 {
        1 + self.corroborated_by.len() as u32
    }
}

impl Observed {
    pub fn end_or(&self, now_ms: i64) -> i64 {
        self.end_ms.unwrap_or(now_ms).max(self.start_ms)
    }
}

/// An incident a provider declared, with probity's record of when it saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct Declared {
    /// `feed/external_id`: unique.
    pub key: String,
    pub incident: ProviderIncident,
    pub first_seen_ms: i64,
    pub removed_ms: Option<i64>,
    pub changed_after_publication: bool,
    /// The start the provider stated when probity first saw it (`None`: none stated then).
    pub first_started_at_ms: Option<i64>,
    /// An edit after publication moved its start later or its end earlier: it now reads
    /// shorter than it was first told.
    pub shortened_after_publication: bool,
}

impl Declared {
    /// The start as first published, else as stated now.
    pub fn first_start(&self) -> Option<i64> {
        self.first_started_at_ms.or(self.incident.started_at_ms)
    }
    /// When the provider says impact began; failing that, the earliest it was known.
    pub fn start_ms(&self) -> i64 {
        self.incident
            .started_at_ms
            .unwrap_or_else(|| self.disclosed_ms())
    }
    /// The first disclosure: the provider's stated publication or probity's first sighting,
    /// whichever is earlier.
    pub fn disclosed_ms(&self) -> i64 {
        self.incident
            .published_at_ms
            .map_or(self.first_seen_ms, |p| p.min(self.first_seen_ms))
    }
    /// The stated end, else when it left the feed, else `now`.
    pub fn end_or(&self, now_ms: i64) -> i64 {
        self.incident
            .resolved_at_ms
            .or(self.removed_ms)
            .unwrap_or(now_ms)
            .max(self.start_ms())
    }
    pub fn is_maintenance(&self) -> bool {
        self.incident.impact == Impact::Maintenance
    }
}

/// The knobs, with their defaults in [`Params::default`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params {
    /// How far apart two spans may be and still match.
    pub tolerance_ms: i64,
    /// Observed incidents shorter than this are not held against anyone.
    pub min_duration_ms: i64,
    /// How long after an observed start a declaration may still come before the incident
    /// is called unacknowledged.
    pub grace_ms: i64,
    /// Vantage points that must have seen an incident for it to count.
    pub min_vantages: u32,
    /// Whether an undeclared degraded spell counts against the provider (a declaration
    /// matching one is matched either way).
    pub include_degraded: bool,
    /// How many organisations, this one included, make an outage corroborated.
    pub min_organisations: u32,
    /// The time the inputs are known as of: the window's end, or now if that is earlier.
    pub now_ms: i64,
}

impl Params {
    pub fn new(now_ms: i64) -> Params {
        Params {
            tolerance_ms: 5 * 60_000,
            min_duration_ms: 5 * 60_000,
            grace_ms: 2 * 3_600_000,
            min_vantages: 1,
            include_degraded: false,
            min_organisations: 2,
            now_ms,
        }
    }
}

/// Whether two spans overlap, or come within `tolerance_ms` of each other. Symmetric.
pub fn spans_meet(a: (i64, i64), b: (i64, i64), tolerance_ms: i64) -> bool {
    a.0 <= b.1.saturating_add(tolerance_ms) && b.0 <= a.1.saturating_add(tolerance_ms)
}

/// Whether a declared incident covers an observed one: maintenance never does; otherwise
/// the same provider, a matching service and region, and spans that meet.
pub fn matches(o: &Observed, d: &Declared, tolerance_ms: i64, now_ms: i64) -> bool {
    !d.is_maintenance()
        && affects(&d.incident, o.names.borrowed())
        && spans_meet(
            (o.start_ms, o.end_or(now_ms)),
            (d.start_ms(), d.end_or(now_ms)),
            tolerance_ms,
        )
}

/// One observed incident covered by one declaration.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Match {
    pub observed: i64,
    /// Index into the declared incidents given to [`reconcile`].
    pub declared: usize,
    /// The provider's start as first published minus the observed start: positive when
    /// the provider says it began later than it did. `None` when no start is stated.
    pub detection_lead_ms: Option<i64>,
    /// The same against the start as stated now (after any edit).
    pub detection_lead_edited_ms: Option<i64>,
    /// First disclosure minus the observed start.
    pub disclosure_lag_ms: i64,
    pub observed_duration_ms: i64,
    /// `None` while the declaration states no end.
    pub declared_duration_ms: Option<i64>,
    pub declared_impact: Impact,
    pub observed_severity: Health,
}

/// What became of an observed incident.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// At least one declaration covers it.
    Acknowledged,
    /// No declaration, and the grace period is over.
    Unacknowledged,
    /// No declaration yet, within the grace period.
    Pending,
    /// Shorter than the minimum duration: not held against anyone.
    TooShort,
    /// Seen by fewer vantage points than required.
    Unconfirmed,
    /// Degraded, never down, and undeclared: not held against anyone unless
    /// `include_degraded`.
    DegradedOnly,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Acknowledged => "acknowledged",
            Verdict::Unacknowledged => "unacknowledged",
            Verdict::Pending => "pending",
            Verdict::TooShort => "too_short",
            Verdict::Unconfirmed => "unconfirmed",
            Verdict::DegradedOnly => "degraded_only",
        }
    }
    /// Whether the incident counts in the scorecard's downtime and rates.
    pub fn counts(self) -> bool {
        matches!(self, Verdict::Acknowledged | Verdict::Unacknowledged)
    }
}

/// One observed incident's outcome.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Outcome {
    pub observed: i64,
    pub verdict: Verdict,
    /// Indices into [`Reconciliation::matches`].
    pub matches: Vec<usize>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Reconciliation {
    pub matches: Vec<Match>,
    /// One per observed incident, in the order given.
    pub outcomes: Vec<Outcome>,
    /// Indices of declared incidents on watched services that no observed incident
    /// matched (maintenance excluded).
    pub declared_not_observed: Vec<usize>,
}

/// A target probity watches, and since when it has measurements.
#[derive(Clone, Debug, PartialEq)]
pub struct Watched {
    pub target: String,
    pub names: Names,
    pub since_ms: i64,
}

/// Sets observed incidents against declared ones. Order of the inputs does not change
/// which pairs match or any verdict.
pub fn reconcile(
    observed: &[Observed],
    declared: &[Declared],
    watched: &[Watched],
    p: &Params,
) -> Reconciliation {
    let mut r = Reconciliation::default();
    let mut declared_matched = vec![false; declared.len()];
    for o in observed {
        let mut idx = Vec::new();
        for (di, d) in declared.iter().enumerate() {
            if !matches(o, d, p.tolerance_ms, p.now_ms) {
                continue;
            }
            declared_matched[di] = true;
            let observed_duration_ms = o.end_or(p.now_ms) - o.start_ms;
            idx.push(r.matches.len());
            r.matches.push(Match {
                observed: o.id,
                declared: di,
                detection_lead_ms: d.first_start().map(|s| s - o.start_ms),
                detection_lead_edited_ms: d.incident.started_at_ms.map(|s| s - o.start_ms),
                disclosure_lag_ms: d.disclosed_ms() - o.start_ms,
                observed_duration_ms,
                declared_duration_ms: d.incident.resolved_at_ms.map(|e| e - d.start_ms()),
                declared_impact: d.incident.impact,
                observed_severity: o.severity,
            });
        }
        let duration = o.end_or(p.now_ms) - o.start_ms;
        let verdict = if o.vantages < p.min_vantages {
            Verdict::Unconfirmed
        } else if !idx.is_empty() {
            Verdict::Acknowledged
        } else if o.severity != Health::Down && !p.include_degraded {
            Verdict::DegradedOnly
        } else if duration < p.min_duration_ms {
            // An open incident may still grow past the minimum.
            if o.end_ms.is_none() {
                Verdict::Pending
            } else {
                Verdict::TooShort
            }
        } else if p.now_ms < o.start_ms.saturating_add(p.grace_ms) {
            Verdict::Pending
        } else {
            Verdict::Unacknowledged
        };
        r.outcomes.push(Outcome {
            observed: o.id,
            verdict,
            matches: idx,
        });
    }
    for (di, d) in declared.iter().enumerate() {
        if declared_matched[di] || d.is_maintenance() {
            continue;
        }
        let on_watched = watched
            .iter()
            .any(|w| affects(&d.incident, w.names.borrowed()) && d.end_or(p.now_ms) >= w.since_ms);
        if on_watched {
            r.declared_not_observed.push(di);
        }
    }
    r
}

/// Percentiles of a set of durations, in seconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Spread {
    pub count: usize,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub max: Option<f64>,
}

impl Spread {
    /// Nearest-rank percentiles of `values_ms`.
    pub fn of(values_ms: &[i64]) -> Spread {
        let mut v = values_ms.to_vec();
        v.sort_unstable();
        let rank = |q: f64| -> Option<f64> {
            if v.is_empty() {
                return None;
            }
            let i = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
            Some(v[i] as f64 / 1000.0)
        };
        Spread {
            count: v.len(),
            p50: rank(0.5),
            p90: rank(0.9),
            max: v.last().map(|m| *m as f64 / 1000.0),
        }
    }
}

/// Total length of the union of `spans`, each clipped to `within`.
pub fn union_ms(spans: &mut [(i64, i64)], within: (i64, i64)) -> i64 {
    let mut clipped: Vec<(i64, i64)> = spans
        .iter()
        .map(|&(a, b)| (a.max(within.0), b.min(within.1)))
        .filter(|(a, b)| b > a)
        .collect();
    clipped.sort_unstable();
    let mut total = 0;
    let mut cur: Option<(i64, i64)> = None;
    for (a, b) in clipped {
        match cur {
            Some((ca, cb)) if a <= cb => cur = Some((ca, cb.max(b))),
            Some((ca, cb)) => {
                total += cb - ca;
                cur = Some((a, b));
            }
            None => cur = Some((a, b)),
        }
    }
    if let Some((a, b)) = cur {
        total += b - a;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn observed(id: i64, start: i64, end: Option<i64>) -> Observed {
        Observed {
            id,
            target: format!("t{id}"),
            names: Names {
                provider: Some("p".into()),
                service: Some("api".into()),
                region: Some("r1".into()),
            },
            start_ms: start,
            end_ms: end,
            severity: Health::Down,
            vantages: 1,
            integrity: false,
            corroborated_by: vec![],
        }
    }

    fn declared(key: &str, start: Option<i64>, published: i64, end: Option<i64>) -> Declared {
        Declared {
            key: key.into(),
            incident: ProviderIncident {
                provider: "p".into(),
                source: "f".into(),
                external_id: key.into(),
                title: key.into(),
                services: vec!["API".into()],
                regions: vec![],
                impact: Impact::Major,
                status: "resolved".into(),
                started_at_ms: start,
                published_at_ms: Some(published),
                updated_at_ms: None,
                resolved_at_ms: end,
                updates: vec![],
                url: None,
            },
            first_seen_ms: published + 1_000,
            removed_ms: None,
            changed_after_publication: false,
            first_started_at_ms: None,
            shortened_after_publication: false,
        }
    }

    const MIN: i64 = 60_000;

    #[test]
    fn verdicts() {
        let now = 1_000 * MIN;
        let p = Params::new(now);
        let obs = vec![
            observed(1, 100 * MIN, Some(160 * MIN)), // declared
            observed(2, 300 * MIN, Some(330 * MIN)), // nobody said anything
            observed(3, 400 * MIN, Some(403 * MIN)), // too short
            observed(4, 950 * MIN, None),            // open, within grace
            observed(5, 999 * MIN, None),            // open and short: may grow
        ];
        let mut unconfirmed = observed(6, 500 * MIN, Some(600 * MIN));
        unconfirmed.vantages = 1;
        let dec = vec![declared("d1", Some(110 * MIN), 130 * MIN, Some(150 * MIN))];
        let r = reconcile(&obs, &dec, &[], &p);
        let v: Vec<Verdict> = r.outcomes.iter().map(|o| o.verdict).collect();
        assert_eq!(
            v,
            [
                Verdict::Acknowledged,
                Verdict::Unacknowledged,
                Verdict::TooShort,
                Verdict::Pending,
                Verdict::Pending
            ]
        );
        let m = &r.matches[0];
        assert_eq!(m.detection_lead_ms, Some(10 * MIN));
        assert_eq!(m.disclosure_lag_ms, 30 * MIN, "published before first seen");
        assert_eq!(
            (m.observed_duration_ms, m.declared_duration_ms),
            (60 * MIN, Some(40 * MIN))
        );
        // With a quorum of two, a single vantage's sighting is unconfirmed.
        let r = reconcile(
            &[unconfirmed],
            &[],
            &[],
            &Params {
                min_vantages: 2,
                ..p
            },
        );
        assert_eq!(r.outcomes[0].verdict, Verdict::Unconfirmed);
    }

    #[test]
    fn tolerance_and_maintenance() {
        let now = 1_000 * MIN;
        let o = observed(1, 100 * MIN, Some(160 * MIN));
        let after = declared("late", Some(164 * MIN), 170 * MIN, Some(200 * MIN));
        assert!(matches(&o, &after, 5 * MIN, now), "4 minutes apart");
        assert!(!matches(&o, &after, 3 * MIN, now));
        let mut m = declared("m", Some(100 * MIN), 90 * MIN, Some(160 * MIN));
        m.incident.impact = Impact::Maintenance;
        assert!(!matches(&o, &m, 5 * MIN, now));
        let mut other = declared("o", Some(100 * MIN), 90 * MIN, Some(160 * MIN));
        other.incident.services = vec!["Console".into()];
        assert!(!matches(&o, &other, 5 * MIN, now));
    }

    #[test]
    fn lead_is_against_the_start_first_published() {
        // Down from minute 100; the provider first said 105, then edited it to 120.
        let o = observed(1, 100 * MIN, Some(160 * MIN));
        let mut d = declared("d", Some(120 * MIN), 110 * MIN, Some(160 * MIN));
        d.first_started_at_ms = Some(105 * MIN);
        let r = reconcile(&[o], &[d], &[], &Params::new(200 * MIN));
        let m = &r.matches[0];
        assert_eq!(m.detection_lead_ms, Some(5 * MIN), "as first published");
        assert_eq!(m.detection_lead_edited_ms, Some(20 * MIN), "as edited");
    }

    #[test]
    fn spreads_and_unions() {
        let s = Spread::of(&[3_000, -1_000, 2_000, 10_000]);
        assert_eq!(
            (s.count, s.p50, s.p90, s.max),
            (4, Some(2.0), Some(10.0), Some(10.0))
        );
        assert_eq!(Spread::of(&[]).p50, None);
        let mut spans = [(0, 10), (5, 20), (30, 40), (35, 36), (-10, -5)];
        assert_eq!(union_ms(&mut spans, (0, 38)), 20 + 8);
    }

    fn span() -> impl Strategy<Value = (i64, i64)> {
        (0i64..10_000, 0i64..2_000).prop_map(|(a, len)| (a * 1000, (a + len) * 1000))
    }

    proptest! {
        #[test]
        fn meeting_is_symmetric(a in span(), b in span(), tol in 0i64..600_000) {
            prop_assert_eq!(spans_meet(a, b, tol), spans_meet(b, a, tol));
        }

        #[test]
        fn nothing_matches_beyond_the_tolerance(a in span(), gap in 1i64..1_000_000, tol in 0i64..600_000) {
            let o = observed(1, a.0, Some(a.1));
            let start = a.1 + tol + gap;
            let d = declared("d", Some(start), start, Some(start + 60_000));
            prop_assert!(!matches(&o, &d, tol, i64::MAX / 2));
            // And just inside it, it does.
            let d = declared("d", Some(a.1 + tol), a.1 + tol, Some(a.1 + tol + 60_000));
            prop_assert!(matches(&o, &d, tol, i64::MAX / 2));
        }

        #[test]
        fn reordering_changes_nothing(
            obs in prop::collection::vec((span(), any::<bool>()), 1..8),
            dec in prop::collection::vec(span(), 0..8),
            seed in any::<u64>(),
        ) {
            let now = 20_000_000;
            let observed: Vec<Observed> = obs.iter().enumerate()
                .map(|(i, (s, open))| observed(i as i64, s.0, (!open).then_some(s.1)))
                .collect();
            let declared: Vec<Declared> = dec.iter().enumerate()
                .map(|(i, s)| declared(&format!("d{i}"), Some(s.0), s.0, Some(s.1)))
                .collect();
            let p = Params::new(now);
            let pairs = |o: &[Observed], d: &[Declared]| {
                let r = reconcile(o, d, &[], &p);
                let mut v: Vec<(i64, String)> = r.matches.iter()
                    .map(|m| (m.observed, d[m.declared].key.clone())).collect();
                v.sort();
                let mut verdicts: Vec<(i64, Verdict)> = r.outcomes.iter()
                    .map(|o| (o.observed, o.verdict)).collect();
                verdicts.sort_by_key(|x| x.0);
                (v, verdicts)
            };
            let before = pairs(&observed, &declared);
            // A deterministic shuffle from the seed.
            let mut o2 = observed.clone();
            let mut d2 = declared.clone();
            let mut x = seed | 1;
            for i in (1..o2.len()).rev() { x ^= x << 13; x ^= x >> 7; x ^= x << 17; o2.swap(i, (x % (i as u64 + 1)) as usize); }
            for i in (1..d2.len()).rev() { x ^= x << 13; x ^= x >> 7; x ^= x << 17; d2.swap(i, (x % (i as u64 + 1)) as usize); }
            prop_assert_eq!(before, pairs(&o2, &d2));
        }
    }
}
