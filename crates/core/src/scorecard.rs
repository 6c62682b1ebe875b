//! The trust scorecard of a provider (or one of its services) over a window `[from, to)`:
//! a pure function of the reconciliation, the targets' measurements and the window's
//! bounds, so the same stored data gives the same card whenever and wherever it is
//! computed.
//!
//! - **Unmeasured on both sides.** Declared availability counts the provider's declared
//!   downtime only over the minutes probity measured, and divides by those minutes: time no
//!   one measured says nothing either way, so a stopped probity neither dilutes nor inflates
//!   what the provider declared.
//! - **Accuracy per incident** ([`AccuracyTerm`]): each counted observed incident, and each
//!   declaration that was watched, measured and not observed, is one term with an error from
//!   0 to 1; accuracy is 1 − their mean. An error on one side (a phantom declaration) can
//!   never cancel one on the other (an undeclared outage).
//! - **Declared, not observed** ([`NotObserved`]): every declaration no observed incident
//!   matched, each with why (`not_watched`, `unmeasured`, `up_throughout`).

use crate::names::{affects, same_service, slug};
use crate::reconcile::{
    Declared, Names, Observed, Reconciliation, Spread, Verdict, Watched, spans_meet, union_ms,
};
use crate::result::Health;
use serde::Serialize;

const MINUTE: i64 = 60_000;

/// A target's measurements over the window.
#[derive(Clone, Debug, PartialEq)]
pub struct Measured {
    pub watched: Watched,
    /// The share of its measured results that were not down, or `None` when nothing was
    /// measured.
    pub availability: Option<f64>,
    /// The starts of the minutes in which it has counted results, ascending: outside them
    /// it was unmeasured.
    pub minutes: Vec<i64>,
    /// Of those, the minutes with at least one result down, ascending: failures probity
    /// saw even where they stayed below the threshold that opens an incident.
    pub failing_minutes: Vec<i64>,
}

impl Measured {
    /// How much of `span` falls in measured minutes.
    pub fn measured_within(&self, span: (i64, i64)) -> i64 {
        let first = self.minutes.partition_point(|&m| m + MINUTE <= span.0);
        self.minutes[first..]
            .iter()
            .take_while(|&&m| m < span.1)
            .map(|&m| ((m + MINUTE).min(span.1) - m.max(span.0)).max(0))
            .sum()
    }

    /// Whether any minute of `span` had a result down.
    pub fn failing_within(&self, span: (i64, i64)) -> bool {
        let first = self
            .failing_minutes
            .partition_point(|&m| m + MINUTE <= span.0);
        self.failing_minutes.get(first).is_some_and(|&m| m < span.1)
    }

    /// How much of the union of `spans` (clipped to `within`) falls in measured minutes.
    pub fn measured_in_union(&self, spans: &[(i64, i64)], within: (i64, i64)) -> i64 {
        merge(spans, within)
            .into_iter()
            .map(|s| self.measured_within(s))
            .sum()
    }
}

/// `spans` clipped to `within`, merged where they overlap, in order.
fn merge(spans: &[(i64, i64)], within: (i64, i64)) -> Vec<(i64, i64)> {
    let mut v: Vec<(i64, i64)> = spans
        .iter()
        .map(|&(a, b)| (a.max(within.0), b.min(within.1)))
        .filter(|(a, b)| b > a)
        .collect();
    v.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::new();
    for (a, b) in v {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// The parts of the grade, each from 0 (worst) to 1 (best).
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct GradeParts {
    /// The acknowledgment rate (1 when there was nothing to acknowledge).
    pub acknowledgment: f64,
    /// 1 − p90 disclosure lag / 1 h, clamped (1 when nothing was disclosed late).
    pub timeliness: f64,
    /// 1 − the mean error of the accuracy terms (1 when there are none): how well the
    /// status page told each incident, one incident at a time.
    pub accuracy: f64,
    /// 1 − the share of declared incidents changed after publication.
    pub integrity: f64,
}

/// The weights of [`GradeParts`] in the score.
pub const GRADE_WEIGHTS: [(&str, f64); 4] = [
    ("acknowledgment", 0.5),
    ("timeliness", 0.2),
    ("accuracy", 0.2),
    ("integrity", 0.1),
];

/// The trust grade: `score` = 100 × (0.5 acknowledgment + 0.2 timeliness + 0.2 accuracy +
/// 0.1 integrity), rounded to two decimals; A ≥ 90, B ≥ 80, C ≥ 70, D ≥ 60, else F.
pub fn grade(parts: &GradeParts) -> (f64, &'static str) {
    let raw = 100.0
        * (GRADE_WEIGHTS[0].1 * parts.acknowledgment
            + GRADE_WEIGHTS[1].1 * parts.timeliness
            + GRADE_WEIGHTS[2].1 * parts.accuracy
            + GRADE_WEIGHTS[3].1 * parts.integrity);
    // Two decimals, so that 80 is 80 and not 79.99999999999999 by the order of additions.
    let score = (raw * 100.0).round() / 100.0;
    let letter = match score {
        s if s >= 90.0 => "A",
        s if s >= 80.0 => "B",
        s if s >= 70.0 => "C",
        s if s >= 60.0 => "D",
        _ => "F",
    };
    (score, letter)
}

/// What one accuracy term is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Term {
    /// Declared, with a duration within the tolerance of the observed one.
    Matched,
    /// Declared longer than observed.
    Overstated,
    /// Declared shorter than observed.
    Understated,
    /// Observed and never declared.
    Unacknowledged,
    /// Declared on a watched, measured target on which nothing was observed.
    DeclaredNotObserved,
}

/// One incident's part in the accuracy: its error from 0 (told exactly) to 1 (not told,
/// or told of nothing).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AccuracyTerm {
    pub term: Term,
    /// The observed incident's id (none for a declaration not observed).
    pub observed: Option<i64>,
    /// The observed incident's severity (`down` or `degraded`).
    pub observed_severity: Option<Health>,
    /// The declarations' keys (`feed/id`).
    pub declared: Vec<String>,
    /// The observed duration within the window, in seconds.
    pub observed_s: f64,
    /// The declared duration (the union of the matching declarations) within the window.
    pub declared_s: f64,
    /// Matched, over- or understated: max(0, |declared − observed| − tolerance) ÷
    /// max(declared, observed). Unacknowledged and declared-not-observed: 1.
    pub error: f64,
}

/// Why a declaration was not observed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Why {
    /// No target of the provider has a service and region it names.
    NotWatched,
    /// Targets it names were watched, but none was measured during it.
    Unmeasured,
    /// Targets it names failed during it, fewer times in a row than opens an incident:
    /// observed, below the threshold. Not held against the provider.
    FailingBelowThreshold,
    /// Targets it names were measured during it and no result failed.
    UpThroughout,
}

impl Why {
    pub fn as_str(self) -> &'static str {
        match self {
            Why::NotWatched => "not_watched",
            Why::Unmeasured => "unmeasured",
            Why::FailingBelowThreshold => "failing_below_threshold",
            Why::UpThroughout => "up_throughout",
        }
    }
}

/// A declaration in the window that no observed incident matched.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NotObserved {
    /// `feed/id`.
    pub key: String,
    pub title: String,
    pub start_ms: i64,
    pub end_ms: Option<i64>,
    pub services: Vec<String>,
    pub regions: Vec<String>,
    pub why: Why,
    /// The targets it names (empty when not watched).
    pub targets: Vec<String>,
    /// How much of it those targets were measured, in seconds.
    pub measured_s: f64,
}

/// A provider's (or one of its services') record over a window.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Scorecard {
    pub provider: String,
    /// `None`: every service of the provider.
    pub service: Option<String>,
    pub window_start_ms: i64,
    pub window_end_ms: i64,
    pub targets: usize,
    /// Mean over the provider's targets of the share of results that were not down.
    pub measured_availability: Option<f64>,
    /// Mean over the same targets of 1 − (declared downtime within their measured minutes)
    /// ÷ (their measured minutes); maintenance excluded.
    pub declared_availability: Option<f64>,
    /// Observed incidents that count (acknowledged or unacknowledged).
    pub observed_incidents: usize,
    pub acknowledged_incidents: usize,
    pub unacknowledged_incidents: usize,
    pub pending_incidents: usize,
    pub observed_downtime_s: f64,
    pub unacknowledged_downtime_s: f64,
    /// Observed incidents (that count) whose cause is an object-storage integrity failure:
    /// data lost, changed or served stale.
    pub integrity_incidents: usize,
    /// Of those, the ones no declaration of the provider matched.
    pub integrity_unacknowledged: usize,
    /// Observed incidents (that count) at least `min_organisations` organisations saw,
    /// this one included, by their signed statements.
    pub corroborated_incidents: usize,
    /// Of those, the ones the provider never declared.
    pub corroborated_unacknowledged: usize,
    /// The share of observed downtime covered by a declaration.
    pub acknowledgment_rate: Option<f64>,
    /// Per acknowledged incident, its earliest disclosure after the observed start.
    pub disclosure_lag_s: Spread,
    /// Per acknowledged incident with a stated start, how much later the provider says it
    /// began than it did.
    pub detection_lead_s: Spread,
    /// Declared incidents (maintenance excluded) that affect the provider's watched targets.
    pub declared_incidents: usize,
    /// Every declaration of the provider in the window that nothing observed matched.
    pub declared_not_observed: Vec<NotObserved>,
    pub changed_after_publication: usize,
    /// Of those, how many were edited to read shorter (a start moved later, an end
    /// earlier): counted apart from other edits.
    pub shortened_after_publication: usize,
    /// The terms of [`GradeParts::accuracy`].
    pub accuracy_terms: Vec<AccuracyTerm>,
    pub grade: String,
    pub score: Option<f64>,
    pub grade_parts: Option<GradeParts>,
}

/// The scorecard of `provider` (and `service`, matched through the name tables, if given)
/// over `window` `[from, to)`, from a reconciliation of `observed` against `declared` and
/// the targets' measurements. `tolerance_ms`: durations this close count as told exactly;
/// `min_organisations`: how many organisations (this one included) make an incident
/// corroborated.
#[allow(clippy::too_many_arguments)]
pub fn scorecard(
    provider: &str,
    service: Option<&str>,
    window: (i64, i64),
    observed: &[Observed],
    declared: &[Declared],
    measured: &[Measured],
    rec: &Reconciliation,
    tolerance_ms: i64,
    min_organisations: u32,
) -> Scorecard {
    let of_provider = |n: &Names| {
        n.provider
            .as_deref()
            .is_some_and(|p| slug(p) == slug(provider))
            && service.is_none_or(|s| n.service.as_deref().is_some_and(|x| same_service(x, s)))
    };
    let targets: Vec<&Measured> = measured
        .iter()
        .filter(|m| of_provider(&m.watched.names))
        .collect();
    let mean = |v: Vec<f64>| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    let measured_availability = mean(targets.iter().filter_map(|m| m.availability).collect());
    // Declared downtime per target, over the minutes it was measured.
    let declared_availability = mean(
        targets
            .iter()
            .filter(|m| m.availability.is_some())
            .filter_map(|m| {
                let total = m.measured_within(window);
                if total == 0 {
                    return None;
                }
                let spans: Vec<(i64, i64)> = declared
                    .iter()
                    .filter(|d| {
                        !d.is_maintenance() && affects(&d.incident, m.watched.names.borrowed())
                    })
                    .map(|d| (d.start_ms(), d.end_or(window.1)))
                    .collect();
                let down = m.measured_in_union(&spans, window);
                Some(1.0 - down as f64 / total as f64)
            })
            .collect(),
    );

    let clip = |a: i64, b: i64| (b.min(window.1) - a.max(window.0)).max(0);
    let mut s = Scorecard {
        provider: provider.to_string(),
        service: service.map(str::to_string),
        window_start_ms: window.0,
        window_end_ms: window.1,
        targets: targets.len(),
        measured_availability,
        declared_availability,
        observed_incidents: 0,
        acknowledged_incidents: 0,
        unacknowledged_incidents: 0,
        pending_incidents: 0,
        observed_downtime_s: 0.0,
        unacknowledged_downtime_s: 0.0,
        integrity_incidents: 0,
        integrity_unacknowledged: 0,
        corroborated_incidents: 0,
        corroborated_unacknowledged: 0,
        acknowledgment_rate: None,
        disclosure_lag_s: Spread::default(),
        detection_lead_s: Spread::default(),
        declared_incidents: 0,
        declared_not_observed: Vec::new(),
        changed_after_publication: 0,
        shortened_after_publication: 0,
        accuracy_terms: Vec::new(),
        grade: "n/a".into(),
        score: None,
        grade_parts: None,
    };
    let (mut observed_ms, mut acknowledged_ms, mut unack_ms) = (0i64, 0i64, 0i64);
    let (mut lags, mut leads) = (Vec::new(), Vec::new());
    for (o, out) in observed.iter().zip(&rec.outcomes) {
        let end = o.end_or(window.1);
        if !of_provider(&o.names) || !spans_meet((o.start_ms, end), window, 0) || end <= window.0 {
            continue;
        }
        if out.verdict == Verdict::Pending {
            s.pending_incidents += 1;
        }
        if !out.verdict.counts() {
            continue;
        }
        let d = clip(o.start_ms, end);
        s.observed_incidents += 1;
        observed_ms += d;
        if o.organisations() >= min_organisations.max(2) {
            s.corroborated_incidents += 1;
            if out.verdict != Verdict::Acknowledged {
                s.corroborated_unacknowledged += 1;
            }
        }
        if o.integrity {
            s.integrity_incidents += 1;
            if out.verdict != Verdict::Acknowledged {
                s.integrity_unacknowledged += 1;
            }
        }
        if out.verdict == Verdict::Acknowledged {
            s.acknowledged_incidents += 1;
            acknowledged_ms += d;
            let ms: Vec<&crate::reconcile::Match> =
                out.matches.iter().map(|&i| &rec.matches[i]).collect();
            if let Some(lag) = ms.iter().map(|m| m.disclosure_lag_ms).min() {
                lags.push(lag);
            }
            if let Some(lead) = ms.iter().filter_map(|m| m.detection_lead_ms).min() {
                leads.push(lead);
            }
            // How the declarations told it: their union against what was observed.
            let mut spans: Vec<(i64, i64)> = ms
                .iter()
                .map(|m| {
                    let x = &declared[m.declared];
                    (x.start_ms(), x.end_or(window.1))
                })
                .collect();
            let told = union_ms(&mut spans, window);
            let diff = (told - d).abs();
            let (term, error) = if diff <= tolerance_ms {
                (Term::Matched, 0.0)
            } else {
                (
                    if told > d {
                        Term::Overstated
                    } else {
                        Term::Understated
                    },
                    (diff - tolerance_ms) as f64 / told.max(d).max(1) as f64,
                )
            };
            let mut keys: Vec<String> = ms
                .iter()
                .map(|m| declared[m.declared].key.clone())
                .collect();
            keys.sort();
            keys.dedup();
            s.accuracy_terms.push(AccuracyTerm {
                term,
                observed: Some(o.id),
                observed_severity: Some(o.severity),
                declared: keys,
                observed_s: d as f64 / 1000.0,
                declared_s: told as f64 / 1000.0,
                error,
            });
        } else {
            s.unacknowledged_incidents += 1;
            unack_ms += d;
            s.accuracy_terms.push(AccuracyTerm {
                term: Term::Unacknowledged,
                observed: Some(o.id),
                observed_severity: Some(o.severity),
                declared: Vec::new(),
                observed_s: d as f64 / 1000.0,
                declared_s: 0.0,
                error: 1.0,
            });
        }
    }
    s.observed_downtime_s = observed_ms as f64 / 1000.0;
    s.unacknowledged_downtime_s = unack_ms as f64 / 1000.0;
    s.acknowledgment_rate = (observed_ms > 0).then(|| acknowledged_ms as f64 / observed_ms as f64);
    s.disclosure_lag_s = Spread::of(&lags);
    s.detection_lead_s = Spread::of(&leads);

    let matched: std::collections::HashSet<usize> =
        rec.matches.iter().map(|m| m.declared).collect();
    for (di, d) in declared.iter().enumerate() {
        let span = (d.start_ms(), d.end_or(window.1));
        let ours = !d.is_maintenance()
            && slug(&d.incident.provider) == slug(provider)
            && service.is_none_or(|x| {
                d.incident.services.iter().any(|y| {
                    same_service(x, y)
                        || crate::names::component_parts(y).is_some_and(|(s, _)| same_service(x, s))
                })
            })
            && spans_meet(span, window, 0)
            && span.1 > window.0
            && span.0 < window.1;
        if !ours {
            continue;
        }
        let on: Vec<&&Measured> = targets
            .iter()
            .filter(|m| affects(&d.incident, m.watched.names.borrowed()))
            .collect();
        if !on.is_empty() {
            s.declared_incidents += 1;
            if d.changed_after_publication {
                s.changed_after_publication += 1;
            }
            if d.shortened_after_publication {
                s.shortened_after_publication += 1;
            }
        }
        if matched.contains(&di) {
            continue;
        }
        let clipped = (span.0.max(window.0), span.1.min(window.1));
        let measured_ms: i64 = on
            .iter()
            .map(|m| m.measured_within(clipped))
            .max()
            .unwrap_or(0);
        let why = if on.is_empty() {
            Why::NotWatched
        } else if measured_ms == 0 {
            Why::Unmeasured
        } else if on.iter().any(|m| m.failing_within(clipped)) {
            Why::FailingBelowThreshold
        } else {
            Why::UpThroughout
        };
        if why == Why::UpThroughout {
            s.accuracy_terms.push(AccuracyTerm {
                term: Term::DeclaredNotObserved,
                observed: None,
                observed_severity: None,
                declared: vec![d.key.clone()],
                observed_s: 0.0,
                declared_s: (clipped.1 - clipped.0) as f64 / 1000.0,
                error: 1.0,
            });
        }
        s.declared_not_observed.push(NotObserved {
            key: d.key.clone(),
            title: d.incident.title.clone(),
            start_ms: d.start_ms(),
            end_ms: d.incident.resolved_at_ms.or(d.removed_ms),
            services: d.incident.services.clone(),
            regions: d.incident.regions.clone(),
            why,
            targets: on.iter().map(|m| m.watched.target.clone()).collect(),
            measured_s: measured_ms as f64 / 1000.0,
        });
    }

    if measured_availability.is_some() || s.declared_incidents > 0 {
        let accuracy = if s.accuracy_terms.is_empty() {
            1.0
        } else {
            1.0 - s.accuracy_terms.iter().map(|t| t.error).sum::<f64>()
                / s.accuracy_terms.len() as f64
        };
        let parts = GradeParts {
            acknowledgment: s.acknowledgment_rate.unwrap_or(1.0),
            timeliness: s
                .disclosure_lag_s
                .p90
                .map_or(1.0, |p| (1.0 - p.max(0.0) / 3600.0).clamp(0.0, 1.0)),
            accuracy,
            integrity: if s.declared_incidents == 0 {
                1.0
            } else {
                1.0 - s.changed_after_publication as f64 / s.declared_incidents as f64
            },
        };
        let (score, letter) = grade(&parts);
        s.score = Some(score);
        s.grade = letter.into();
        s.grade_parts = Some(parts);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(minutes: &[i64]) -> Measured {
        Measured {
            watched: Watched {
                target: "t".into(),
                names: Names::default(),
                since_ms: 0,
            },
            availability: Some(1.0),
            minutes: minutes.iter().map(|m| m * MINUTE).collect(),
            failing_minutes: Vec::new(),
        }
    }

    #[test]
    fn measured_time_is_counted_minute_by_minute() {
        let m = measured(&[0, 1, 2, 10]);
        assert_eq!(m.measured_within((0, 100 * MINUTE)), 4 * MINUTE);
        assert_eq!(
            m.measured_within((MINUTE / 2, 2 * MINUTE)),
            MINUTE + MINUTE / 2
        );
        assert_eq!(m.measured_within((3 * MINUTE, 10 * MINUTE)), 0);
        let mut f = m.clone();
        f.failing_minutes = vec![2 * MINUTE];
        assert!(f.failing_within((2 * MINUTE + 1, 3 * MINUTE)));
        assert!(!f.failing_within((3 * MINUTE, 10 * MINUTE)));
        assert!(!f.failing_within((0, 2 * MINUTE)));
        // Overlapping spans count once.
        assert_eq!(
            m.measured_in_union(&[(0, 2 * MINUTE), (MINUTE, 11 * MINUTE)], (0, 5 * MINUTE)),
            3 * MINUTE
        );
    }

    #[test]
    fn grade_boundaries() {
        let parts = GradeParts {
            acknowledgment: 1.0,
            timeliness: 0.0,
            accuracy: 1.0,
            integrity: 1.0,
        };
        assert_eq!(grade(&parts), (80.0, "B"));
        let perfect = GradeParts {
            timeliness: 1.0,
            ..parts
        };
        assert_eq!(grade(&perfect), (100.0, "A"));
        let none = GradeParts {
            acknowledgment: 0.0,
            timeliness: 0.0,
            accuracy: 0.0,
            integrity: 0.0,
        };
        assert_eq!(grade(&none), (0.0, "F"));
    }
}
