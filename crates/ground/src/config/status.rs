//! `[status]`, `[[component]]` and `[[maintenance]]`: the public status page and declared maintenance.

use super::common::*;
use super::target::{Selectors, select_required_targets, select_targets};
use probity_core::duration::HumanDuration;
use serde::Deserialize;
use toml::Spanned;

/// The public status page (`[status]` and `[[component]]`).
#[derive(Clone, Debug, Default)]
pub struct StatusConfig {
    pub title: String,
    pub components: Vec<Component>,
    /// Post an incident on the page when an observed one opens on a component's target,
    /// and resolve it when that resolves.
    pub auto_incidents: bool,
    /// Serve public badges for targets too (components always have them).
    pub target_badges: bool,
}

/// A component of the status page: its state is the worst of its targets'.
#[derive(Clone, Debug)]
pub struct Component {
    pub name: String,
    pub description: String,
    pub targets: Vec<String>,
}

/// A maintenance window (`[[maintenance]]`): alerts on its targets are silenced while it
/// is on, incidents show it, and SLA accounting leaves it out where the terms allow.
#[derive(Clone, Debug)]
pub struct MaintenanceConfig {
    pub name: String,
    pub window: probity_core::maintenance::Window,
    pub targets: Vec<String>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Component")]
pub(super) struct ComponentToml {
    #[schemars(with = "String")]
    pub(super) name: Spanned<String>,
    pub(super) description: Option<String>,
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub(super) targets: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) tags: Vec<String>,
    pub(super) provider: Option<String>,
    pub(super) service: Option<String>,
    pub(super) region: Option<String>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Status")]
pub(super) struct StatusToml {
    pub(super) title: Option<String>,
    pub(super) auto_incidents: Option<bool>,
    pub(super) target_badges: Option<bool>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Maintenance")]
pub(super) struct MaintenanceToml {
    #[schemars(with = "String")]
    pub(super) name: Spanned<String>,
    #[schemars(with = "String")]
    pub(super) start: Spanned<String>,
    #[schemars(with = "Option<String>")]
    pub(super) end: Option<Spanned<String>>,
    #[schemars(with = "Option<DurationSchema>")]
    pub(super) duration: Option<Spanned<HumanDuration>>,
    #[schemars(with = "Option<DurationSchema>")]
    pub(super) every: Option<Spanned<HumanDuration>>,
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub(super) targets: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) tags: Vec<String>,
    pub(super) provider: Option<String>,
    pub(super) service: Option<String>,
    pub(super) region: Option<String>,
}

/// Reads every `[[component]]`: a name of its own, and the targets it stands for.
pub(super) fn read_components(
    ck: &mut Checker<'_>,
    tables: Vec<Spanned<toml::de::DeTable<'_>>>,
    targets: &[super::Target],
) -> Vec<Component> {
    let mut components = Vec::new();
    let mut component_names = Names::new("component");
    for table in tables {
        let Some(raw) = read_table::<ComponentToml>(ck, table, "[[component]]") else {
            continue;
        };
        let ctx = format!("component `{}`", raw.name.get_ref());
        let unique = component_names.claim(ck, raw.name.get_ref(), raw.name.span());
        let chosen = select_targets(
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
        );
        if unique {
            components.push(Component {
                name: raw.name.into_inner(),
                description: raw.description.unwrap_or_default(),
                targets: chosen,
            });
        }
    }
    components
}

/// Reads every `[[maintenance]]`: when it starts, how long, how often, and on what.
pub(super) fn read_maintenance(
    ck: &mut Checker<'_>,
    tables: Vec<Spanned<toml::de::DeTable<'_>>>,
    targets: &[super::Target],
) -> Vec<MaintenanceConfig> {
    let mut maintenance = Vec::new();
    for table in tables {
        let Some(raw) = read_table::<MaintenanceToml>(ck, table, "[[maintenance]]") else {
            continue;
        };
        let before = ck.problems.len();
        let ctx = format!("maintenance `{}`", raw.name.get_ref());
        let time = |ck: &mut Checker<'_>, v: &Spanned<String>| match v
            .get_ref()
            .parse::<jiff::Timestamp>()
        {
            Ok(t) => Some(t.as_millisecond()),
            Err(_) => {
                ck.at(
                    v.span(),
                    format!(
                        "{ctx}: `{}` is not an RFC 3339 time such as 2026-11-29T02:00:00Z",
                        v.get_ref()
                    ),
                );
                None
            }
        };
        let start = time(ck, &raw.start);
        let duration = match (&raw.end, &raw.duration) {
            (Some(e), None) => time(ck, e).zip(start).map(|(e, s)| e - s),
            (None, Some(d)) => Some(d.get_ref().as_millis() as i64),
            _ => {
                ck.at(
                    raw.name.span(),
                    format!("{ctx}: give either `end` or `duration`"),
                );
                None
            }
        };
        if let Some(d) = duration
            && d <= 0
        {
            ck.at(
                raw.name.span(),
                format!("{ctx}: it must end after it starts"),
            );
        }
        let every = raw.every.as_ref().map(|e| e.get_ref().as_millis() as i64);
        if let (Some(e), Some(d), Some(span)) =
            (every, duration, raw.every.as_ref().map(|e| e.span()))
            && e <= d
        {
            ck.at(
                span,
                format!("{ctx}: `every` must be longer than the window"),
            );
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
        if ck.problems.len() == before
            && let (Some(start_ms), Some(duration_ms)) = (start, duration)
        {
            maintenance.push(MaintenanceConfig {
                name: raw.name.into_inner(),
                window: probity_core::maintenance::Window {
                    start_ms,
                    duration_ms,
                    every_ms: every,
                },
                targets: chosen,
            });
        }
    }
    maintenance
}
