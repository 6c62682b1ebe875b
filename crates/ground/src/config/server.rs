//! `[server]`, `[evidence]` and `[telemetry]`: where probity listens and stores, how long it keeps what, and what it exports.

use super::common::*;
use probity_core::duration::HumanDuration;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use toml::Spanned;
use toml::de::DeTable;

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

/// The evidence log's settings.
#[derive(Clone, Debug)]
pub struct EvidenceConfig {
    /// The log's name in checkpoints and its key's name.
    pub origin: String,
    pub checkpoint_interval: HumanDuration,
}

// The table is read straight into this type, so a key is one field here: its doc line
// (the schema's description), its default and its type. What a type cannot say (the secret
// behind `api_token`, the quorum rule, `data_dir` relative to the file) is finished by
// `ServerConfig::read`.
/// `[server]`: where probity listens and stores, and how long it keeps what.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Server")]
pub struct ServerConfig {
    /// Address of the API and /metrics (127.0.0.1:0 takes a free port). Default 127.0.0.1:8080.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Where the SQLite store lives, relative to this file. Default probity-data.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// How long raw results are kept as rows (compacted results stay: they are the evidence log's records). Default 30d.
    #[serde(default = "days::<30>")]
    #[schemars(with = "DurationSchema")]
    pub raw_retention: HumanDuration,
    /// Results move into compact chunks (a dozen bytes each) once the evidence leaf that recorded them is this old (SQLite). Default 2h.
    #[serde(default = "secs::<7200>")]
    #[schemars(with = "DurationSchema")]
    pub compact_after: HumanDuration,
    /// How long per-minute rollups are kept. Default 400d.
    #[serde(default = "days::<400>")]
    #[schemars(with = "DurationSchema")]
    pub rollup_retention: HumanDuration,
    /// Most probes running at once. Default 2048.
    #[serde(default = "count::<2048>")]
    pub max_concurrency: usize,
    /// The bearer token the write endpoints require (at least 16 characters; use ${env:…} or ${file:…}).
    #[serde(default, rename = "api_token")]
    #[schemars(with = "Option<String>")]
    api_token_written: Option<Spanned<String>>,
    /// The bearer token the API's write paths require, its secret expanded (`None`: writes
    /// refused). Never print it.
    #[serde(skip)]
    pub api_token: Option<String>,
    /// How many vantages must see a target fail before an incident opens: a number or "majority". Default 1.
    #[serde(default, rename = "quorum")]
    #[schemars(with = "Option<QuorumToml>")]
    quorum_written: Option<Spanned<QuorumToml>>,
    /// The quorum rule (a target's own `quorum` overrides it).
    #[serde(skip)]
    pub quorum: probity_core::quorum::Quorum,
    /// An agent's results older than this are refused: they would rewrite settled history. Default 7d.
    #[serde(default = "days::<7>")]
    #[schemars(with = "DurationSchema")]
    pub max_push_age: HumanDuration,
    /// Agents whose clocks are further off have their results' times corrected. Default 2s.
    #[serde(default = "secs::<2>")]
    #[schemars(with = "DurationSchema")]
    pub max_clock_offset: HumanDuration,
    /// Most inbound connections at once; more wait their turn. Default a quarter of the open-files limit (16 to 1024), so the rest stay for probes.
    #[serde(default)]
    pub max_connections: Option<usize>,
    /// An inbound connection that sends no complete request head within this (new, or idle between requests) is closed. Default 30s.
    #[serde(default = "secs::<30>")]
    #[schemars(with = "DurationSchema")]
    pub idle_timeout: HumanDuration,
    /// This server's name among the servers that share one PostgreSQL store (letters, digits, '.', '_', '-'; at most 64). Default the host name.
    #[serde(default, rename = "name")]
    #[schemars(with = "Option<String>")]
    name_written: Option<Spanned<String>>,
    /// This server's name, `name` or the host name.
    #[serde(skip)]
    pub name: String,
    /// The URL the other servers and people reach this server's API at, shown in /api/v1/cluster. Default http:// and `listen`.
    #[serde(default, rename = "advertise")]
    #[schemars(with = "Option<String>")]
    advertise_written: Option<Spanned<String>>,
    /// `advertise`, checked.
    #[serde(skip)]
    pub advertise: Option<String>,
}

/// The host's name, or `probity` when it cannot be read.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| valid_server_name(h))
        .unwrap_or_else(|| "probity".into())
}

/// Whether `name` may name a server: 1 to 64 of letters, digits, '.', '_' and '-'.
pub fn valid_server_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}

fn default_data_dir() -> PathBuf {
    "probity-data".into()
}

fn secs<const N: u64>() -> HumanDuration {
    HumanDuration::from_secs(N)
}

fn days<const N: u64>() -> HumanDuration {
    HumanDuration::from_secs(N * 86_400)
}

fn count<const N: usize>() -> usize {
    N
}

impl ServerConfig {
    /// Reads `[server]` (every default when it is absent) and finishes what its type cannot
    /// say; problems go to `ck`.
    pub(super) fn read(
        ck: &mut Checker<'_>,
        table: Option<Spanned<DeTable<'_>>>,
        base_dir: &Path,
    ) -> ServerConfig {
        let mut server = table
            .and_then(|t| read_table::<ServerConfig>(ck, t, "[server]"))
            .unwrap_or_else(|| toml::from_str("").expect("every [server] key has a default"));
        server.data_dir = base_dir.join(&server.data_dir);
        server.max_concurrency = server.max_concurrency.max(1);
        server.name = match &server.name_written {
            Some(n) if valid_server_name(n.get_ref()) => n.get_ref().clone(),
            Some(n) => {
                ck.at(
                    n.span(),
                    "[server] `name` must be 1 to 64 letters, digits, '.', '_' or '-'",
                );
                host_name()
            }
            None => host_name(),
        };
        if let Some(a) = &server.advertise_written {
            if a.get_ref().starts_with("http://") || a.get_ref().starts_with("https://") {
                server.advertise = Some(a.get_ref().trim_end_matches('/').to_string());
            } else {
                ck.at(
                    a.span(),
                    "[server] `advertise` must be an http:// or https:// URL",
                );
            }
        }
        if let Some(q) = &server.quorum_written
            && let Some(q) = QuorumToml::read(ck, q, "[server]")
        {
            server.quorum = q;
        }
        if let Some(t) = &server.api_token_written {
            match expand_secrets(t.get_ref(), base_dir) {
                Ok(v) if v.len() >= 16 => server.api_token = Some(v),
                Ok(_) => ck.at(
                    t.span(),
                    "[server] `api_token` must be at least 16 characters",
                ),
                Err(e) => ck.at(t.span(), format!("[server] {e}")),
            }
        }
        server
    }
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
