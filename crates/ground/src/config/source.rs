//! `[[source]]`: other tools' measurements read into probity.

use super::common::*;
use probity_core::duration::HumanDuration;
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

/// Where results measured by someone else come from (`[[source]]`).
#[derive(Clone, Debug)]
pub struct SourceConfig {
    /// Also the vantage its results are recorded under.
    pub name: String,
    /// `prometheus`: a Prometheus server's HTTP query API, holding blackbox_exporter's series.
    pub kind: String,
    /// The server's base URL, secrets expanded: never print it.
    pub url: String,
    /// The URL as written.
    pub display: String,
    pub interval: HumanDuration,
    pub timeout: HumanDuration,
    /// Only series of this `job`.
    pub job: Option<String>,
    /// Each probity target (`kind = "external"`) and the `instance` label of its series.
    pub targets: Vec<(String, String)>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Source")]
pub(super) struct SourceToml {
    /// The source's name; its results are recorded under this vantage name.
    #[schemars(with = "String")]
    pub(super) name: Spanned<String>,
    /// prometheus: read blackbox_exporter's series from a Prometheus server.
    #[schemars(with = "String", extend("enum" = ["prometheus"]))]
    pub(super) kind: Spanned<String>,
    /// The Prometheus server's base URL, e.g. http://prometheus:9090.
    #[schemars(with = "String")]
    pub(super) url: Spanned<String>,
    /// How often to read. Default 30s.
    #[schemars(with = "Option<DurationSchema>")]
    pub(super) interval: Option<Spanned<HumanDuration>>,
    /// How long one read may take. Default 10s.
    #[schemars(with = "Option<DurationSchema>")]
    pub(super) timeout: Option<Spanned<HumanDuration>>,
    /// Only series with this job label.
    pub(super) job: Option<String>,
    /// Each probity target (kind = "external") and the instance label of its series.
    #[schemars(with = "BTreeMap<String, String>")]
    pub(super) targets: Spanned<BTreeMap<String, String>>,
}
