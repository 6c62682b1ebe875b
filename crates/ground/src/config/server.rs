//! `[server]`, `[evidence]` and `[telemetry]`: where probity listens and stores, how long it keeps what, and what it exports.

use super::common::*;
use probity_core::duration::HumanDuration;
use serde::Deserialize;
use std::path::PathBuf;
use toml::Spanned;

/// OpenTelemetry export (`[telemetry]`).
#[derive(Clone, Debug)]
pub struct TelemetryConfig {
    /// The OTLP/HTTP endpoint (`/v1/traces` and `/v1/metrics` are appended); none: off.
    pub otlp_endpoint: Option<String>,
    pub service_name: String,
    pub metrics_interval: HumanDuration,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            otlp_endpoint: None,
            service_name: "probity".into(),
            metrics_interval: HumanDuration::from_secs(60),
        }
    }
}

#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub listen: String,
    pub data_dir: PathBuf,
    pub raw_retention: HumanDuration,
    pub rollup_retention: HumanDuration,
    pub max_concurrency: usize,
    /// The bearer token the API's write paths require (secret; `None`: writes refused).
    pub api_token: Option<String>,
    /// How many vantages must see a target fail before an incident opens (a target's own
    /// `quorum` overrides it).
    pub quorum: probity_core::quorum::Quorum,
    /// An agent whose clock is further off than this has its results' times corrected
    /// (and the correction recorded with each result).
    pub max_clock_offset: HumanDuration,
}

/// The evidence log's settings.
#[derive(Clone, Debug)]
pub struct EvidenceConfig {
    /// The log's name in checkpoints and its key's name.
    pub origin: String,
    pub checkpoint_interval: HumanDuration,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Server")]
pub(super) struct ServerToml {
    /// Address of the API and /metrics (127.0.0.1:0 takes a free port). Default 127.0.0.1:8080.
    pub(super) listen: Option<String>,
    /// Where the SQLite store lives, relative to this file. Default probity-data.
    pub(super) data_dir: Option<String>,
    /// How long raw results are kept. Default 30d.
    #[schemars(with = "Option<DurationSchema>")]
    pub(super) raw_retention: Option<HumanDuration>,
    /// How long per-minute rollups are kept. Default 400d.
    #[schemars(with = "Option<DurationSchema>")]
    pub(super) rollup_retention: Option<HumanDuration>,
    /// Most probes running at once. Default 2048.
    pub(super) max_concurrency: Option<usize>,
    /// The bearer token the write endpoints require (at least 16 characters; use ${env:…} or ${file:…}).
    #[schemars(with = "Option<String>")]
    pub(super) api_token: Option<Spanned<String>>,
    /// How many vantages must see a target fail before an incident opens: a number or "majority". Default 1.
    #[schemars(with = "Option<QuorumToml>")]
    pub(super) quorum: Option<Spanned<QuorumToml>>,
    /// Agents whose clocks are further off have their results' times corrected. Default 2s.
    #[schemars(with = "Option<DurationSchema>")]
    pub(super) max_clock_offset: Option<HumanDuration>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Telemetry")]
pub(super) struct TelemetryToml {
    /// The OTLP/HTTP endpoint of a collector, e.g. http://127.0.0.1:4318 (traces go to
    /// /v1/traces, metrics to /v1/metrics). Not set: nothing is exported.
    #[schemars(with = "Option<String>")]
    pub(super) otlp_endpoint: Option<Spanned<String>>,
    /// The service.name of what is exported. Default probity.
    pub(super) service_name: Option<String>,
    /// How often metrics are exported. Default 60s.
    #[schemars(with = "Option<DurationSchema>")]
    pub(super) metrics_interval: Option<Spanned<HumanDuration>>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Evidence")]
pub(super) struct EvidenceToml {
    #[schemars(with = "Option<String>")]
    pub(super) origin: Option<Spanned<String>>,
    #[schemars(with = "Option<DurationSchema>")]
    pub(super) checkpoint_interval: Option<Spanned<HumanDuration>>,
}
