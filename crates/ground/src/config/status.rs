//! `[status]`, `[[component]]` and `[[maintenance]]`: the public status page and declared maintenance.

use super::common::*;
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
