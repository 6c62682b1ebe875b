//! `[[sla]]`, `[[slo]]` and `[reconcile]`: what is accounted against what.

use super::common::*;
use super::sla_catalog;
use super::target::*;
use probity_core::condition::closest;
use probity_core::duration::HumanDuration;
use serde::Deserialize;
use toml::Spanned;

/// A service level objective (`[[slo]]`).
#[derive(Clone, Debug, PartialEq)]
pub struct SloConfig {
    pub name: String,
    pub targets: Vec<String>,
    /// A fraction: 99.9% is 0.999.
    pub objective: f64,
    pub window: HumanDuration,
    pub sli: probity_core::slo::Sli,
    pub alerts: Vec<probity_core::slo::BurnAlert>,
}

/// An SLA to account (`[[sla]]`): terms, and the targets that measure the service.
#[derive(Clone, Debug)]
pub struct SlaConfig {
    pub name: String,
    pub terms: probity_core::sla::Terms,
    /// Target names, resolved from `targets` and the selectors.
    pub targets: Vec<String>,
    /// The monthly bill for the covered service, to state the credit as money.
    pub monthly_bill: Option<f64>,
    pub currency: String,
    /// Maintenance windows to leave out of the formula, Unix ms.
    pub maintenance: Vec<(i64, i64)>,
    /// Whether the `[[maintenance]]` windows on these targets are left out too (the terms
    /// in force decide: most exclude announced maintenance).
    pub exclude_maintenance: bool,
}

/// How observed incidents are set against declared ones (`[reconcile]`).
#[derive(Clone, Debug)]
pub struct ReconcileConfig {
    /// How far apart an observed and a declared span may be and still match.
    pub tolerance: HumanDuration,
    /// Observed incidents shorter than this are not held against a provider.
    pub min_duration: HumanDuration,
    /// How long a provider has to declare an incident before it is unacknowledged.
    pub grace: HumanDuration,
    /// Vantage points that must have seen an incident for it to count.
    pub min_vantages: u32,
    /// Whether degraded incidents (slow, wrong content) count, or only outages.
    pub include_degraded: bool,
    /// Each feed's `[feed.components]`, applied to what it declares before matching.
    pub components: std::sync::Arc<probity_core::provider::ComponentMaps>,
    /// How many organisations, this one included, make an outage corroborated
    /// (`[federation] min_organisations`).
    pub min_organisations: u32,
}

impl Default for ReconcileConfig {
    fn default() -> Self {
        ReconcileConfig {
            tolerance: HumanDuration::from_secs(300),
            min_duration: HumanDuration::from_secs(300),
            grace: HumanDuration::from_secs(7200),
            min_vantages: 1,
            include_degraded: false,
            components: Default::default(),
            min_organisations: 2,
        }
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Sla")]
pub(super) struct SlaToml {
    #[schemars(with = "String")]
    pub(super) name: Spanned<String>,
    #[schemars(with = "Option<String>")]
    pub(super) terms: Option<Spanned<String>>,
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub(super) targets: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) tags: Vec<String>,
    pub(super) provider: Option<String>,
    pub(super) service: Option<String>,
    pub(super) region: Option<String>,
    #[schemars(with = "Option<String>")]
    pub(super) combine: Option<Spanned<String>>,
    #[schemars(with = "Option<f64>")]
    pub(super) monthly_bill: Option<Spanned<f64>>,
    pub(super) currency: Option<String>,
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub(super) maintenance: Vec<Spanned<String>>,
    pub(super) exclude_maintenance: Option<bool>,
    pub(super) commitment: Option<f64>,
    #[schemars(with = "Option<Vec<TierSchema>>")]
    pub(super) tiers: Option<Vec<probity_core::sla::Tier>>,
    #[schemars(with = "Option<String>")]
    pub(super) basis: Option<Spanned<String>>,
    pub(super) interval_minutes: Option<u32>,
    pub(super) claim_months_after: Option<u32>,
    pub(super) claim_days_after: Option<u32>,
    pub(super) credit_cap: Option<f64>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Slo")]
pub(super) struct SloToml {
    #[schemars(with = "String")]
    pub(super) name: Spanned<String>,
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub(super) targets: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) tags: Vec<String>,
    pub(super) provider: Option<String>,
    pub(super) service: Option<String>,
    pub(super) region: Option<String>,
    #[schemars(with = "f64")]
    pub(super) objective: Spanned<f64>,
    #[schemars(with = "Option<DurationSchema>")]
    pub(super) window: Option<HumanDuration>,
    #[schemars(with = "Option<String>")]
    pub(super) sli: Option<Spanned<String>>,
    #[schemars(with = "Option<DurationSchema>")]
    pub(super) threshold: Option<Spanned<HumanDuration>>,
    pub(super) alerts: Option<Vec<AlertToml>>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "BurnRateAlert")]
pub(super) struct AlertToml {
    pub(super) severity: String,
    pub(super) factor: f64,
    #[schemars(with = "DurationSchema")]
    pub(super) long: HumanDuration,
    #[schemars(with = "DurationSchema")]
    pub(super) short: HumanDuration,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Reconcile")]
pub(super) struct ReconcileToml {
    #[schemars(with = "Option<DurationSchema>")]
    pub(super) tolerance: Option<HumanDuration>,
    #[schemars(with = "Option<DurationSchema>")]
    pub(super) min_duration: Option<HumanDuration>,
    #[schemars(with = "Option<DurationSchema>")]
    pub(super) grace: Option<HumanDuration>,
    #[schemars(with = "Option<u32>")]
    pub(super) min_vantages: Option<Spanned<u32>>,
    pub(super) include_degraded: Option<bool>,
}

pub(super) fn build_slo(
    ck: &mut Checker<'_>,
    raw: SloToml,
    targets: &[Target],
) -> Option<SloConfig> {
    use probity_core::slo::{BurnAlert, Sli, default_alerts};
    let before = ck.problems.len();
    let name = raw.name.get_ref().clone();
    let ctx = format!("slo `{name}`");
    let objective = *raw.objective.get_ref();
    if !(objective > 0.0 && objective < 100.0) {
        ck.at(
            raw.objective.span(),
            format!("{ctx}: `objective` is a percentage below 100, such as 99.9"),
        );
    }
    let sli = match raw.sli.as_ref().map(|s| s.get_ref().as_str()) {
        None | Some("availability") => Sli::Availability,
        Some("latency") => match &raw.threshold {
            Some(t) => Sli::Latency {
                threshold_ms: t.get_ref().as_millis() as f64,
            },
            None => {
                ck.at(
                    raw.name.span(),
                    format!("{ctx}: a latency SLO needs a `threshold`, such as \"500ms\""),
                );
                Sli::Availability
            }
        },
        Some(other) => {
            ck.at(
                raw.sli.as_ref().expect("matched Some").span(),
                format!("{ctx}: `sli` is `availability` or `latency`, not `{other}`"),
            );
            Sli::Availability
        }
    };
    let alerts = match raw.alerts {
        None => default_alerts(),
        Some(list) => list
            .into_iter()
            .map(|a| BurnAlert {
                severity: a.severity,
                factor: a.factor,
                long_ms: a.long.as_millis() as i64,
                short_ms: a.short.as_millis() as i64,
            })
            .collect(),
    };
    let chosen = select_required_targets(
        ck,
        &ctx,
        Selectors {
            names: &raw.targets,
            tags: &raw.tags,
            provider: raw.provider.as_ref(),
            service: raw.service.as_ref(),
            region: raw.region.as_ref(),
        },
        targets,
        raw.name.span(),
        ck.problems.len() != before,
    );
    (ck.problems.len() == before).then(|| SloConfig {
        name,
        targets: chosen,
        objective: objective / 100.0,
        window: raw.window.unwrap_or(HumanDuration::from_secs(30 * 86_400)),
        sli,
        alerts,
    })
}

pub(super) fn build_sla(
    ck: &mut Checker<'_>,
    raw: SlaToml,
    targets: &[Target],
) -> Option<SlaConfig> {
    use probity_core::sla::{Basis, Combine, Terms};
    let before = ck.problems.len();
    let name = raw.name.get_ref().clone();
    let ctx = format!("sla `{name}`");
    let custom = raw.commitment.is_some() || raw.tiers.is_some() || raw.basis.is_some();
    let mut terms = match &raw.terms {
        Some(id) => {
            let catalog = sla_catalog::catalog();
            match catalog.iter().find(|t| &t.id == id.get_ref()) {
                Some(t) => t.clone(),
                None => {
                    let ids: Vec<&str> = catalog.iter().map(|t| t.id.as_str()).collect();
                    let hint = closest(id.get_ref(), &ids)
                        .map(|k| format!("; did you mean `{k}`?"))
                        .unwrap_or_else(|| format!(" (the catalog has {})", ids.join(", ")));
                    ck.at(
                        id.span(),
                        format!("{ctx}: no terms `{}` in the catalog{hint}", id.get_ref()),
                    );
                    return None;
                }
            }
        }
        None if custom => Terms {
            id: format!("custom:{name}"),
            name: name.clone(),
            provider: raw.provider.clone().unwrap_or_default(),
            url: String::new(),
            read_on: String::new(),
            verified: true,
            commitment: 0.0,
            tiers: Vec::new(),
            basis: Basis::Connectivity,
            interval_minutes: 1,
            combine: Combine::All,
            claim_months_after: None,
            claim_days_after: None,
            credit_cap: None,
            downtime: String::new(),
            exclusions: String::new(),
            claim: String::new(),
        },
        None => {
            ck.at(
                raw.name.span(),
                format!(
                    "{ctx}: name catalog `terms` (such as `aws-ec2-region`), or write your own with `commitment`, `tiers` and `basis`"
                ),
            );
            return None;
        }
    };
    // Any field written here overrides the catalog's.
    if let Some(c) = raw.commitment {
        terms.commitment = c;
    }
    if let Some(t) = raw.tiers {
        terms.tiers = t;
    }
    if let Some(b) = &raw.basis {
        terms.basis = match b.get_ref().as_str() {
            "connectivity" => Basis::Connectivity,
            "error_rate" => Basis::ErrorRate,
            other => {
                ck.at(
                    b.span(),
                    format!("{ctx}: `basis` is `connectivity` or `error_rate`, not `{other}`"),
                );
                Basis::Connectivity
            }
        };
    }
    if let Some(i) = raw.interval_minutes {
        terms.interval_minutes = i;
    }
    if raw.claim_months_after.is_some() || raw.claim_days_after.is_some() {
        terms.claim_months_after = raw.claim_months_after;
        terms.claim_days_after = raw.claim_days_after;
    }
    if let Some(c) = raw.credit_cap {
        terms.credit_cap = Some(c);
    }
    if let Some(c) = &raw.combine {
        terms.combine = match c.get_ref().as_str() {
            "all" => Combine::All,
            "any" => Combine::Any,
            other => {
                ck.at(
                    c.span(),
                    format!("{ctx}: `combine` is `all` or `any`, not `{other}`"),
                );
                Combine::All
            }
        };
    }
    if let Err(e) = terms.check() {
        ck.at(raw.name.span(), format!("{ctx}: {e}"));
    }
    let chosen = select_required_targets(
        ck,
        &ctx,
        Selectors {
            names: &raw.targets,
            tags: &raw.tags,
            provider: raw.provider.as_ref(),
            service: raw.service.as_ref(),
            region: raw.region.as_ref(),
        },
        targets,
        raw.name.span(),
        ck.problems.len() != before,
    );
    let mut maintenance = Vec::new();
    for m in &raw.maintenance {
        let parsed = m.get_ref().split_once('/').and_then(|(a, b)| {
            Some((
                a.trim().parse::<jiff::Timestamp>().ok()?.as_millisecond(),
                b.trim().parse::<jiff::Timestamp>().ok()?.as_millisecond(),
            ))
        });
        match parsed {
            Some((a, b)) if b > a => maintenance.push((a, b)),
            _ => ck.at(
                m.span(),
                format!(
                    "{ctx}: a maintenance window is `START/END` in RFC 3339, such as `2026-11-03T02:00:00Z/2026-11-03T04:00:00Z`"
                ),
            ),
        }
    }
    if let Some(b) = &raw.monthly_bill
        && *b.get_ref() < 0.0
    {
        ck.at(
            b.span(),
            format!("{ctx}: `monthly_bill` must not be negative"),
        );
    }
    (ck.problems.len() == before).then(|| SlaConfig {
        name,
        terms,
        targets: chosen,
        monthly_bill: raw.monthly_bill.map(Spanned::into_inner),
        currency: raw.currency.unwrap_or_else(|| "USD".into()),
        maintenance,
        exclude_maintenance: raw.exclude_maintenance.unwrap_or(true),
    })
}

impl NamedTable for SlaToml {
    fn name(&self) -> &Spanned<String> {
        &self.name
    }
}

impl NamedTable for SloToml {
    fn name(&self) -> &Spanned<String> {
        &self.name
    }
}
