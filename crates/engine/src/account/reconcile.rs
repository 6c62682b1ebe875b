//! The edge of reconciliation: reads observed incidents, declared incidents and measured
//! availability from the store, hands them to `probity_core::reconcile` as plain values,
//! and shapes the answers for the CLI, the API and the metrics.

use crate::store::{IncidentFilter, ProviderFilter, Store, StoreResult};
use probity_core::reconcile::{self, Declared, Names, Observed, Params, Reconciliation, Watched};
use probity_core::scorecard::{self, Measured, Scorecard};
use probity_ground::config::{ReconcileConfig, Target};
use probity_ground::time::Stamp;
use schemars::JsonSchema;
use serde::Serialize;
use std::collections::BTreeSet;

/// Everything reconciliation reads, gathered once.
pub struct Inputs {
    pub observed: Vec<Observed>,
    pub declared: Vec<Declared>,
    pub watched: Vec<Watched>,
    pub measured: Vec<Measured>,
    pub params: Params,
    pub window: (i64, i64),
    /// Each declaration's edits after publication, as of the window's end (by index).
    pub edits: Vec<Vec<crate::feeds::edits::Edit>>,
}

fn names_of(t: &Target) -> Names {
    let n = t.names();
    Names {
        provider: n.provider.map(str::to_string),
        service: n.service.map(str::to_string),
        region: n.region.map(str::to_string),
    }
}

pub fn params(c: &ReconcileConfig, now_ms: i64) -> Params {
    Params {
        tolerance_ms: c.tolerance.as_millis() as i64,
        min_duration_ms: c.min_duration.as_millis() as i64,
        grace_ms: c.grace.as_millis() as i64,
        min_vantages: c.min_vantages,
        include_degraded: c.include_degraded,
        min_organisations: c.min_organisations,
        now_ms,
    }
}

/// Reads what a window `[from, to)` needs, as it was known at `to` (or now, if that is
/// earlier): incidents that began before `to`, open at `to` if they resolved later;
/// each declaration as its latest revision seen before `to`; the minutes measured in the
/// window. So the figures of a window that has passed are the same whenever they are
/// computed. Observed incidents of every severity are read (a declaration matching a
/// degraded spell is matched); those of targets no longer configured are left out (their
/// names are unknown); declared incidents are read with the tolerance around the window so
/// that a match across its edge is still found.
pub fn gather(
    store: &dyn Store,
    targets: &[std::sync::Arc<Target>],
    c: &ReconcileConfig,
    window: (i64, i64),
    now_ms: i64,
) -> StoreResult<Inputs> {
    let since = store.first_measured()?;
    gather_with(
        store,
        targets,
        c,
        window,
        now_ms,
        &since,
        &mut |w, quorum| super::measured::read(store, w, quorum, window),
    )
}

/// [`gather`] for a server that reconciles every few seconds: what each target measured is
/// brought up to date in `cache` from the minutes `touched` since the last pass and those
/// that entered the window, not read whole; the inputs are the same.
pub fn gather_cached(
    store: &dyn Store,
    targets: &[std::sync::Arc<Target>],
    c: &ReconcileConfig,
    window: (i64, i64),
    now_ms: i64,
    cache: &mut super::measured::MeasuredCache,
    touched: &crate::live::Touches,
) -> StoreResult<Inputs> {
    let since = cache.first_measured(store, touched)?;
    let watched: std::collections::HashSet<&str> = targets
        .iter()
        .filter(|t| t.provider.is_some())
        .map(|t| t.name.as_str())
        .collect();
    cache.retain(&watched);
    gather_with(
        store,
        targets,
        c,
        window,
        now_ms,
        &since,
        &mut |w, quorum| cache.measured(store, w, quorum, window, touched),
    )
}

type Measure<'a> = dyn FnMut(&Watched, probity_core::quorum::Quorum) -> StoreResult<Measured> + 'a;

fn gather_with(
    store: &dyn Store,
    targets: &[std::sync::Arc<Target>],
    c: &ReconcileConfig,
    window: (i64, i64),
    now_ms: i64,
    since: &std::collections::HashMap<String, i64>,
    measure: &mut Measure<'_>,
) -> StoreResult<Inputs> {
    let as_of = now_ms.min(window.1);
    let params = params(c, as_of);
    let by_name: std::collections::HashMap<&str, &Target> = targets
        .iter()
        .map(|t| (t.name.as_str(), t.as_ref()))
        .collect();
    // How many vantages saw each incident failing when it opened (incidents from before
    // vantages, or seen by the server alone, count one).
    let seen_by = store.failing_vantage_counts()?;
    // An incident that escalated after `as_of` was still degraded then.
    let escalated = store.escalated_at()?;
    // Started before `as_of`, not resolved before the window: the store filters.
    let observed: Vec<Observed> = store
        .incidents(IncidentFilter::Overlapping {
            from_ms: window.0,
            until_ms: as_of,
        })?
        .into_iter()
        .filter_map(|i| {
            let t = by_name.get(i.target.as_str())?;
            Some(Observed {
                id: i.id,
                target: i.target,
                names: names_of(t),
                start_ms: i.started_at_ms,
                end_ms: i.resolved_at_ms.filter(|r| *r < as_of),
                severity: match escalated.get(&i.id) {
                    Some(at) if *at >= as_of => probity_core::result::Health::Degraded,
                    _ => i.severity,
                },
                vantages: seen_by.get(&i.id).copied().unwrap_or(1).max(1),
                integrity: i.cause.class.is_integrity(),
                corroborated_by: Vec::new(),
            })
        })
        .collect();
    // What peers stated, as received by `as_of`: the other organisations that saw each
    // incident's provider, service and region fail at overlapping times.
    let mut observed = observed;
    let statements = store.statements(window.0 - params.tolerance_ms, as_of)?;
    if !statements.is_empty() {
        let stated: Vec<&probity_core::federation::Statement> =
            statements.iter().map(|r| &r.statement).collect();
        for o in &mut observed {
            let Some(outage) = probity_core::federation::Outage::of(o) else {
                continue;
            };
            let by = probity_core::federation::corroborations(
                &outage,
                stated.iter().copied(),
                params.tolerance_ms,
                as_of,
            );
            o.corroborated_by = by;
        }
    }
    let mut rows = store.provider_incidents(&ProviderFilter {
        since_ms: Some(window.0 - params.tolerance_ms),
        until_ms: Some(window.1 + params.tolerance_ms),
        ..ProviderFilter::default()
    })?;
    crate::feeds::map_components(&c.components, &mut rows);
    let (declared, edits): (Vec<Declared>, Vec<Vec<crate::feeds::edits::Edit>>) = rows
        .into_iter()
        .filter_map(|p| as_known_at(p, as_of))
        .unzip();
    let watched: Vec<Watched> = targets
        .iter()
        .filter(|t| t.provider.is_some())
        .filter_map(|t| {
            Some(Watched {
                target: t.name.clone(),
                names: names_of(t),
                since_ms: *since.get(&t.name)?,
            })
        })
        .collect();
    // What each target measured in the window (minutes cut by a bound count only their
    // results inside it); several vantages make one minute by the target's quorum rule,
    // as in SLA accounting (the q-th worst vantage's minute).
    let mut measured = Vec::with_capacity(watched.len());
    for w in &watched {
        let quorum = by_name
            .get(w.target.as_str())
            .map_or(probity_core::quorum::Quorum::Count(1), |t| t.quorum);
        measured.push(measure(w, quorum)?);
    }
    Ok(Inputs {
        edits,
        observed,
        declared,
        watched,
        measured,
        params,
        window,
    })
}

/// A declaration as probity knew it at `as_of`: its latest revision seen before then,
/// removed if its latest sighting by then was its removal; `None` if first seen later.
fn as_known_at(
    p: crate::store::StoredProviderIncident,
    as_of: i64,
) -> Option<(Declared, Vec<crate::feeds::edits::Edit>)> {
    if p.first_seen_at_ms >= as_of {
        return None;
    }
    let known: Vec<&crate::store::ProviderRevision> = p
        .revisions
        .iter()
        .filter(|r| r.seen_at_ms < as_of)
        .collect();
    let (incident, removed_ms, changed) = match known.last() {
        // Stored without revisions: the latest version is all there is.
        None => (
            p.incident.clone(),
            p.removed_at_ms,
            p.changed_after_publication,
        ),
        Some(last) => (
            last.incident.clone(),
            (last.kind == "removed").then_some(last.seen_at_ms),
            known.iter().any(|r| r.changes.iter().any(|c| c.edit)),
        ),
    };
    let first_started_at_ms = known
        .first()
        .map_or(incident.started_at_ms, |r| r.incident.started_at_ms);
    let shortened = known.windows(2).any(|w| {
        w[1].changes.iter().any(|c| c.edit)
            && crate::feeds::edits::shortens(&w[0].incident, &w[1].incident)
    });
    let edits = crate::feeds::edits::edits(&known);
    Some((
        Declared {
            key: format!("{}/{}", p.feed, p.incident.external_id),
            incident,
            first_seen_ms: p.first_seen_at_ms,
            removed_ms,
            changed_after_publication: changed,
            first_started_at_ms,
            shortened_after_publication: shortened,
        },
        edits,
    ))
}

impl Inputs {
    pub fn reconcile(&self) -> Reconciliation {
        reconcile::reconcile(&self.observed, &self.declared, &self.watched, &self.params)
    }

    /// The providers with watched targets, sorted.
    pub fn providers(&self) -> Vec<String> {
        let set: BTreeSet<String> = self
            .watched
            .iter()
            .filter_map(|w| w.names.provider.clone())
            .collect();
        set.into_iter().collect()
    }

    /// Each provider's scorecard, with one per service of its targets.
    pub fn scorecards(
        &self,
        rec: &Reconciliation,
        only: Option<&str>,
    ) -> Vec<(Scorecard, Vec<Scorecard>)> {
        self.providers()
            .into_iter()
            .filter(|p| {
                only.is_none_or(|o| probity_core::names::slug(o) == probity_core::names::slug(p))
            })
            .map(|p| {
                let card = |service: Option<&str>| {
                    scorecard::scorecard(
                        &p,
                        service,
                        self.window,
                        &self.observed,
                        &self.declared,
                        &self.measured,
                        rec,
                        self.params.tolerance_ms,
                        self.params.min_organisations,
                    )
                };
                let services: BTreeSet<String> = self
                    .watched
                    .iter()
                    .filter(|w| w.names.provider.as_deref() == Some(p.as_str()))
                    .filter_map(|w| w.names.service.clone())
                    .collect();
                let per_service = services.iter().map(|s| card(Some(s))).collect();
                (card(None), per_service)
            })
            .collect()
    }
}

fn round(v: Option<f64>, digits: i32) -> Option<f64> {
    let f = 10f64.powi(digits);
    v.map(|x| (x * f).round() / f)
}

/// One scorecard as the API, the CLI's `--json` and the dashboard show it.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct ScorecardView {
    pub provider: String,
    pub service: Option<String>,
    /// The window as the user wrote it.
    pub window: String,
    pub window_start: Stamp,
    pub window_end: Stamp,
    pub targets: usize,
    pub measured_availability: Option<f64>,
    pub declared_availability: Option<f64>,
    pub observed_incidents: usize,
    pub acknowledged_incidents: usize,
    pub unacknowledged_incidents: usize,
    pub pending_incidents: usize,
    pub observed_downtime_s: f64,
    pub unacknowledged_downtime_s: f64,
    /// Observed incidents of data lost, changed or served stale by object storage.
    pub integrity_incidents: usize,
    /// Of those, the ones the provider never declared.
    pub integrity_unacknowledged: usize,
    /// Observed incidents that `[federation] min_organisations` organisations saw (this
    /// one included), by their signed statements.
    pub corroborated_incidents: usize,
    /// Of those, the ones the provider never declared.
    pub corroborated_unacknowledged: usize,
    pub acknowledgment_rate: Option<f64>,
    pub disclosure_lag_s: reconcile::Spread,
    pub detection_lead_s: reconcile::Spread,
    pub declared_incidents: usize,
    /// Every declaration of the provider in the window that nothing observed matched, with
    /// why.
    pub declared_not_observed: Vec<NotObservedView>,
    pub changed_after_publication: usize,
    /// Of those, edited to read shorter (a start moved later, an end earlier).
    pub shortened_after_publication: usize,
    /// The accuracy part, one term per incident: `1 − mean(error)`.
    pub accuracy_terms: Vec<AccuracyTermView>,
    pub grade: String,
    pub score: Option<f64>,
    pub grade_parts: Option<scorecard::GradeParts>,
    /// A provider's card: one card per service it has (absent on a service's own card).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub services: Option<Vec<ScorecardView>>,
}

/// A declaration nothing observed matched.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct NotObservedView {
    /// `feed/id`.
    pub provider_incident: String,
    pub title: String,
    pub declared_start: Stamp,
    pub declared_end: Option<Stamp>,
    pub services: Vec<String>,
    pub regions: Vec<String>,
    /// `not_watched` (no target has a service and region it names), `unmeasured` (its
    /// targets were not measured during it), `failing_below_threshold` (they failed during
    /// it, too few times in a row for an incident) or `up_throughout` (measured, and no
    /// result failed).
    pub why: probity_core::scorecard::Why,
    /// The targets it names.
    pub targets: Vec<String>,
    /// How much of it those targets were measured, seconds.
    pub measured_s: f64,
}

/// One incident's part in the accuracy.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct AccuracyTermView {
    /// `matched`, `overstated`, `understated`, `unacknowledged` or `declared_not_observed`.
    pub term: probity_core::scorecard::Term,
    pub observed_incident: Option<i64>,
    pub observed_severity: Option<&'static str>,
    pub provider_incidents: Vec<String>,
    pub observed_s: f64,
    pub declared_s: f64,
    /// 0 (told exactly) to 1 (not told, or told of nothing).
    pub error: f64,
}

/// The view of one scorecard; `window` as the user wrote it.
pub fn scorecard_json(c: &Scorecard, window: &str) -> ScorecardView {
    ScorecardView {
        provider: c.provider.clone(),
        service: c.service.clone(),
        window: window.to_string(),
        window_start: Stamp::ms(c.window_start_ms),
        window_end: Stamp::ms(c.window_end_ms),
        targets: c.targets,
        measured_availability: round(c.measured_availability, 6),
        declared_availability: round(c.declared_availability, 6),
        observed_incidents: c.observed_incidents,
        acknowledged_incidents: c.acknowledged_incidents,
        unacknowledged_incidents: c.unacknowledged_incidents,
        pending_incidents: c.pending_incidents,
        observed_downtime_s: c.observed_downtime_s,
        unacknowledged_downtime_s: c.unacknowledged_downtime_s,
        integrity_incidents: c.integrity_incidents,
        integrity_unacknowledged: c.integrity_unacknowledged,
        corroborated_incidents: c.corroborated_incidents,
        corroborated_unacknowledged: c.corroborated_unacknowledged,
        acknowledgment_rate: round(c.acknowledgment_rate, 4),
        disclosure_lag_s: c.disclosure_lag_s.clone(),
        detection_lead_s: c.detection_lead_s.clone(),
        declared_incidents: c.declared_incidents,
        declared_not_observed: c
            .declared_not_observed
            .iter()
            .map(|n| NotObservedView {
                provider_incident: n.key.clone(),
                title: n.title.clone(),
                declared_start: Stamp::ms(n.start_ms),
                declared_end: Stamp::opt(n.end_ms),
                services: n.services.clone(),
                regions: n.regions.clone(),
                why: n.why,
                targets: n.targets.clone(),
                measured_s: n.measured_s,
            })
            .collect(),
        changed_after_publication: c.changed_after_publication,
        shortened_after_publication: c.shortened_after_publication,
        accuracy_terms: c
            .accuracy_terms
            .iter()
            .map(|t| AccuracyTermView {
                term: t.term,
                observed_incident: t.observed,
                observed_severity: t.observed_severity.map(|h| h.as_str()),
                provider_incidents: t.declared.clone(),
                observed_s: t.observed_s,
                declared_s: t.declared_s,
                error: round(Some(t.error), 6).unwrap_or(0.0),
            })
            .collect(),
        grade: c.grade.clone(),
        score: c.score,
        grade_parts: c.grade_parts.clone(),
        services: None,
    }
}

/// A provider's scorecard with its services' nested.
pub fn provider_json(card: &Scorecard, services: &[Scorecard], window: &str) -> ScorecardView {
    ScorecardView {
        services: Some(services.iter().map(|s| scorecard_json(s, window)).collect()),
        ..scorecard_json(card, window)
    }
}

/// What reconciliation says of one observed incident.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct IncidentReconciliation {
    /// `acknowledged`, `unacknowledged`, `pending`, … or `not_reconciled` when the
    /// incident is outside what reconciliation read.
    pub acknowledgment: String,
    pub declarations: Vec<DeclarationView>,
    /// How many organisations saw it fail: this one, and each peer whose signed statement
    /// tells of the same provider, service and region at overlapping times.
    pub organisations: u32,
    /// Those peers' logs (origins).
    pub corroborated_by: Vec<String>,
}

/// A declaration that covers an observed incident, with the lags.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct DeclarationView {
    pub provider: String,
    pub feed: Option<String>,
    pub external_id: String,
    pub title: String,
    pub impact: probity_core::provider::Impact,
    pub status: String,
    pub url: Option<String>,
    /// The start as stated now.
    pub started_at: Option<Stamp>,
    /// The start as first published (the lead is measured against it).
    pub first_published_start: Option<Stamp>,
    pub first_disclosed_at: Stamp,
    pub resolved_at: Option<Stamp>,
    pub changed_after_publication: bool,
    /// An edit moved its start later or its end earlier.
    pub shortened_after_publication: bool,
    /// The start as first published minus the observed start.
    pub detection_lead_s: Option<f64>,
    /// The start as stated now minus the observed start.
    pub detection_lead_edited_s: Option<f64>,
    /// What the provider changed after publishing, each with before, after and when seen.
    pub edits: Vec<crate::feeds::edits::Edit>,
    pub disclosure_lag_s: f64,
    pub observed_duration_s: f64,
    pub declared_duration_s: Option<f64>,
    pub observed_severity: String,
    pub updates: Vec<crate::feeds::DeclaredUpdate>,
}

/// What reconciliation says about one observed incident: its verdict and every matching
/// declaration with the lags.
pub fn incident_json(inputs: &Inputs, rec: &Reconciliation, id: i64) -> IncidentReconciliation {
    let Some((observed, outcome)) = inputs
        .observed
        .iter()
        .zip(&rec.outcomes)
        .find(|(o, _)| o.id == id)
    else {
        return IncidentReconciliation {
            acknowledgment: "not_reconciled".into(),
            declarations: Vec::new(),
            organisations: 1,
            corroborated_by: Vec::new(),
        };
    };
    let declarations = outcome
        .matches
        .iter()
        .map(|&i| {
            let m = &rec.matches[i];
            let d = &inputs.declared[m.declared];
            DeclarationView {
                provider: d.incident.provider.clone(),
                feed: d.key.split_once('/').map(|(f, _)| f.to_string()),
                external_id: d.incident.external_id.clone(),
                title: d.incident.title.clone(),
                impact: d.incident.impact,
                status: d.incident.status.clone(),
                url: d.incident.url.clone(),
                started_at: Stamp::opt(d.incident.started_at_ms),
                first_published_start: Stamp::opt(d.first_start()),
                first_disclosed_at: Stamp::ms(d.disclosed_ms()),
                resolved_at: Stamp::opt(d.incident.resolved_at_ms),
                changed_after_publication: d.changed_after_publication,
                shortened_after_publication: d.shortened_after_publication,
                detection_lead_s: m.detection_lead_ms.map(|v| v as f64 / 1000.0),
                detection_lead_edited_s: m.detection_lead_edited_ms.map(|v| v as f64 / 1000.0),
                edits: inputs.edits.get(m.declared).cloned().unwrap_or_default(),
                disclosure_lag_s: m.disclosure_lag_ms as f64 / 1000.0,
                observed_duration_s: m.observed_duration_ms as f64 / 1000.0,
                declared_duration_s: m.declared_duration_ms.map(|v| v as f64 / 1000.0),
                observed_severity: m.observed_severity.as_str().to_string(),
                updates: crate::feeds::incident_json(&d.incident).updates,
            }
        })
        .collect();
    IncidentReconciliation {
        acknowledgment: outcome.verdict.as_str().to_string(),
        declarations,
        organisations: observed.organisations(),
        corroborated_by: observed.corroborated_by.clone(),
    }
}
