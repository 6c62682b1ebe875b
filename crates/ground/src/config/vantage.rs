//! `[[vantage]]` and the quorum rule: who probes what, and how many must agree.

use serde::Deserialize;
use toml::Spanned;

/// A vantage point (`[[vantage]]`): where probes run. `local` is the server itself; any
/// other name is a `probity agent` holding a token made for that name.
#[derive(Clone, Debug)]
pub struct VantageConfig {
    pub name: String,
    pub region: Option<String>,
    /// The targets it probes (its controls come on top).
    pub targets: Vec<String>,
    /// Targets it also probes to judge its own reachability: when every one of them fails,
    /// its failing results are `unmeasured`.
    pub controls: Vec<String>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Vantage")]
pub(super) struct VantageToml {
    /// The vantage's name: local (the server) or an agent's.
    #[schemars(with = "String")]
    pub(super) name: Spanned<String>,
    /// Where it is.
    pub(super) region: Option<String>,
    /// Targets it probes, by name (none of targets, tags, provider, service: every probed target).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub(super) targets: Vec<Spanned<String>>,
    /// Probe the targets with all of these tags.
    #[serde(default)]
    pub(super) tags: Vec<String>,
    /// Probe the targets of this provider.
    pub(super) provider: Option<String>,
    /// Probe the targets of this service.
    pub(super) service: Option<String>,
    /// Targets it also probes to judge its own network: when all fail, its failures are unmeasured.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub(super) controls: Vec<Spanned<String>>,
}
