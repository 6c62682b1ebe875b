//! The configuration file: one TOML document with `[server]` and one `[[target]]` per thing
//! to watch. Loading checks everything and reports every problem it finds, each as
//! `FILE:LINE:COL: message`, instead of stopping at the first.
//!
//! Strings that carry secrets may reference `${env:NAME}` or `${file:PATH}`; the expanded
//! values live only in the probe specs, which are never printed or logged.

use crate::spec::{DnsSpec, HttpSpec, IpVersion, ProbeSpec, TcpSpec, TlsOptions, TlsSpec};
use probity_core::condition::{Condition, closest};
use probity_core::duration::HumanDuration;
use probity_core::observe::Thresholds;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// The default configuration file, in the current directory.
pub mod feed_format;
pub mod sla_catalog;

pub const DEFAULT_PATH: &str = "probity.toml";

/// A loaded, checked configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub path: PathBuf,
    pub server: ServerConfig,
    pub evidence: EvidenceConfig,
    pub targets: Vec<Target>,
    pub feeds: Vec<Feed>,
    pub reconcile: ReconcileConfig,
    pub slas: Vec<SlaConfig>,
    pub slos: Vec<SloConfig>,
    pub channels: Vec<Channel>,
    pub alerts: Vec<AlertRule>,
    pub alerting: AlertingConfig,
    pub maintenance: Vec<MaintenanceConfig>,
    pub status: StatusConfig,
    /// Declared vantage points (`[[vantage]]`); agents not declared probe every target.
    pub vantages: Vec<VantageConfig>,
    pub telemetry: TelemetryConfig,
    /// Results measured by other tools (`[[source]]`).
    pub sources: Vec<SourceConfig>,
}

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

impl Config {
    /// The maintenance windows on `target` that are on at `at_ms`.
    pub fn maintenance_at(&self, target: &str, at_ms: i64) -> Vec<&MaintenanceConfig> {
        self.maintenance
            .iter()
            .filter(|m| m.targets.iter().any(|t| t == target) && m.window.active_at(at_ms))
            .collect()
    }
}

/// Where alerts go (`[[channel]]`). Secrets are expanded here: never print a channel.
#[derive(Clone, Debug)]
pub struct Channel {
    pub name: String,
    pub kind: ChannelKind,
}

#[derive(Clone, Debug)]
pub enum ChannelKind {
    /// JSON body, signed with HMAC-SHA256 of the body when a secret is set.
    Webhook { url: String, secret: Option<String> },
    /// A Slack incoming webhook.
    Slack { url: String },
    /// PagerDuty Events API v2.
    PagerDuty { routing_key: String, url: String },
    /// Email over SMTP.
    Email(EmailChannel),
}

/// An SMTP relay and the addresses to write to.
#[derive(Clone, Debug)]
pub struct EmailChannel {
    pub smtp_host: String,
    pub smtp_port: u16,
    pub from: String,
    pub to: Vec<String>,
    pub username: Option<String>,
    /// Secret: never print it.
    pub password: Option<String>,
    /// `starttls` (required), `tls` (implicit, port 465) or `none` (a relay on loopback).
    pub tls: String,
}

impl ChannelKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            ChannelKind::Webhook { .. } => "webhook",
            ChannelKind::Slack { .. } => "slack",
            ChannelKind::PagerDuty { .. } => "pagerduty",
            ChannelKind::Email(_) => "email",
        }
    }
}

/// What alerts on what (`[[alert]]`).
#[derive(Clone, Debug)]
pub struct AlertRule {
    pub name: String,
    pub on: Vec<String>,
    pub targets: Vec<String>,
    pub providers: Vec<String>,
    pub services: Vec<String>,
    pub regions: Vec<String>,
    pub tags: Vec<String>,
    pub channels: Vec<String>,
    /// Unacknowledged this long after it opened, an incident goes to `escalate_to` too.
    pub escalate_after: Option<HumanDuration>,
    pub escalate_to: Vec<String>,
    /// While open and unacknowledged, a reminder this often.
    pub remind_every: Option<HumanDuration>,
    /// For `cert_expiry`: alert when a certificate expires within this (default 14d).
    pub cert_expiry_within: HumanDuration,
}

impl AlertRule {
    /// Whether the rule covers `t`: every selector given matches (empty ones match all).
    pub fn selects(&self, t: &Target) -> bool {
        let any = |list: &[String], v: Option<&String>| {
            list.is_empty() || v.is_some_and(|v| list.contains(v))
        };
        any(&self.targets, Some(&t.name))
            && any(&self.providers, t.provider.as_ref())
            && any(&self.services, t.service.as_ref())
            && any(&self.regions, t.region.as_ref())
            && (self.tags.is_empty() || self.tags.iter().any(|g| t.tags.contains(g)))
    }
}

/// Delivery settings (`[alerting]`).
#[derive(Clone, Debug)]
pub struct AlertingConfig {
    /// The longest wait between two delivery attempts.
    pub max_backoff: HumanDuration,
    /// The address people reach the API at, for links in messages.
    pub public_url: Option<String>,
}

impl Default for AlertingConfig {
    fn default() -> Self {
        AlertingConfig {
            max_backoff: HumanDuration::from_secs(300),
            public_url: None,
        }
    }
}

/// The events `[[alert]] on` accepts.
pub const ALERT_EVENTS: &[&str] = &[
    "incident_opened",
    "incident_resolved",
    "heartbeat_missed",
    "provider_declared",
    "cert_expiry",
    "unacknowledged",
    "slo_burn",
];

/// A service level objective (`[[slo]]`).
#[derive(Clone, Debug)]
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
#[derive(Clone, Copy, Debug)]
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
}

impl Default for ReconcileConfig {
    fn default() -> Self {
        ReconcileConfig {
            tolerance: HumanDuration::from_secs(300),
            min_duration: HumanDuration::from_secs(300),
            grace: HumanDuration::from_secs(7200),
            min_vantages: 1,
            include_degraded: false,
        }
    }
}

/// One provider status feed to poll.
#[derive(Clone, Debug)]
pub struct Feed {
    pub name: String,
    /// The provider the feed speaks for (`azure`, `aws`, `gcp`, or any name).
    pub provider: String,
    pub format: crate::config::feed_format::Format,
    /// The URL to poll, secrets expanded: never print this.
    pub url: String,
    /// The URL as written, secrets unexpanded.
    pub display: String,
    pub interval: HumanDuration,
    pub timeout: HumanDuration,
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

/// One thing to watch, ready to probe.
#[derive(Clone, Debug)]
pub struct Target {
    pub name: String,
    pub provider: Option<String>,
    pub service: Option<String>,
    pub region: Option<String>,
    pub kind: String,
    pub interval: HumanDuration,
    pub timeout: HumanDuration,
    pub conditions: Vec<Condition>,
    pub thresholds: Thresholds,
    pub tags: Vec<String>,
    pub provider_service: Option<String>,
    pub provider_region: Option<String>,
    /// What to probe, with secrets expanded: never print this.
    pub spec: ProbeSpec,
    /// What to show for the target: the URL or address as written, secrets unexpanded.
    pub display: String,
    /// How many vantages must agree (from the target, else `[server] quorum`).
    pub quorum: probity_core::quorum::Quorum,
    /// The `[[target]]` table as written (secrets unexpanded): what an agent receives.
    pub source: toml::Table,
}

/// One problem in a configuration file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub line: usize,
    pub col: usize,
    pub message: String,
    /// The source line and the column to put a caret under, for problems inside a value.
    pub snippet: Option<(String, usize)>,
}

/// Every problem found in one file.
#[derive(Clone, Debug)]
pub struct ConfigErrors {
    pub file: String,
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}:{}:{}: {}", self.file, p.line, p.col, p.message)?;
            if let Some((text, col)) = &p.snippet {
                write!(
                    f,
                    "\n    {text}\n    {}^",
                    " ".repeat(col.saturating_sub(1))
                )?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

const TOP_KEYS: &[&str] = &[
    "server",
    "target",
    "evidence",
    "feed",
    "reconcile",
    "sla",
    "slo",
    "channel",
    "alert",
    "alerting",
    "maintenance",
    "status",
    "component",
    "vantage",
    "telemetry",
    "source",
];
const SOURCE_KEYS: &[&str] = &[
    "name", "kind", "url", "interval", "timeout", "job", "targets",
];
const TELEMETRY_KEYS: &[&str] = &["otlp_endpoint", "service_name", "metrics_interval"];
const VANTAGE_KEYS: &[&str] = &[
    "name", "region", "targets", "tags", "provider", "service", "controls",
];
const COMPONENT_KEYS: &[&str] = &[
    "name",
    "description",
    "targets",
    "tags",
    "provider",
    "service",
    "region",
];
const STATUS_KEYS: &[&str] = &["title", "auto_incidents", "target_badges"];
const MAINTENANCE_KEYS: &[&str] = &[
    "name", "start", "end", "duration", "every", "targets", "tags", "provider", "service", "region",
];
const CHANNEL_KEYS: &[&str] = &[
    "name",
    "type",
    "url",
    "secret",
    "routing_key",
    "smtp_host",
    "smtp_port",
    "from",
    "to",
    "username",
    "password",
    "tls",
];
const ALERT_KEYS: &[&str] = &[
    "name",
    "on",
    "targets",
    "providers",
    "services",
    "regions",
    "tags",
    "channels",
    "escalate_after",
    "escalate_to",
    "remind_every",
    "cert_expiry_within",
];
const ALERTING_KEYS: &[&str] = &["max_backoff", "public_url"];
const SLO_KEYS: &[&str] = &[
    "name",
    "targets",
    "tags",
    "provider",
    "service",
    "region",
    "objective",
    "window",
    "sli",
    "threshold",
    "alerts",
];
const SLA_KEYS: &[&str] = &[
    "name",
    "terms",
    "targets",
    "tags",
    "provider",
    "service",
    "region",
    "combine",
    "monthly_bill",
    "currency",
    "maintenance",
    "exclude_maintenance",
    "commitment",
    "tiers",
    "basis",
    "interval_minutes",
    "claim_months_after",
    "claim_days_after",
    "credit_cap",
];
const RECONCILE_KEYS: &[&str] = &[
    "tolerance",
    "min_duration",
    "grace",
    "min_vantages",
    "include_degraded",
];
const FEED_KEYS: &[&str] = &["name", "provider", "format", "url", "interval", "timeout"];
const EVIDENCE_KEYS: &[&str] = &["origin", "checkpoint_interval"];
const SERVER_KEYS: &[&str] = &[
    "listen",
    "data_dir",
    "raw_retention",
    "rollup_retention",
    "max_concurrency",
    "api_token",
    "quorum",
    "max_clock_offset",
];
const TARGET_KEYS: &[&str] = &[
    "name",
    "provider",
    "service",
    "region",
    "kind",
    "interval",
    "timeout",
    "conditions",
    "failure_threshold",
    "success_threshold",
    "tags",
    "provider_service",
    "provider_region",
    "url",
    "method",
    "headers",
    "body",
    "follow_redirects",
    "max_redirects",
    "ip_version",
    "ca_file",
    "server_name",
    "address",
    "send",
    "expect",
    "record_type",
    "resolver",
    "dns",
    "grace",
    "token",
    "quorum",
];
const KINDS: &[&str] = &["http", "tcp", "tls", "dns", "heartbeat", "external"];

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Server")]
struct ServerToml {
    /// Address of the API and /metrics (127.0.0.1:0 takes a free port). Default 127.0.0.1:8080.
    listen: Option<String>,
    /// Where the SQLite store lives, relative to this file. Default probity-data.
    data_dir: Option<String>,
    /// How long raw results are kept. Default 30d.
    #[schemars(with = "Option<DurationSchema>")]
    raw_retention: Option<HumanDuration>,
    /// How long per-minute rollups are kept. Default 400d.
    #[schemars(with = "Option<DurationSchema>")]
    rollup_retention: Option<HumanDuration>,
    /// Most probes running at once. Default 2048.
    max_concurrency: Option<usize>,
    /// The bearer token the write endpoints require (at least 16 characters; use ${env:…} or ${file:…}).
    #[schemars(with = "Option<String>")]
    api_token: Option<Spanned<String>>,
    /// How many vantages must see a target fail before an incident opens: a number or "majority". Default 1.
    #[schemars(with = "Option<QuorumToml>")]
    quorum: Option<Spanned<QuorumToml>>,
    /// Agents whose clocks are further off have their results' times corrected. Default 2s.
    #[schemars(with = "Option<DurationSchema>")]
    max_clock_offset: Option<HumanDuration>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Source")]
struct SourceToml {
    /// The source's name; its results are recorded under this vantage name.
    #[schemars(with = "String")]
    name: Spanned<String>,
    /// prometheus: read blackbox_exporter's series from a Prometheus server.
    #[schemars(with = "String", extend("enum" = ["prometheus"]))]
    kind: Spanned<String>,
    /// The Prometheus server's base URL, e.g. http://prometheus:9090.
    #[schemars(with = "String")]
    url: Spanned<String>,
    /// How often to read. Default 30s.
    #[schemars(with = "Option<DurationSchema>")]
    interval: Option<Spanned<HumanDuration>>,
    /// How long one read may take. Default 10s.
    #[schemars(with = "Option<DurationSchema>")]
    timeout: Option<Spanned<HumanDuration>>,
    /// Only series with this job label.
    job: Option<String>,
    /// Each probity target (kind = "external") and the instance label of its series.
    #[schemars(with = "BTreeMap<String, String>")]
    targets: Spanned<BTreeMap<String, String>>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Telemetry")]
struct TelemetryToml {
    /// The OTLP/HTTP endpoint of a collector, e.g. http://127.0.0.1:4318 (traces go to
    /// /v1/traces, metrics to /v1/metrics). Not set: nothing is exported.
    #[schemars(with = "Option<String>")]
    otlp_endpoint: Option<Spanned<String>>,
    /// The service.name of what is exported. Default probity.
    service_name: Option<String>,
    /// How often metrics are exported. Default 60s.
    #[schemars(with = "Option<DurationSchema>")]
    metrics_interval: Option<Spanned<HumanDuration>>,
}

/// `quorum = 2` or `quorum = "majority"`.
#[derive(Deserialize, Clone, schemars::JsonSchema)]
#[serde(untagged)]
#[schemars(rename = "Quorum")]
enum QuorumToml {
    Count(i64),
    Word(String),
}

impl QuorumToml {
    fn read(
        ck: &mut Checker<'_>,
        v: &Spanned<QuorumToml>,
        ctx: &str,
    ) -> Option<probity_core::quorum::Quorum> {
        let text = match v.get_ref() {
            QuorumToml::Count(n) => n.to_string(),
            QuorumToml::Word(w) => w.clone(),
        };
        match probity_core::quorum::Quorum::parse(&text) {
            Ok(q) => Some(q),
            Err(e) => {
                ck.at(v.span(), format!("{ctx}: {e}"));
                None
            }
        }
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Vantage")]
struct VantageToml {
    /// The vantage's name: local (the server) or an agent's.
    #[schemars(with = "String")]
    name: Spanned<String>,
    /// Where it is.
    region: Option<String>,
    /// Targets it probes, by name (none of targets, tags, provider, service: every probed target).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    targets: Vec<Spanned<String>>,
    /// Probe the targets with all of these tags.
    #[serde(default)]
    tags: Vec<String>,
    /// Probe the targets of this provider.
    provider: Option<String>,
    /// Probe the targets of this service.
    service: Option<String>,
    /// Targets it also probes to judge its own network: when all fail, its failures are unmeasured.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    controls: Vec<Spanned<String>>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Evidence")]
struct EvidenceToml {
    #[schemars(with = "Option<String>")]
    origin: Option<Spanned<String>>,
    #[schemars(with = "Option<DurationSchema>")]
    checkpoint_interval: Option<Spanned<HumanDuration>>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Sla")]
struct SlaToml {
    #[schemars(with = "String")]
    name: Spanned<String>,
    #[schemars(with = "Option<String>")]
    terms: Option<Spanned<String>>,
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    targets: Vec<Spanned<String>>,
    #[serde(default)]
    tags: Vec<String>,
    provider: Option<String>,
    service: Option<String>,
    region: Option<String>,
    #[schemars(with = "Option<String>")]
    combine: Option<Spanned<String>>,
    #[schemars(with = "Option<f64>")]
    monthly_bill: Option<Spanned<f64>>,
    currency: Option<String>,
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    maintenance: Vec<Spanned<String>>,
    exclude_maintenance: Option<bool>,
    commitment: Option<f64>,
    #[schemars(with = "Option<Vec<TierSchema>>")]
    tiers: Option<Vec<probity_core::sla::Tier>>,
    #[schemars(with = "Option<String>")]
    basis: Option<Spanned<String>>,
    interval_minutes: Option<u32>,
    claim_months_after: Option<u32>,
    claim_days_after: Option<u32>,
    credit_cap: Option<f64>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Channel")]
struct ChannelToml {
    #[schemars(with = "String")]
    name: Spanned<String>,
    #[serde(rename = "type")]
    #[schemars(with = "String")]
    kind: Spanned<String>,
    #[schemars(with = "Option<String>")]
    url: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    secret: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    routing_key: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    smtp_host: Option<Spanned<String>>,
    smtp_port: Option<u16>,
    #[schemars(with = "Option<String>")]
    from: Option<Spanned<String>>,
    #[schemars(with = "Option<OneOrMany>")]
    to: Option<Spanned<OneOrMany>>,
    #[schemars(with = "Option<String>")]
    username: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    password: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    tls: Option<Spanned<String>>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "AlertRule")]
struct AlertToml2 {
    #[schemars(with = "String")]
    name: Spanned<String>,
    #[schemars(with = "Vec<String>")]
    on: Vec<Spanned<String>>,
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    targets: Vec<Spanned<String>>,
    #[serde(default)]
    providers: Vec<String>,
    #[serde(default)]
    services: Vec<String>,
    #[serde(default)]
    regions: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[schemars(with = "Vec<String>")]
    channels: Vec<Spanned<String>>,
    #[schemars(with = "Option<DurationSchema>")]
    escalate_after: Option<Spanned<HumanDuration>>,
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    escalate_to: Vec<Spanned<String>>,
    #[schemars(with = "Option<DurationSchema>")]
    remind_every: Option<Spanned<HumanDuration>>,
    #[schemars(with = "Option<DurationSchema>")]
    cert_expiry_within: Option<HumanDuration>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Component")]
struct ComponentToml {
    #[schemars(with = "String")]
    name: Spanned<String>,
    description: Option<String>,
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    targets: Vec<Spanned<String>>,
    #[serde(default)]
    tags: Vec<String>,
    provider: Option<String>,
    service: Option<String>,
    region: Option<String>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Status")]
struct StatusToml {
    title: Option<String>,
    auto_incidents: Option<bool>,
    target_badges: Option<bool>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Maintenance")]
struct MaintenanceToml {
    #[schemars(with = "String")]
    name: Spanned<String>,
    #[schemars(with = "String")]
    start: Spanned<String>,
    #[schemars(with = "Option<String>")]
    end: Option<Spanned<String>>,
    #[schemars(with = "Option<DurationSchema>")]
    duration: Option<Spanned<HumanDuration>>,
    #[schemars(with = "Option<DurationSchema>")]
    every: Option<Spanned<HumanDuration>>,
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    targets: Vec<Spanned<String>>,
    #[serde(default)]
    tags: Vec<String>,
    provider: Option<String>,
    service: Option<String>,
    region: Option<String>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Alerting")]
struct AlertingToml {
    #[schemars(with = "Option<DurationSchema>")]
    max_backoff: Option<Spanned<HumanDuration>>,
    public_url: Option<String>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Slo")]
struct SloToml {
    #[schemars(with = "String")]
    name: Spanned<String>,
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    targets: Vec<Spanned<String>>,
    #[serde(default)]
    tags: Vec<String>,
    provider: Option<String>,
    service: Option<String>,
    region: Option<String>,
    #[schemars(with = "f64")]
    objective: Spanned<f64>,
    #[schemars(with = "Option<DurationSchema>")]
    window: Option<HumanDuration>,
    #[schemars(with = "Option<String>")]
    sli: Option<Spanned<String>>,
    #[schemars(with = "Option<DurationSchema>")]
    threshold: Option<Spanned<HumanDuration>>,
    alerts: Option<Vec<AlertToml>>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "BurnRateAlert")]
struct AlertToml {
    severity: String,
    factor: f64,
    #[schemars(with = "DurationSchema")]
    long: HumanDuration,
    #[schemars(with = "DurationSchema")]
    short: HumanDuration,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Reconcile")]
struct ReconcileToml {
    #[schemars(with = "Option<DurationSchema>")]
    tolerance: Option<HumanDuration>,
    #[schemars(with = "Option<DurationSchema>")]
    min_duration: Option<HumanDuration>,
    #[schemars(with = "Option<DurationSchema>")]
    grace: Option<HumanDuration>,
    #[schemars(with = "Option<u32>")]
    min_vantages: Option<Spanned<u32>>,
    include_degraded: Option<bool>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Feed")]
struct FeedToml {
    #[schemars(with = "String")]
    name: Spanned<String>,
    #[schemars(with = "Option<String>")]
    provider: Option<Spanned<String>>,
    #[schemars(with = "String")]
    format: Spanned<String>,
    #[schemars(with = "String")]
    url: Spanned<String>,
    #[schemars(with = "Option<DurationSchema>")]
    interval: Option<Spanned<HumanDuration>>,
    #[schemars(with = "Option<DurationSchema>")]
    timeout: Option<Spanned<HumanDuration>>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
#[schemars(rename = "OneOrMany")]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "DnsQuery")]
struct DnsToml {
    #[schemars(with = "Option<String>")]
    name: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    record_type: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    resolver: Option<Spanned<String>>,
    expect: Option<OneOrMany>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Target")]
struct TargetToml {
    /// Unique name, used in the API and metrics.
    #[schemars(with = "String")]
    name: Spanned<String>,
    /// Who runs it (azure, aws, gcp, …).
    provider: Option<String>,
    /// The service, as free text.
    service: Option<String>,
    /// Where it runs, as free text.
    region: Option<String>,
    /// What to probe: http, tcp, tls, dns, or heartbeat (pushed, not probed).
    #[schemars(
        with = "String",
        extend("enum" = ["http", "tcp", "tls", "dns", "heartbeat", "external"])
    )]
    kind: Spanned<String>,
    /// How often to probe (at least 100ms). Default 30s.
    #[schemars(with = "Option<DurationSchema>")]
    interval: Option<Spanned<HumanDuration>>,
    /// How long one probe may take, all phases together. Default 10s.
    #[schemars(with = "Option<DurationSchema>")]
    timeout: Option<Spanned<HumanDuration>>,
    /// Parsed from the raw table by `check_conditions`; listed here for its type check.
    #[serde(rename = "conditions")]
    _conditions: Option<Vec<String>>,
    /// Failing results in a row that open an incident. Default 3.
    #[schemars(with = "Option<u32>")]
    failure_threshold: Option<Spanned<u32>>,
    /// Successful results in a row that resolve it. Default 2.
    #[schemars(with = "Option<u32>")]
    success_threshold: Option<Spanned<u32>>,
    /// Labels to select targets by.
    #[serde(default)]
    tags: Vec<String>,
    /// The provider's own name for the service, for matching its status feeds.
    provider_service: Option<String>,
    /// The provider's own name for the region, for matching its status feeds.
    provider_region: Option<String>,
    /// http: the URL to request (may reference ${env:…} or ${file:…}).
    #[schemars(with = "Option<String>")]
    url: Option<Spanned<String>>,
    /// http: the request method. Default GET.
    #[schemars(with = "Option<String>")]
    method: Option<Spanned<String>>,
    /// http: request headers (values may reference secrets).
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    headers: Option<BTreeMap<String, Spanned<String>>>,
    /// http: the request body.
    #[schemars(with = "Option<String>")]
    body: Option<Spanned<String>>,
    /// http: follow redirects. Default true.
    follow_redirects: Option<bool>,
    /// http: most redirects to follow. Default 5.
    max_redirects: Option<u32>,
    /// http, tcp, tls: any, ipv4 or ipv6.
    #[schemars(with = "Option<String>")]
    ip_version: Option<Spanned<String>>,
    /// http, tls: extra trust anchors (PEM), added to the bundled roots.
    #[schemars(with = "Option<String>")]
    ca_file: Option<Spanned<String>>,
    /// http, tls: the name to send as SNI and verify, when it differs from the host.
    #[schemars(with = "Option<String>")]
    server_name: Option<Spanned<String>>,
    /// tcp, tls: host:port to connect to.
    #[schemars(with = "Option<String>")]
    address: Option<Spanned<String>>,
    /// tcp: what to send after connecting.
    #[schemars(with = "Option<String>")]
    send: Option<Spanned<String>>,
    /// tcp: what the reply must contain; dns: the answers expected.
    #[schemars(with = "Option<OneOrMany>")]
    expect: Option<Spanned<OneOrMany>>,
    /// dns: the record type to ask for. Default A.
    #[schemars(with = "Option<String>")]
    record_type: Option<Spanned<String>>,
    /// dns: host:port of the nameserver to ask. Default the system's first.
    #[schemars(with = "Option<String>")]
    resolver: Option<Spanned<String>>,
    /// dns: the query, as a sub-table (name, record_type, resolver, expect).
    #[schemars(with = "Option<DnsToml>")]
    dns: Option<Spanned<DnsToml>>,
    /// heartbeat: how long after the last ping the target turns down.
    #[schemars(with = "Option<DurationSchema>")]
    grace: Option<Spanned<HumanDuration>>,
    /// heartbeat: the secret in the ping URL (at least 16 characters).
    #[schemars(with = "Option<String>")]
    token: Option<Spanned<String>>,
    /// This target's own quorum: a number or "majority".
    #[schemars(with = "Option<QuorumToml>")]
    quorum: Option<Spanned<QuorumToml>>,
}

/// A duration as written in the configuration, for the schema.
struct DurationSchema;

impl schemars::JsonSchema for DurationSchema {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^([0-9]+(ms|s|m|h|d|w))+$",
            "description": "A duration with units: 250ms, 30s, 5m, 2h, 14d, or sums like 1h30m.",
            "examples": ["30s", "5m", "1h30m"]
        })
    }
}

/// A credit tier of `[[sla]]`, for the schema.
#[derive(schemars::JsonSchema)]
#[allow(dead_code)] // only described, never built: `probity_core::sla::Tier` reads it
struct TierSchema {
    /// Uptime below this percentage…
    below: f64,
    /// …earns this percentage of the monthly bill as credit.
    credit: f64,
}

/// The whole configuration file, for the JSON Schema (`probity config schema`). Each
/// table's type is the one `parse` reads that table with, so the two cannot drift apart.
#[derive(schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "probity configuration",
    description = "probity.toml: what probity watches and how. See docs/configuration.md."
)]
#[allow(dead_code)]
struct ConfigSchema {
    server: Option<ServerToml>,
    evidence: Option<EvidenceToml>,
    reconcile: Option<ReconcileToml>,
    alerting: Option<AlertingToml>,
    status: Option<StatusToml>,
    target: Option<Vec<TargetToml>>,
    feed: Option<Vec<FeedToml>>,
    sla: Option<Vec<SlaToml>>,
    slo: Option<Vec<SloToml>>,
    channel: Option<Vec<ChannelToml>>,
    alert: Option<Vec<AlertToml2>>,
    maintenance: Option<Vec<MaintenanceToml>>,
    component: Option<Vec<ComponentToml>>,
    vantage: Option<Vec<VantageToml>>,
    telemetry: Option<TelemetryToml>,
    source: Option<Vec<SourceToml>>,
}

/// The JSON Schema (draft 2020-12) of the configuration file.
pub fn json_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(ConfigSchema);
    let mut v = serde_json::to_value(&schema).expect("a schema is JSON");
    drop_null(&mut v);
    v
}

/// TOML has no null: an optional key is one that may be left out, so the `null` that
/// schemars allows for `Option` fields is taken out again.
fn drop_null(v: &mut serde_json::Value) {
    use serde_json::Value;
    if let Value::Object(map) = v {
        if let Some(Value::Array(types)) = map.get_mut("type") {
            types.retain(|t| t != "null");
            if types.len() == 1 {
                let only = types[0].clone();
                map.insert("type".into(), only);
            }
        }
        if let Some(Value::Array(alts)) = map.get_mut("anyOf") {
            alts.retain(|a| a.get("type").and_then(Value::as_str) != Some("null"));
            if alts.len() == 1 {
                let only = alts.remove(0);
                map.remove("anyOf");
                if let Value::Object(inner) = only {
                    for (k, val) in inner {
                        map.entry(k).or_insert(val);
                    }
                }
            }
        }
        if map.get("default").is_some_and(Value::is_null) {
            map.remove("default");
        }
        for val in map.values_mut() {
            drop_null(val);
        }
    } else if let Value::Array(items) = v {
        for i in items {
            drop_null(i);
        }
    }
}

/// Collects problems against one source text.
struct Checker<'a> {
    src: &'a str,
    problems: Vec<(usize, Problem)>,
}

impl Checker<'_> {
    fn at(&mut self, span: Range<usize>, message: impl Into<String>) {
        let (line, col) = line_col(self.src, span.start);
        self.problems.push((
            span.start,
            Problem {
                line,
                col,
                message: message.into(),
                snippet: None,
            },
        ));
    }

    fn caret(&mut self, offset: usize, message: impl Into<String>) {
        let (line, col) = line_col(self.src, offset);
        let text = self.src.lines().nth(line - 1).unwrap_or("").to_string();
        self.problems.push((
            offset,
            Problem {
                line,
                col,
                message: message.into(),
                snippet: Some((text, col)),
            },
        ));
    }

    fn toml_error(&mut self, e: &toml::de::Error, context: &str) {
        let span = e.span().unwrap_or(0..0);
        let msg = e.message().trim().to_string();
        self.at(span, humanize(&msg, context));
    }
}

/// The names taken so far by one kind of table, each with the line it was first defined
/// on: the one place that reports a duplicate, in one wording.
struct Names {
    what: &'static str,
    first: HashMap<String, usize>,
}

impl Names {
    fn new(what: &'static str) -> Self {
        Names {
            what,
            first: HashMap::new(),
        }
    }

    /// Claims `name` (written at `span`); a name already taken is reported there, and the
    /// answer is `false`. The caller goes on checking the table either way.
    fn claim(&mut self, ck: &mut Checker<'_>, name: &str, span: Range<usize>) -> bool {
        if let Some(first) = self.first.get(name) {
            ck.at(
                span,
                format!(
                    "duplicate {} name `{name}` (first defined on line {first})",
                    self.what
                ),
            );
            return false;
        }
        self.first
            .insert(name.to_string(), line_col(ck.src, span.start).0);
        true
    }
}

/// serde's wording, made to speak of keys and sections.
fn humanize(msg: &str, context: &str) -> String {
    if let Some(rest) = msg.strip_prefix("missing field `") {
        let key = rest.split('`').next().unwrap_or(rest);
        return format!("{context} is missing the required key `{key}`");
    }
    let msg = msg.replace("invalid type: ", "wrong type: ");
    format!("{context}: {msg}")
}

fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, src[line_start..offset].chars().count() + 1)
}

/// Maps an offset inside a decoded TOML string back to the source, given the span of the
/// string literal (quotes included).
fn raw_offset(src: &str, span: &Range<usize>, decoded: usize) -> usize {
    let lit = &src[span.start..span.end.min(src.len())];
    let (open, escapes) = if lit.starts_with("\"\"\"") {
        (3, true)
    } else if lit.starts_with("'''") {
        (3, false)
    } else if lit.starts_with('"') {
        (1, true)
    } else {
        (1, false)
    };
    let body = &lit[open.min(lit.len())..];
    let mut raw = 0;
    let mut seen = 0;
    let bytes = body.as_bytes();
    while seen < decoded && raw < bytes.len() {
        let ch_len = body[raw..].chars().next().map_or(1, char::len_utf8);
        if escapes && bytes[raw] == b'\\' {
            let skip = match bytes.get(raw + 1) {
                Some(b'u') => 6,
                Some(b'U') => 10,
                _ => 2,
            };
            raw += skip;
            seen += 1;
        } else {
            raw += ch_len;
            seen += ch_len;
        }
    }
    span.start + open + raw
}

/// Expands `${env:NAME}` and `${file:PATH}` references.
pub fn expand_secrets(value: &str, base_dir: &Path) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or_else(|| {
            "unterminated `${`; write `${env:NAME}` or `${file:PATH}`".to_string()
        })?;
        let reference = &after[..end];
        let resolved = if let Some(name) = reference.strip_prefix("env:") {
            std::env::var(name).map_err(|_| format!("environment variable `{name}` is not set"))?
        } else if let Some(path) = reference.strip_prefix("file:") {
            let p = base_dir.join(path);
            let text = std::fs::read_to_string(&p)
                .map_err(|e| format!("cannot read secret file `{path}`: {e}"))?;
            text.trim_end_matches(['\r', '\n']).to_string()
        } else {
            return Err(format!(
                "unknown reference `${{{reference}}}`; write `${{env:NAME}}` or `${{file:PATH}}`"
            ));
        };
        out.push_str(&resolved);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Reads and checks a configuration file.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let file = path.display().to_string();
    let src = std::fs::read_to_string(path).map_err(|e| ConfigErrors {
        file: file.clone(),
        problems: vec![Problem {
            line: 1,
            col: 1,
            message: format!("cannot read the configuration: {e}"),
            snippet: None,
        }],
    })?;
    let base = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    parse(&file, &src, base).map(|mut c| {
        c.path = path.to_path_buf();
        c
    })
}

/// Checks a configuration's text. `base_dir` anchors relative paths (`data_dir`, `ca_file`,
/// `${file:…}`), normally the file's own directory.
pub fn parse(file: &str, src: &str, base_dir: &Path) -> Result<Config, ConfigErrors> {
    let fail = |problems: Vec<(usize, Problem)>| {
        let mut problems = problems;
        problems.sort_by_key(|(offset, _)| *offset);
        ConfigErrors {
            file: file.to_string(),
            problems: problems.into_iter().map(|(_, p)| p).collect(),
        }
    };
    let mut ck = Checker {
        src,
        problems: Vec::new(),
    };
    let root = match DeTable::parse(src) {
        Ok(r) => r,
        Err(e) => {
            ck.toml_error(&e, "syntax error");
            return Err(fail(ck.problems));
        }
    };
    // Each top-level key is a table (`[server]`) or an array of tables (`[[target]]`).
    const TABLES: &[&str] = &[
        "server",
        "evidence",
        "reconcile",
        "alerting",
        "status",
        "telemetry",
    ];
    let mut tables: HashMap<String, Spanned<DeTable<'_>>> = HashMap::new();
    let mut arrays: HashMap<String, Vec<Spanned<DeTable<'_>>>> = HashMap::new();
    for (key, value) in root.get_ref() {
        let name = key.get_ref().to_string();
        if TABLES.contains(&name.as_str()) {
            match value.get_ref() {
                DeValue::Table(t) => {
                    tables.insert(name, Spanned::new(value.span(), t.clone()));
                }
                _ => ck.at(
                    value.span(),
                    format!("`{name}` must be a table: write `[{name}]`"),
                ),
            }
        } else if TOP_KEYS.contains(&name.as_str()) {
            match value.get_ref() {
                DeValue::Array(items) => {
                    let list = arrays.entry(name.clone()).or_default();
                    for item in items.iter() {
                        match item.get_ref() {
                            DeValue::Table(t) => list.push(Spanned::new(item.span(), t.clone())),
                            _ => ck.at(
                                item.span(),
                                format!("each {name} must be a table: write `[[{name}]]`"),
                            ),
                        }
                    }
                }
                _ => ck.at(
                    value.span(),
                    format!("`{name}` must be an array of tables: write `[[{name}]]`"),
                ),
            }
        } else {
            unknown_key(&mut ck, key.span(), &name, TOP_KEYS, "at the top level");
        }
    }
    let server_table = tables.remove("server");
    let evidence_table = tables.remove("evidence");
    let reconcile_table = tables.remove("reconcile");
    let alerting_table = tables.remove("alerting");
    let status_table = tables.remove("status");
    let telemetry_table = tables.remove("telemetry");
    let mut array = |k: &str| arrays.remove(k).unwrap_or_default();
    let target_values = array("target");
    let feed_values = array("feed");
    let sla_values = array("sla");
    let slo_values = array("slo");
    let channel_values = array("channel");
    let alert_values = array("alert");
    let maintenance_values = array("maintenance");
    let component_values = array("component");
    let vantage_values = array("vantage");
    let source_values = array("source");

    let server =
        server_table.and_then(|t| read_table::<ServerToml>(&mut ck, t, SERVER_KEYS, "[server]"));
    let server_toml_token = server.as_ref().and_then(|s| s.api_token.clone());
    let server_toml_quorum = server.as_ref().and_then(|s| s.quorum.clone());
    let server_config = ServerConfig {
        listen: server
            .as_ref()
            .and_then(|s| s.listen.clone())
            .unwrap_or_else(|| "127.0.0.1:8080".into()),
        data_dir: base_dir.join(
            server
                .as_ref()
                .and_then(|s| s.data_dir.clone())
                .unwrap_or_else(|| "probity-data".into()),
        ),
        raw_retention: server
            .as_ref()
            .and_then(|s| s.raw_retention)
            .unwrap_or(HumanDuration::from_secs(30 * 86_400)),
        rollup_retention: server
            .as_ref()
            .and_then(|s| s.rollup_retention)
            .unwrap_or(HumanDuration::from_secs(400 * 86_400)),
        max_concurrency: server
            .as_ref()
            .and_then(|s| s.max_concurrency)
            .unwrap_or(2048)
            .max(1),
        api_token: None,
        quorum: probity_core::quorum::Quorum::default(),
        max_clock_offset: server
            .as_ref()
            .and_then(|s| s.max_clock_offset)
            .unwrap_or(HumanDuration::from_secs(2)),
    };
    let mut server = server_config;
    if let Some(q) = server_toml_quorum
        && let Some(q) = QuorumToml::read(&mut ck, &q, "[server]")
    {
        server.quorum = q;
    }
    if let Some(t) = server_toml_token {
        match expand_secrets(t.get_ref(), base_dir) {
            Ok(v) if v.len() >= 16 => server.api_token = Some(v),
            Ok(_) => ck.at(
                t.span(),
                "[server] `api_token` must be at least 16 characters",
            ),
            Err(e) => ck.at(t.span(), format!("[server] {e}")),
        }
    }

    let evidence = evidence_table
        .and_then(|t| read_table::<EvidenceToml>(&mut ck, t, EVIDENCE_KEYS, "[evidence]"));
    let mut evidence_config = EvidenceConfig {
        origin: crate::process::default_origin(),
        checkpoint_interval: HumanDuration::from_secs(60),
    };
    if let Some(e) = evidence {
        if let Some(o) = e.origin {
            let bad = o.get_ref().is_empty()
                || o.get_ref().contains('+')
                || o.get_ref().chars().any(char::is_whitespace);
            if bad {
                ck.at(
                    o.span(),
                    "[evidence] `origin` must be non-empty, without spaces or `+`",
                );
            }
            evidence_config.origin = o.into_inner();
        }
        if let Some(i) = e.checkpoint_interval {
            if i.get_ref().as_millis() < 1000 {
                ck.at(
                    i.span(),
                    "[evidence] `checkpoint_interval` must be at least 1s",
                );
            }
            evidence_config.checkpoint_interval = i.into_inner();
        }
    }

    let mut targets = Vec::new();
    let mut names = Names::new("target");
    for table in target_values {
        let table = strip_unknown(&mut ck, table, TARGET_KEYS, "in [[target]]");
        // Names are checked for duplicates even when the rest of the target is broken.
        let name_value = table
            .get_ref()
            .iter()
            .find(|(k, _)| k.get_ref() == "name")
            .map(|(_, v)| v);
        // A duplicate is reported and the rest of the table still checked, so that every
        // problem shows at once; only a target with a name of its own is kept.
        let unique = match name_value
            .and_then(|v| v.get_ref().as_str().map(|s| (s.to_string(), v.span())))
        {
            Some((name, span)) => names.claim(&mut ck, &name, span),
            None => true,
        };
        // Conditions are checked from the raw table, so they are reported even when another
        // key of the target has a type error that stops deserialisation.
        let conditions = check_conditions(&mut ck, table.get_ref());
        let raw = match TargetToml::deserialize(toml::de::Deserializer::from(table)) {
            Ok(t) => t,
            Err(e) => {
                ck.toml_error(&e, "[[target]]");
                continue;
            }
        };
        if let Some(t) = build_target(&mut ck, raw, conditions, base_dir, server.quorum)
            && unique
        {
            targets.push(t);
        }
    }

    let mut reconcile = ReconcileConfig::default();
    if let Some(r) = reconcile_table
        .and_then(|t| read_table::<ReconcileToml>(&mut ck, t, RECONCILE_KEYS, "[reconcile]"))
    {
        reconcile.tolerance = r.tolerance.unwrap_or(reconcile.tolerance);
        reconcile.min_duration = r.min_duration.unwrap_or(reconcile.min_duration);
        reconcile.grace = r.grace.unwrap_or(reconcile.grace);
        reconcile.include_degraded = r.include_degraded.unwrap_or(false);
        if let Some(v) = r.min_vantages {
            if *v.get_ref() == 0 {
                ck.at(v.span(), "[reconcile] `min_vantages` must be at least 1");
            }
            reconcile.min_vantages = v.into_inner().max(1);
        }
    }

    let mut feeds = Vec::new();
    let mut feed_names = Names::new("feed");
    for table in feed_values {
        let Some(raw) = read_table::<FeedToml>(&mut ck, table, FEED_KEYS, "[[feed]]") else {
            continue;
        };
        let name = raw.name.get_ref().clone();
        if name.trim().is_empty() || name.contains(char::is_whitespace) {
            ck.at(
                raw.name.span(),
                "a feed's `name` must be non-empty, without spaces",
            );
        }
        let unique = feed_names.claim(&mut ck, &name, raw.name.span());
        if let Some(f) = build_feed(&mut ck, raw, base_dir)
            && unique
        {
            feeds.push(f);
        }
    }

    let mut slas = Vec::new();
    let mut sla_names = Names::new("sla");
    for table in sla_values {
        let Some(raw) = read_table::<SlaToml>(&mut ck, table, SLA_KEYS, "[[sla]]") else {
            continue;
        };
        let name = raw.name.get_ref().clone();
        let unique = sla_names.claim(&mut ck, &name, raw.name.span());
        if let Some(s) = build_sla(&mut ck, raw, &targets)
            && unique
        {
            slas.push(s);
        }
    }

    let mut slos = Vec::new();
    let mut slo_names = Names::new("slo");
    for table in slo_values {
        let Some(raw) = read_table::<SloToml>(&mut ck, table, SLO_KEYS, "[[slo]]") else {
            continue;
        };
        let name = raw.name.get_ref().clone();
        let unique = slo_names.claim(&mut ck, &name, raw.name.span());
        if let Some(s) = build_slo(&mut ck, raw, &targets)
            && unique
        {
            slos.push(s);
        }
    }

    let mut alerting = AlertingConfig::default();
    if let Some(a) = alerting_table
        .and_then(|t| read_table::<AlertingToml>(&mut ck, t, ALERTING_KEYS, "[alerting]"))
    {
        if let Some(b) = a.max_backoff {
            if b.get_ref().as_millis() < 100 {
                ck.at(b.span(), "[alerting] `max_backoff` must be at least 100ms");
            }
            alerting.max_backoff = b.into_inner();
        }
        alerting.public_url = a.public_url;
    }
    let mut channels: Vec<Channel> = Vec::new();
    let mut channel_names = Names::new("channel");
    for table in channel_values {
        let Some(raw) = read_table::<ChannelToml>(&mut ck, table, CHANNEL_KEYS, "[[channel]]")
        else {
            continue;
        };
        let unique = channel_names.claim(&mut ck, raw.name.get_ref(), raw.name.span());
        if let Some(c) = build_channel(&mut ck, raw, base_dir)
            && unique
        {
            channels.push(c);
        }
    }
    let mut alerts: Vec<AlertRule> = Vec::new();
    for table in alert_values {
        let Some(raw) = read_table::<AlertToml2>(&mut ck, table, ALERT_KEYS, "[[alert]]") else {
            continue;
        };
        let ctx = format!("alert `{}`", raw.name.get_ref());
        for e in &raw.on {
            if !ALERT_EVENTS.contains(&e.get_ref().as_str()) {
                let hint = closest(e.get_ref(), ALERT_EVENTS)
                    .map(|k| format!("; did you mean `{k}`?"))
                    .unwrap_or_default();
                ck.at(
                    e.span(),
                    format!("{ctx}: unknown event `{}`{hint}", e.get_ref()),
                );
            }
        }
        if raw.escalate_after.is_some() == raw.escalate_to.is_empty() {
            ck.at(
                raw.name.span(),
                format!("{ctx}: `escalate_after` and `escalate_to` go together"),
            );
        }
        for d in [&raw.escalate_after, &raw.remind_every]
            .into_iter()
            .flatten()
        {
            if d.get_ref().as_millis() < 1000 {
                ck.at(d.span(), format!("{ctx}: must be at least 1s"));
            }
        }
        for c in raw.channels.iter().chain(&raw.escalate_to) {
            if !channels.iter().any(|x| &x.name == c.get_ref()) {
                ck.at(
                    c.span(),
                    format!("{ctx}: no [[channel]] named `{}`", c.get_ref()),
                );
            }
        }
        for t in &raw.targets {
            if !targets.iter().any(|x| &x.name == t.get_ref()) {
                ck.at(
                    t.span(),
                    format!("{ctx}: no target named `{}`", t.get_ref()),
                );
            }
        }
        alerts.push(AlertRule {
            name: raw.name.into_inner(),
            on: raw.on.into_iter().map(Spanned::into_inner).collect(),
            targets: raw.targets.into_iter().map(Spanned::into_inner).collect(),
            providers: raw.providers,
            services: raw.services,
            regions: raw.regions,
            tags: raw.tags,
            channels: raw.channels.into_iter().map(Spanned::into_inner).collect(),
            escalate_after: raw.escalate_after.map(Spanned::into_inner),
            escalate_to: raw
                .escalate_to
                .into_iter()
                .map(Spanned::into_inner)
                .collect(),
            remind_every: raw.remind_every.map(Spanned::into_inner),
            cert_expiry_within: raw
                .cert_expiry_within
                .unwrap_or(HumanDuration::from_secs(14 * 86_400)),
        });
    }

    let mut status = StatusConfig {
        title: "Status".into(),
        components: Vec::new(),
        auto_incidents: false,
        target_badges: false,
    };
    if let Some(st) =
        status_table.and_then(|t| read_table::<StatusToml>(&mut ck, t, STATUS_KEYS, "[status]"))
    {
        if let Some(t) = st.title {
            status.title = t;
        }
        status.auto_incidents = st.auto_incidents.unwrap_or(false);
        status.target_badges = st.target_badges.unwrap_or(false);
    }
    let mut component_names = Names::new("component");
    for table in component_values {
        let Some(raw) =
            read_table::<ComponentToml>(&mut ck, table, COMPONENT_KEYS, "[[component]]")
        else {
            continue;
        };
        let ctx = format!("component `{}`", raw.name.get_ref());
        let unique = component_names.claim(&mut ck, raw.name.get_ref(), raw.name.span());
        let chosen = select_targets(
            &mut ck,
            &ctx,
            &raw.targets,
            &raw.tags,
            raw.provider.as_ref(),
            raw.service.as_ref(),
            raw.region.as_ref(),
            &targets,
        );
        if unique {
            status.components.push(Component {
                name: raw.name.into_inner(),
                description: raw.description.unwrap_or_default(),
                targets: chosen,
            });
        }
    }

    let mut maintenance = Vec::new();
    for table in maintenance_values {
        let Some(raw) =
            read_table::<MaintenanceToml>(&mut ck, table, MAINTENANCE_KEYS, "[[maintenance]]")
        else {
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
        let start = time(&mut ck, &raw.start);
        let duration = match (&raw.end, &raw.duration) {
            (Some(e), None) => time(&mut ck, e).zip(start).map(|(e, s)| e - s),
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
        let chosen = select_targets(
            &mut ck,
            &ctx,
            &raw.targets,
            &raw.tags,
            raw.provider.as_ref(),
            raw.service.as_ref(),
            raw.region.as_ref(),
            &targets,
        );
        if chosen.is_empty() && ck.problems.len() == before {
            ck.at(
                raw.name.span(),
                format!("{ctx}: no targets: list `targets`, or select them by `tags`, `provider`, `service` or `region`"),
            );
        }
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

    let mut telemetry = TelemetryConfig::default();
    if let Some(t) = telemetry_table
        .and_then(|t| read_table::<TelemetryToml>(&mut ck, t, TELEMETRY_KEYS, "[telemetry]"))
    {
        if let Some(e) = t.otlp_endpoint {
            match expand_secrets(e.get_ref(), base_dir) {
                Ok(v) if v.starts_with("http://") || v.starts_with("https://") => {
                    telemetry.otlp_endpoint = Some(v)
                }
                Ok(_) => ck.at(
                    e.span(),
                    "[telemetry] `otlp_endpoint` is an http:// or https:// URL of an OTLP/HTTP collector, such as http://127.0.0.1:4318",
                ),
                Err(err) => ck.at(e.span(), format!("[telemetry] {err}")),
            }
        }
        if let Some(n) = t.service_name {
            telemetry.service_name = n;
        }
        if let Some(i) = t.metrics_interval {
            if i.get_ref().as_millis() < 1000 {
                ck.at(i.span(), "[telemetry] `metrics_interval` is at least 1s");
            }
            telemetry.metrics_interval = i.into_inner();
        }
    }

    let mut sources: Vec<SourceConfig> = Vec::new();
    let mut source_names = Names::new("source");
    for table in source_values {
        let Some(raw) = read_table::<SourceToml>(&mut ck, table, SOURCE_KEYS, "[[source]]") else {
            continue;
        };
        let before = ck.problems.len();
        let name = raw.name.get_ref().clone();
        let ctx = format!("source `{name}`");
        if !crate::vantage::valid_name(&name) || name == crate::vantage::LOCAL {
            ck.at(
                raw.name.span(),
                format!("{ctx}: a source's name is 1 to 64 lowercase letters, digits, `-`, `_` or `.` (not `local`): its results are recorded under it"),
            );
        }
        source_names.claim(&mut ck, &name, raw.name.span());
        if raw.kind.get_ref() != "prometheus" {
            ck.at(
                raw.kind.span(),
                format!("{ctx}: unknown kind `{}` (prometheus)", raw.kind.get_ref()),
            );
        }
        let url = secret(&mut ck, &raw.url, base_dir, &ctx);
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            ck.at(
                raw.url.span(),
                format!("{ctx}: `url` is the Prometheus server's http:// or https:// base URL"),
            );
        }
        let interval = raw
            .interval
            .as_ref()
            .map_or(HumanDuration::from_secs(30), |i| *i.get_ref());
        if let Some(i) = &raw.interval
            && i.get_ref().as_millis() < 1000
        {
            ck.at(i.span(), format!("{ctx}: `interval` is at least 1s"));
        }
        let mut mapped = Vec::new();
        for (target, instance) in raw.targets.get_ref() {
            match targets.iter().find(|t| &t.name == target) {
                Some(t) if t.kind == "external" => mapped.push((target.clone(), instance.clone())),
                Some(t) => ck.at(
                    raw.targets.span(),
                    format!("{ctx}: target `{target}` is `kind = \"{}\"`; a source's targets are `kind = \"external\"` (probity does not probe them itself)", t.kind),
                ),
                None => ck.at(raw.targets.span(), format!("{ctx}: no target named `{target}`")),
            }
        }
        if raw.targets.get_ref().is_empty() {
            ck.at(
                raw.targets.span(),
                format!("{ctx}: map at least one target to its `instance`"),
            );
        }
        if ck.problems.len() == before {
            sources.push(SourceConfig {
                name,
                kind: raw.kind.into_inner(),
                url,
                display: raw.url.into_inner(),
                interval,
                timeout: raw
                    .timeout
                    .map_or(HumanDuration::from_secs(10), |t| t.into_inner()),
                job: raw.job,
                targets: mapped,
            });
        }
    }

    let mut vantages: Vec<VantageConfig> = Vec::new();
    let mut vantage_names = Names::new("vantage");
    for table in vantage_values {
        let Some(raw) = read_table::<VantageToml>(&mut ck, table, VANTAGE_KEYS, "[[vantage]]")
        else {
            continue;
        };
        let name = raw.name.get_ref().clone();
        let ctx = format!("vantage `{name}`");
        if !crate::vantage::valid_name(&name) {
            ck.at(
                raw.name.span(),
                format!(
                    "{ctx}: a vantage's name is 1 to 64 lowercase letters, digits, `-`, `_` or `.`"
                ),
            );
        }
        let unique = vantage_names.claim(&mut ck, &name, raw.name.span());
        let probed: Vec<Target> = targets
            .iter()
            .filter(|t| t.spec.is_probed())
            .cloned()
            .collect();
        let selected = raw.targets.is_empty()
            && raw.tags.is_empty()
            && raw.provider.is_none()
            && raw.service.is_none();
        let chosen = if selected {
            probed.iter().map(|t| t.name.clone()).collect()
        } else {
            select_targets(
                &mut ck,
                &ctx,
                &raw.targets,
                &raw.tags,
                raw.provider.as_ref(),
                raw.service.as_ref(),
                None,
                &probed,
            )
        };
        let mut controls = Vec::new();
        for c in &raw.controls {
            if probed.iter().any(|t| &t.name == c.get_ref()) {
                controls.push(c.get_ref().clone());
            } else {
                let all: Vec<&str> = probed.iter().map(|x| x.name.as_str()).collect();
                let hint = closest(c.get_ref(), &all)
                    .map(|k| format!("; did you mean `{k}`?"))
                    .unwrap_or_default();
                ck.at(
                    c.span(),
                    format!("{ctx}: control `{}` is not a probed target (controls are `[[target]]` names, not heartbeats){hint}", c.get_ref()),
                );
            }
        }
        if unique {
            vantages.push(VantageConfig {
                name,
                region: raw.region,
                targets: chosen,
                controls,
            });
        }
    }
    // What an agent receives: each target's table as written, secrets unexpanded.
    if ck.problems.is_empty()
        && let Ok(doc) = src.parse::<toml::Table>()
        && let Some(toml::Value::Array(items)) = doc.get("target")
    {
        for item in items {
            if let toml::Value::Table(t) = item
                && let Some(name) = t.get("name").and_then(|n| n.as_str())
                && let Some(target) = targets.iter_mut().find(|x| x.name == name)
            {
                target.source = t.clone();
            }
        }
    }

    if !ck.problems.is_empty() {
        return Err(fail(ck.problems));
    }
    Ok(Config {
        path: PathBuf::from(file),
        server,
        evidence: evidence_config,
        targets,
        feeds,
        reconcile,
        slas,
        slos,
        channels,
        alerts,
        alerting,
        maintenance,
        status,
        vantages,
        telemetry,
        sources,
    })
}

fn unknown_key(ck: &mut Checker<'_>, span: Range<usize>, key: &str, known: &[&str], context: &str) {
    let hint = closest(key, known)
        .map(|k| format!("; did you mean `{k}`?"))
        .unwrap_or_else(|| format!("; known keys: {}", known.join(", ")));
    ck.at(span, format!("unknown key `{key}` {context}{hint}"));
}

/// Reads one `[name]` or `[[name]]` table: every unknown key reported, then the rest
/// deserialised; `None` (with the problem reported) when it does not fit `T`.
fn read_table<T: serde::de::DeserializeOwned>(
    ck: &mut Checker<'_>,
    table: Spanned<DeTable<'_>>,
    known: &[&str],
    name: &str,
) -> Option<T> {
    let table = strip_unknown(ck, table, known, &format!("in {name}"));
    T::deserialize(toml::de::Deserializer::from(table))
        .map_err(|e| ck.toml_error(&e, name))
        .ok()
}

/// Reports every unknown key in a table (serde stops at the first) and removes them, so
/// the remaining keys can still be checked.
fn strip_unknown<'i>(
    ck: &mut Checker<'_>,
    table: Spanned<DeTable<'i>>,
    known: &[&str],
    context: &str,
) -> Spanned<DeTable<'i>> {
    let span = table.span();
    let mut t = table.into_inner();
    let unknown: Vec<_> = t
        .keys()
        .filter(|k| !known.contains(&k.get_ref().as_ref()))
        .cloned()
        .collect();
    for k in unknown {
        unknown_key(ck, k.span(), k.get_ref(), known, context);
        t.remove(&k);
    }
    Spanned::new(span, t)
}

/// Parses a target's `conditions` straight from its table, reporting each one that does not
/// parse with a caret under the spot. `None` when the key is absent.
fn check_conditions(ck: &mut Checker<'_>, table: &DeTable<'_>) -> Option<Vec<Condition>> {
    let name = table
        .iter()
        .find(|(k, _)| k.get_ref() == "name")
        .and_then(|(_, v)| v.get_ref().as_str().map(str::to_string))
        .unwrap_or_else(|| "?".into());
    let (_, value) = table.iter().find(|(k, _)| k.get_ref() == "conditions")?;
    let DeValue::Array(items) = value.get_ref() else {
        return Some(Vec::new()); // a type error, reported by deserialisation
    };
    let mut out = Vec::new();
    for item in items.iter() {
        let Some(text) = item.get_ref().as_str() else {
            continue;
        };
        match Condition::parse(text) {
            Ok(c) => out.push(c),
            Err(e) => {
                let off = raw_offset(ck.src, &item.span(), e.offset);
                ck.caret(off, format!("target `{name}`: condition: {}", e.message));
            }
        }
    }
    Some(out)
}

/// Targets by name, plus every target matching all the selectors given; problems for
/// names that do not exist.
#[allow(clippy::too_many_arguments)]
fn select_targets(
    ck: &mut Checker<'_>,
    ctx: &str,
    names: &[Spanned<String>],
    tags: &[String],
    provider: Option<&String>,
    service: Option<&String>,
    region: Option<&String>,
    targets: &[Target],
) -> Vec<String> {
    let mut chosen: Vec<String> = Vec::new();
    for t in names {
        if targets.iter().any(|x| &x.name == t.get_ref()) {
            chosen.push(t.get_ref().clone());
        } else {
            let all: Vec<&str> = targets.iter().map(|x| x.name.as_str()).collect();
            let hint = closest(t.get_ref(), &all)
                .map(|k| format!("; did you mean `{k}`?"))
                .unwrap_or_default();
            ck.at(
                t.span(),
                format!("{ctx}: no target named `{}`{hint}", t.get_ref()),
            );
        }
    }
    if !tags.is_empty() || provider.is_some() || service.is_some() || region.is_some() {
        for t in targets {
            let ok = tags.iter().all(|g| t.tags.contains(g))
                && provider.is_none_or(|p| t.provider.as_ref() == Some(p))
                && service.is_none_or(|p| t.service.as_ref() == Some(p))
                && region.is_none_or(|p| t.region.as_ref() == Some(p));
            if ok && !chosen.contains(&t.name) {
                chosen.push(t.name.clone());
            }
        }
    }
    chosen
}

fn build_channel(ck: &mut Checker<'_>, raw: ChannelToml, base_dir: &Path) -> Option<Channel> {
    let before = ck.problems.len();
    let name = raw.name.get_ref().clone();
    let ctx = format!("channel `{name}`");
    let mut secret = |v: &Option<Spanned<String>>, key: &str, required: bool| -> Option<String> {
        match v {
            None => {
                if required {
                    ck.at(raw.name.span(), format!("{ctx}: `{key}` is required"));
                }
                None
            }
            Some(v) => match expand_secrets(v.get_ref(), base_dir) {
                Ok(x) => Some(x),
                Err(e) => {
                    ck.at(v.span(), format!("{ctx}: {e}"));
                    None
                }
            },
        }
    };
    let kind = match raw.kind.get_ref().as_str() {
        "webhook" => ChannelKind::Webhook {
            url: secret(&raw.url, "url", true).unwrap_or_default(),
            secret: secret(&raw.secret, "secret", false),
        },
        "slack" => ChannelKind::Slack {
            url: secret(&raw.url, "url", true).unwrap_or_default(),
        },
        "pagerduty" => ChannelKind::PagerDuty {
            routing_key: secret(&raw.routing_key, "routing_key", true).unwrap_or_default(),
            url: secret(&raw.url, "url", false)
                .unwrap_or_else(|| "https://events.pagerduty.com/v2/enqueue".into()),
        },
        "email" => {
            let host = secret(&raw.smtp_host, "smtp_host", true).unwrap_or_default();
            let from = secret(&raw.from, "from", true).unwrap_or_default();
            let username = secret(&raw.username, "username", false);
            let password = secret(&raw.password, "password", false);
            let to: Vec<String> = match &raw.to {
                Some(t) => match t.get_ref() {
                    OneOrMany::One(s) => vec![s.clone()],
                    OneOrMany::Many(v) => v.clone(),
                },
                None => Vec::new(),
            };
            if to.is_empty() {
                ck.at(raw.name.span(), format!("{ctx}: `to` is required"));
            }
            for addr in std::iter::once(&from).chain(&to) {
                if !addr.is_empty() && addr.parse::<lettre::message::Mailbox>().is_err() {
                    ck.at(
                        raw.to.as_ref().map_or(raw.name.span(), |t| t.span()),
                        format!("{ctx}: `{addr}` is not an email address"),
                    );
                }
            }
            let tls = raw
                .tls
                .as_ref()
                .map_or("starttls".to_string(), |t| t.get_ref().clone());
            if !["starttls", "tls", "none"].contains(&tls.as_str()) {
                ck.at(
                    raw.tls.as_ref().map_or(raw.name.span(), |t| t.span()),
                    format!("{ctx}: `tls` is starttls, tls or none, not `{tls}`"),
                );
            }
            if username.is_some() != password.is_some() {
                ck.at(
                    raw.name.span(),
                    format!("{ctx}: `username` and `password` go together"),
                );
            }
            let port = raw
                .smtp_port
                .unwrap_or(if tls == "tls" { 465 } else { 587 });
            let c = ChannelKind::Email(EmailChannel {
                smtp_host: host,
                smtp_port: port,
                from,
                to,
                username,
                password,
                tls,
            });
            return (ck.problems.len() == before).then_some(Channel { name, kind: c });
        }
        other => {
            let known = ["webhook", "slack", "pagerduty", "email"];
            let hint = closest(other, &known)
                .map(|k| format!("; did you mean `{k}`?"))
                .unwrap_or_default();
            ck.at(
                raw.kind.span(),
                format!(
                    "{ctx}: unknown type `{other}` (one of webhook, slack, pagerduty, email){hint}"
                ),
            );
            return None;
        }
    };
    let url = match &kind {
        ChannelKind::Webhook { url, .. }
        | ChannelKind::Slack { url }
        | ChannelKind::PagerDuty { url, .. } => url,
        ChannelKind::Email(_) => unreachable!("returned above"),
    };
    if ck.problems.len() == before && !(url.starts_with("http://") || url.starts_with("https://")) {
        ck.at(
            raw.url.as_ref().map_or(raw.name.span(), |u| u.span()),
            format!("{ctx}: `url` must start with http:// or https://"),
        );
    }
    (ck.problems.len() == before).then_some(Channel { name, kind })
}

fn build_slo(ck: &mut Checker<'_>, raw: SloToml, targets: &[Target]) -> Option<SloConfig> {
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
    let chosen = select_targets(
        ck,
        &ctx,
        &raw.targets,
        &raw.tags,
        raw.provider.as_ref(),
        raw.service.as_ref(),
        raw.region.as_ref(),
        targets,
    );
    if chosen.is_empty() && ck.problems.len() == before {
        ck.at(
            raw.name.span(),
            format!("{ctx}: no targets: list `targets`, or select them by `tags`, `provider`, `service` or `region`"),
        );
    }
    (ck.problems.len() == before).then(|| SloConfig {
        name,
        targets: chosen,
        objective: objective / 100.0,
        window: raw.window.unwrap_or(HumanDuration::from_secs(30 * 86_400)),
        sli,
        alerts,
    })
}

fn build_sla(ck: &mut Checker<'_>, raw: SlaToml, targets: &[Target]) -> Option<SlaConfig> {
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
    let chosen = select_targets(
        ck,
        &ctx,
        &raw.targets,
        &raw.tags,
        raw.provider.as_ref(),
        raw.service.as_ref(),
        raw.region.as_ref(),
        targets,
    );
    if chosen.is_empty() && ck.problems.len() == before {
        ck.at(
            raw.name.span(),
            format!("{ctx}: no targets: list `targets`, or select them by `tags`, `provider`, `service` or `region`"),
        );
    }
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

fn build_feed(ck: &mut Checker<'_>, raw: FeedToml, base_dir: &Path) -> Option<Feed> {
    use crate::config::feed_format::Format;
    let before = ck.problems.len();
    let name = raw.name.get_ref().clone();
    let ctx = format!("feed `{name}`");
    let format = match Format::parse(raw.format.get_ref()) {
        Some(Format::Auto) | None => {
            let known = &Format::NAMES[..Format::NAMES.len() - 1];
            let hint = closest(raw.format.get_ref(), known)
                .map(|k| format!("; did you mean `{k}`?"))
                .unwrap_or_default();
            ck.at(
                raw.format.span(),
                format!(
                    "{ctx}: unknown format `{}` (one of {}){hint}",
                    raw.format.get_ref(),
                    known.join(", ")
                ),
            );
            return None;
        }
        Some(f) => f,
    };
    let provider = match &raw.provider {
        Some(p) if p.get_ref().trim().is_empty() => {
            ck.at(p.span(), format!("{ctx}: `provider` must not be empty"));
            String::new()
        }
        Some(p) => p.get_ref().clone(),
        None => match format {
            Format::AzureRss => "azure".into(),
            Format::AwsRss | Format::AwsJson => "aws".into(),
            Format::GcpJson => "gcp".into(),
            _ => {
                ck.at(
                    raw.name.span(),
                    format!(
                        "{ctx}: name the `provider` (a {} feed can be anyone's)",
                        format.name()
                    ),
                );
                String::new()
            }
        },
    };
    let url = match expand_secrets(raw.url.get_ref(), base_dir) {
        Ok(u) => Some(u),
        Err(e) => {
            ck.at(raw.url.span(), format!("{ctx}: {e}"));
            None
        }
    };
    if let Some(u) = &url
        && !(u.starts_with("http://") || u.starts_with("https://"))
    {
        ck.at(
            raw.url.span(),
            format!("{ctx}: `url` must start with http:// or https://"),
        );
    }
    let interval = raw
        .interval
        .as_ref()
        .map_or(HumanDuration::from_secs(300), |d| *d.get_ref());
    if let Some(d) = &raw.interval
        && d.get_ref().as_millis() < 1000
    {
        ck.at(d.span(), format!("{ctx}: `interval` must be at least 1s"));
    }
    let timeout = raw
        .timeout
        .as_ref()
        .map_or(HumanDuration::from_secs(30), |d| *d.get_ref());
    if let Some(d) = &raw.timeout
        && d.get_ref().as_millis() == 0
    {
        ck.at(d.span(), format!("{ctx}: `timeout` must be more than 0"));
    }
    (ck.problems.len() == before).then(|| Feed {
        name,
        provider,
        format,
        url: url.unwrap_or_default(),
        display: raw.url.into_inner(),
        interval,
        timeout,
    })
}

fn build_target(
    ck: &mut Checker<'_>,
    raw: TargetToml,
    conditions: Option<Vec<Condition>>,
    base_dir: &Path,
    default_quorum: probity_core::quorum::Quorum,
) -> Option<Target> {
    let before = ck.problems.len();
    let name = raw.name.get_ref().clone();
    let ctx = format!("target `{name}`");
    if name.trim().is_empty() {
        ck.at(raw.name.span(), "a target's `name` must not be empty");
    }
    let kind = raw.kind.get_ref().clone();
    if !KINDS.contains(&kind.as_str()) {
        let hint = closest(&kind, KINDS)
            .map(|k| format!("; did you mean `{k}`?"))
            .unwrap_or_default();
        ck.at(
            raw.kind.span(),
            format!("{ctx}: unknown kind `{kind}` (one of http, tcp, tls, dns, heartbeat, external){hint}"),
        );
        return None;
    }
    let interval = raw
        .interval
        .as_ref()
        .map_or(HumanDuration::from_secs(30), |d| *d.get_ref());
    if let Some(d) = &raw.interval
        && d.get_ref().as_millis() < 100
    {
        ck.at(
            d.span(),
            format!("{ctx}: `interval` must be at least 100ms"),
        );
    }
    let timeout = raw
        .timeout
        .as_ref()
        .map_or(HumanDuration::from_secs(10), |d| *d.get_ref());
    if let Some(d) = &raw.timeout
        && d.get_ref().as_millis() == 0
    {
        ck.at(d.span(), format!("{ctx}: `timeout` must be more than 0s"));
    }
    let mut thresholds = Thresholds::default();
    if kind == "heartbeat" {
        // One missed ping is the signal; one ping is the recovery.
        thresholds.failure = 1;
        thresholds.success = 1;
    }
    for (field, slot, key) in [
        (
            &raw.failure_threshold,
            &mut thresholds.failure,
            "failure_threshold",
        ),
        (
            &raw.success_threshold,
            &mut thresholds.success,
            "success_threshold",
        ),
    ] {
        if let Some(v) = field {
            if *v.get_ref() == 0 {
                ck.at(v.span(), format!("{ctx}: `{key}` must be at least 1"));
            }
            *slot = *v.get_ref();
        }
    }
    let conditions = conditions.unwrap_or_else(|| crate::spec::default_conditions(&kind));

    // Fields that belong to other kinds are mistakes worth pointing out.
    let kind_fields: &[(&str, bool, Option<Range<usize>>)] = &[
        ("url", raw.url.is_some(), raw.url.as_ref().map(|s| s.span())),
        (
            "method",
            raw.method.is_some(),
            raw.method.as_ref().map(|s| s.span()),
        ),
        (
            "body",
            raw.body.is_some(),
            raw.body.as_ref().map(|s| s.span()),
        ),
        (
            "address",
            raw.address.is_some(),
            raw.address.as_ref().map(|s| s.span()),
        ),
        (
            "send",
            raw.send.is_some(),
            raw.send.as_ref().map(|s| s.span()),
        ),
        (
            "record_type",
            raw.record_type.is_some(),
            raw.record_type.as_ref().map(|s| s.span()),
        ),
        (
            "resolver",
            raw.resolver.is_some(),
            raw.resolver.as_ref().map(|s| s.span()),
        ),
        (
            "ca_file",
            raw.ca_file.is_some(),
            raw.ca_file.as_ref().map(|s| s.span()),
        ),
        (
            "server_name",
            raw.server_name.is_some(),
            raw.server_name.as_ref().map(|s| s.span()),
        ),
        ("dns", raw.dns.is_some(), raw.dns.as_ref().map(|s| s.span())),
        (
            "grace",
            raw.grace.is_some(),
            raw.grace.as_ref().map(|s| s.span()),
        ),
        (
            "token",
            raw.token.is_some(),
            raw.token.as_ref().map(|s| s.span()),
        ),
    ];
    let allowed: &[&str] = match kind.as_str() {
        "http" => &["url", "method", "body", "ca_file", "server_name"],
        "tcp" => &["address", "send"],
        "tls" => &["address", "ca_file", "server_name"],
        "heartbeat" => &["grace", "token"],
        "external" => &[],
        _ => &["record_type", "resolver", "dns"],
    };
    for (field, present, span) in kind_fields {
        if *present && !allowed.contains(field) {
            ck.at(
                span.clone().unwrap_or(0..0),
                format!("{ctx}: `{field}` is not used by kind `{kind}`"),
            );
        }
    }

    let ip_version = match raw.ip_version.as_ref().map(|s| s.get_ref().as_str()) {
        None | Some("any") => IpVersion::Any,
        Some("4") | Some("ipv4") => IpVersion::V4,
        Some("6") | Some("ipv6") => IpVersion::V6,
        Some(other) => {
            let span = raw.ip_version.as_ref().map(|s| s.span()).unwrap_or(0..0);
            ck.at(
                span,
                format!("{ctx}: `ip_version` is \"4\", \"6\" or \"any\", not {other:?}"),
            );
            IpVersion::Any
        }
    };
    let tls = TlsOptions {
        ca_file: raw.ca_file.as_ref().map(|p| base_dir.join(p.get_ref())),
        server_name: raw.server_name.as_ref().map(|s| s.get_ref().clone()),
    };
    if let (Some(p), Some(span)) = (&tls.ca_file, raw.ca_file.as_ref().map(|s| s.span()))
        && !p.exists()
    {
        ck.at(
            span,
            format!("{ctx}: `ca_file` {} does not exist", p.display()),
        );
    }
    let expect = raw.expect.map(|e| (e.span(), e.into_inner().into_vec()));
    let require = |ck: &mut Checker<'_>, field: &Option<Spanned<String>>, key: &str| {
        if field.is_none() {
            ck.at(
                raw.kind.span(),
                format!("{ctx}: kind `{kind}` needs `{key}`"),
            );
        }
    };
    let (spec, display) = match kind.as_str() {
        "external" => (
            ProbeSpec::External,
            "external: results from a [[source]]".to_string(),
        ),
        "heartbeat" => {
            require(ck, &raw.token, "token");
            let token = raw
                .token
                .as_ref()
                .map(|v| secret(ck, v, base_dir, &ctx))
                .unwrap_or_default();
            if let Some(t) = &raw.token
                && !token.is_empty()
                && (token.len() < 16
                    || !token
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            {
                ck.at(
                    t.span(),
                    format!("{ctx}: a heartbeat `token` is at least 16 letters, digits, `-` or `_` (make one with `openssl rand -hex 16`)"),
                );
            }
            let grace = raw
                .grace
                .as_ref()
                .map_or(60_000, |g| g.get_ref().as_millis());
            (
                ProbeSpec::Heartbeat(crate::spec::HeartbeatSpec {
                    token,
                    grace_ms: grace,
                }),
                "push: /api/v1/heartbeat/…".to_string(),
            )
        }
        "http" => {
            require(ck, &raw.url, "url");
            let url = raw
                .url
                .as_ref()
                .map(|v| secret(ck, v, base_dir, &ctx))
                .unwrap_or_default();
            if let Some(u) = &raw.url {
                if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
                    ck.at(
                        u.span(),
                        format!("{ctx}: `url` must start with http:// or https://"),
                    );
                } else if !url.is_empty() && url.parse::<http::Uri>().is_err() {
                    ck.at(u.span(), format!("{ctx}: `url` is not a valid URL"));
                }
            }
            if let Some((span, _)) = &expect {
                ck.at(
                    span.clone(),
                    format!("{ctx}: `expect` is not used by kind `http`; use conditions"),
                );
            }
            let headers = raw
                .headers
                .iter()
                .flatten()
                .map(|(k, v)| (k.clone(), secret(ck, v, base_dir, &ctx)))
                .collect();
            let method = raw
                .method
                .as_ref()
                .map_or("GET".into(), |m| m.get_ref().to_ascii_uppercase());
            let spec = ProbeSpec::Http(HttpSpec {
                url,
                method,
                headers,
                body: raw.body.as_ref().map(|v| secret(ck, v, base_dir, &ctx)),
                follow_redirects: raw.follow_redirects.unwrap_or(false),
                max_redirects: raw.max_redirects.unwrap_or(5),
                ip_version,
                tls,
            });
            (spec, raw.url.map(|u| u.into_inner()).unwrap_or_default())
        }
        "tcp" | "tls" => {
            require(ck, &raw.address, "address");
            let address = raw
                .address
                .as_ref()
                .map(|v| secret(ck, v, base_dir, &ctx))
                .unwrap_or_default();
            if let Some(a) = &raw.address
                && !address.is_empty()
                && crate::spec::split_host_port(&address).is_none()
            {
                ck.at(a.span(), format!("{ctx}: `address` must be host:port"));
            }
            let spec = if kind == "tcp" {
                let expect = match expect {
                    Some((span, v)) if v.len() != 1 => {
                        ck.at(
                            span,
                            format!("{ctx}: for kind `tcp`, `expect` is one string"),
                        );
                        None
                    }
                    Some((_, mut v)) => v.pop(),
                    None => None,
                };
                ProbeSpec::Tcp(TcpSpec {
                    address,
                    send: raw.send.as_ref().map(|v| secret(ck, v, base_dir, &ctx)),
                    expect,
                    ip_version,
                })
            } else {
                if let Some((span, _)) = &expect {
                    ck.at(
                        span.clone(),
                        format!("{ctx}: `expect` is not used by kind `tls`"),
                    );
                }
                ProbeSpec::Tls(TlsSpec {
                    address,
                    ip_version,
                    tls,
                })
            };
            (
                spec,
                raw.address.map(|a| a.into_inner()).unwrap_or_default(),
            )
        }
        _ => {
            let dns = raw.dns.map(|d| d.into_inner());
            let pick = |sub: Option<Spanned<String>>, flat: Option<Spanned<String>>| sub.or(flat);
            let (sub_name, sub_type, sub_resolver, sub_expect) = match dns {
                Some(d) => (
                    d.name,
                    d.record_type,
                    d.resolver,
                    d.expect.map(OneOrMany::into_vec),
                ),
                None => (None, None, None, None),
            };
            let query = sub_name.map_or(name.clone(), |n| n.into_inner());
            let record_type = pick(sub_type, raw.record_type);
            let rtype = record_type
                .as_ref()
                .map_or("A".into(), |r| r.get_ref().to_ascii_uppercase());
            if !crate::spec::RECORD_TYPES.contains(&rtype.as_str()) {
                let span = record_type
                    .as_ref()
                    .map(|r| r.span())
                    .unwrap_or(raw.kind.span());
                ck.at(
                    span,
                    format!(
                        "{ctx}: unknown record_type `{rtype}` (one of {})",
                        crate::spec::RECORD_TYPES.join(", ")
                    ),
                );
            }
            let resolver = pick(sub_resolver, raw.resolver);
            if let Some(r) = &resolver
                && crate::spec::split_host_port(r.get_ref()).is_none()
                && r.get_ref().parse::<std::net::IpAddr>().is_err()
            {
                ck.at(
                    r.span(),
                    format!("{ctx}: `resolver` must be host:port, e.g. \"1.1.1.1:53\""),
                );
            }
            let expect = sub_expect.or(expect.map(|(_, v)| v)).unwrap_or_default();
            let display = format!(
                "{query} {rtype}{}",
                resolver
                    .as_ref()
                    .map(|r| format!(" @{}", r.get_ref()))
                    .unwrap_or_default()
            );
            let spec = ProbeSpec::Dns(DnsSpec {
                name: query,
                record_type: rtype,
                resolver: resolver.map(|r| r.into_inner()),
                expect,
            });
            (spec, display)
        }
    };
    let quorum = match &raw.quorum {
        Some(q) => QuorumToml::read(ck, q, &ctx).unwrap_or(default_quorum),
        None => default_quorum,
    };
    if ck.problems.len() > before {
        return None;
    }
    Some(Target {
        quorum,
        source: toml::Table::new(),
        name,
        provider: raw.provider,
        service: raw.service,
        region: raw.region,
        kind,
        interval,
        timeout,
        conditions,
        thresholds,
        tags: raw.tags,
        provider_service: raw.provider_service,
        provider_region: raw.provider_region,
        spec,
        display,
    })
}

/// Expands a value's secret references, reporting a problem (and yielding "") if one fails.
fn secret(ck: &mut Checker<'_>, v: &Spanned<String>, base_dir: &Path, ctx: &str) -> String {
    match expand_secrets(v.get_ref(), base_dir) {
        Ok(s) => s,
        Err(e) => {
            ck.at(v.span(), format!("{ctx}: {e}"));
            String::new()
        }
    }
}

impl Target {
    /// What the target says about itself for matching providers' incidents: its provider,
    /// and the provider's names for its service and region (`provider_service`,
    /// `provider_region`), else its own `service` and `region`.
    pub fn names(&self) -> probity_core::names::TargetNames<'_> {
        probity_core::names::TargetNames {
            provider: self.provider.as_deref(),
            service: self.provider_service.as_deref().or(self.service.as_deref()),
            region: self.provider_region.as_deref().or(self.region.as_deref()),
        }
    }
}

impl Config {
    /// The declared vantage of this name, if any.
    pub fn vantage(&self, name: &str) -> Option<&VantageConfig> {
        self.vantages.iter().find(|v| v.name == name)
    }

    /// The targets a vantage probes: those of its `[[vantage]]` entry and its controls, or,
    /// for a vantage not declared, every probed target (heartbeats are pushed, not probed).
    pub fn targets_for_vantage(&self, name: &str) -> Vec<&Target> {
        match self.vantage(name) {
            Some(v) => self
                .targets
                .iter()
                .filter(|t| v.targets.contains(&t.name) || v.controls.contains(&t.name))
                .collect(),
            None => self.targets.iter().filter(|t| t.spec.is_probed()).collect(),
        }
    }

    /// A vantage's controls (none for a vantage not declared).
    pub fn controls_of(&self, name: &str) -> Vec<String> {
        self.vantage(name)
            .map(|v| v.controls.clone())
            .unwrap_or_default()
    }

    /// A one-line summary: how many targets of each kind.
    pub fn summary(&self) -> String {
        let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
        for t in &self.targets {
            *by_kind.entry(t.kind.as_str()).or_default() += 1;
        }
        let kinds: Vec<String> = by_kind.iter().map(|(k, n)| format!("{n} {k}")).collect();
        format!(
            "{}: ok, {} target{}{}",
            self.path.display(),
            self.targets.len(),
            if self.targets.len() == 1 { "" } else { "s" },
            if kinds.is_empty() {
                String::new()
            } else {
                format!(" ({})", kinds.join(", "))
            }
        ) + &match self.feeds.len() {
            0 => String::new(),
            1 => ", 1 feed".into(),
            n => format!(", {n} feeds"),
        } + &match self.vantages.len() {
            0 => String::new(),
            1 => ", 1 vantage".into(),
            n => format!(", {n} vantages"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks `src` and returns the rendered problems (or "ok").
    fn check(src: &str) -> String {
        match parse("p.toml", src, Path::new(".")) {
            Ok(c) => format!("ok {}", c.targets.len()),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn valid_configuration_with_defaults() {
        let c = parse(
            "p.toml",
            r#"
[server]
listen = "127.0.0.1:9000"

[[target]]
name = "web"
kind = "http"
url = "http://127.0.0.1:1/health"
conditions = ["[STATUS] == 200", "[LATENCY] < 1s"]
tags = ["prod"]

[[target]]
name = "example.com"
kind = "dns"
record_type = "aaaa"
resolver = "127.0.0.1:53"
expect = "2001:db8::1"
"#,
            Path::new("/etc/probity"),
        )
        .unwrap();
        assert_eq!(c.server.listen, "127.0.0.1:9000");
        assert_eq!(c.server.data_dir, Path::new("/etc/probity/probity-data"));
        assert_eq!(c.targets[0].interval, HumanDuration::from_secs(30));
        assert_eq!(c.targets[0].timeout, HumanDuration::from_secs(10));
        assert_eq!(
            c.targets[0].thresholds,
            Thresholds {
                failure: 3,
                success: 2
            }
        );
        assert_eq!(c.targets[0].conditions.len(), 2);
        let ProbeSpec::Dns(d) = &c.targets[1].spec else {
            panic!()
        };
        assert_eq!(
            (d.name.as_str(), d.record_type.as_str()),
            ("example.com", "AAAA")
        );
        assert_eq!(d.expect, vec!["2001:db8::1".to_string()]);
        assert_eq!(c.targets[1].conditions[0].source, "[DNS_RCODE] == NOERROR");
    }

    #[test]
    fn vantages_quorum_and_what_each_vantage_probes() {
        let src = r#"
[server]
quorum = "majority"
max_clock_offset = "500ms"

[[target]]
name = "web"
kind = "http"
url = "http://127.0.0.1:1/${env:PATH}"
tags = ["edge"]
quorum = 2

[[target]]
name = "dns"
kind = "tcp"
address = "127.0.0.1:53"

[[target]]
name = "job"
kind = "heartbeat"
token = "0123456789abcdef0123"

[[vantage]]
name = "eu-1"
region = "eu-west"
tags = ["edge"]
controls = ["dns"]
"#;
        // `${file:…}` that cannot be read is an error on the server too.
        let unreadable = src.replace("${env:PATH}", "${file:/nonexistent/never-read-here}");
        assert!(parse("p.toml", &unreadable, Path::new(".")).is_err());
        let c = parse("p.toml", src, Path::new(".")).unwrap();
        use probity_core::quorum::Quorum;
        assert_eq!(c.server.quorum, Quorum::Majority);
        assert_eq!(c.server.max_clock_offset, HumanDuration::from_millis(500));
        assert_eq!(c.targets[0].quorum, Quorum::Count(2));
        assert_eq!(c.targets[1].quorum, Quorum::Majority);
        let names = |v: Vec<&Target>| v.iter().map(|t| t.name.clone()).collect::<Vec<_>>();
        // The declared vantage: its selection and its controls.
        assert_eq!(names(c.targets_for_vantage("eu-1")), vec!["web", "dns"]);
        assert_eq!(c.controls_of("eu-1"), vec!["dns".to_string()]);
        assert_eq!(
            c.vantage("eu-1").unwrap().region.as_deref(),
            Some("eu-west")
        );
        // Undeclared vantages (and `local`) probe everything that is probed.
        assert_eq!(names(c.targets_for_vantage("us-2")), vec!["web", "dns"]);
        assert_eq!(names(c.targets_for_vantage("local")), vec!["web", "dns"]);
        assert!(c.controls_of("us-2").is_empty());
        // What an agent receives is the table as written: the secret reference unexpanded.
        assert_eq!(
            c.targets[0].source.get("url").and_then(|v| v.as_str()),
            Some("http://127.0.0.1:1/${env:PATH}")
        );
        match &c.targets[0].spec {
            ProbeSpec::Http(h) => assert!(!h.url.contains("${env:")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_schema_knows_every_table_and_every_target_key() {
        let s = json_schema();
        let mut top: Vec<&str> = s["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        top.sort_unstable();
        let mut known = TOP_KEYS.to_vec();
        known.sort_unstable();
        assert_eq!(top, known);
        assert_eq!(s["additionalProperties"], false);
        let mut keys: Vec<&str> = s["$defs"]["Target"]["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        let mut known = TARGET_KEYS.to_vec();
        known.sort_unstable();
        assert_eq!(keys, known);
        let mut keys: Vec<&str> = s["$defs"]["Server"]["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        let mut known = SERVER_KEYS.to_vec();
        known.sort_unstable();
        assert_eq!(keys, known);
        assert!(!s.to_string().contains("null"), "TOML has no null");
    }

    #[test]
    fn vantage_mistakes_are_reported_where_they_are() {
        let base = "[[target]]\nname = \"web\"\nkind = \"http\"\nurl = \"http://127.0.0.1:1/\"\n\n[[target]]\nname = \"job\"\nkind = \"heartbeat\"\ntoken = \"0123456789abcdef0123\"\n";
        let out = check(&format!(
            "{base}\n[[vantage]]\nname = \"EU 1\"\n\n[[vantage]]\nname = \"a\"\ncontrols = [\"wbe\", \"job\"]\n\n[[vantage]]\nname = \"a\"\n"
        ));
        assert!(
            out.contains(
                "p.toml:12:8: vantage `EU 1`: a vantage's name is 1 to 64 lowercase letters"
            ),
            "{out}"
        );
        assert!(
            out.contains("p.toml:16:13: vantage `a`: control `wbe` is not a probed target"),
            "{out}"
        );
        assert!(out.contains("did you mean `web`?"), "{out}");
        assert!(
            out.contains("p.toml:16:20: vantage `a`: control `job` is not a probed target"),
            "{out}"
        );
        assert!(
            out.contains("p.toml:19:8: duplicate vantage name `a` (first defined on line 15)"),
            "{out}"
        );
        let out = check("[server]\nquorum = 0\n");
        assert!(out.contains("p.toml:2:10: [server]: quorum must be a whole number of vantages (1 or more) or \"majority\""), "{out}");
        let out = check(&format!("{base}quorum = \"most\"\n"));
        assert!(out.contains("target `job`: quorum must be"), "{out}");
    }

    #[test]
    fn dns_query_name_may_live_in_a_sub_table() {
        let c = parse(
            "p.toml",
            "[[target]]\nname = \"resolver check\"\nkind = \"dns\"\n[target.dns]\nname = \"example.org\"\nrecord_type = \"MX\"\n",
            Path::new("."),
        )
        .unwrap();
        let ProbeSpec::Dns(d) = &c.targets[0].spec else {
            panic!()
        };
        assert_eq!(
            (d.name.as_str(), d.record_type.as_str()),
            ("example.org", "MX")
        );
    }

    #[test]
    fn every_problem_is_reported_with_its_position() {
        let src = r#"[server]
listn = "x"

[[target]]
name = "a"
kind = "http"
url = "http://h/"
intervl = "5s"
timeout = "-5s"

[[target]]
name = "a"
kind = "tcp"
address = "h:1"

[[target]]
name = "b"
kind = "http"
url = "http://h/"
conditions = ["[STATUS] = 200"]
"#;
        assert_eq!(
            check(src),
            "p.toml:2:1: unknown key `listn` in [server]; did you mean `listen`?\n\
             p.toml:8:1: unknown key `intervl` in [[target]]; did you mean `interval`?\n\
             p.toml:9:11: [[target]]: `-5s` is not a duration; write a number and a unit such as `30s`, `5m` or `14d`\n\
             p.toml:12:8: duplicate target name `a` (first defined on line 5)\n\
             p.toml:20:25: target `b`: condition: `=` is not an operator; write `==` to compare\n    \
             conditions = [\"[STATUS] = 200\"]\n                            ^"
        );
    }

    /// A duplicate name does not hide the rest of its table's problems, and every kind of
    /// named table reports it in the same words.
    #[test]
    fn a_duplicate_is_checked_whole() {
        let out = check(
            "[[target]]\nname = \"web\"\nkind = \"tcp\"\naddress = \"h:1\"\n\n[[target]]\nname = \"web\"\nkind = \"tcp\"\naddress = \"h:1\"\ntimeout = \"ten seconds\"\n",
        );
        assert!(
            out.contains("p.toml:7:8: duplicate target name `web` (first defined on line 2)"),
            "{out}"
        );
        assert!(out.contains("p.toml:10:11: [[target]]:"), "{out}");
        assert!(out.contains("ten seconds"), "{out}");
        let out = check(
            "[[target]]\nname = \"web\"\nkind = \"tcp\"\naddress = \"h:1\"\n\n[[component]]\nname = \"api\"\ntargets = [\"web\"]\n\n[[component]]\nname = \"api\"\ntargets = [\"wbe\"]\n",
        );
        assert!(
            out.contains("p.toml:11:8: duplicate component name `api` (first defined on line 7)"),
            "{out}"
        );
        assert!(out.contains("`wbe`"), "{out}");
    }

    #[test]
    fn kind_specific_mistakes() {
        let t = |body: &str| check(&format!("[[target]]\nname = \"t\"\n{body}\n"));
        assert_eq!(
            t("kind = \"htp\"\nurl = \"http://h/\""),
            "p.toml:3:8: target `t`: unknown kind `htp` (one of http, tcp, tls, dns, heartbeat, external); did you mean `http`?"
        );
        assert_eq!(
            t("kind = \"tcp\""),
            "p.toml:3:8: target `t`: kind `tcp` needs `address`"
        );
        assert_eq!(
            t("kind = \"tcp\"\naddress = \"nohost\""),
            "p.toml:4:11: target `t`: `address` must be host:port"
        );
        assert_eq!(
            t("kind = \"tcp\"\naddress = \"h:1\"\nurl = \"http://x/\""),
            "p.toml:5:7: target `t`: `url` is not used by kind `tcp`"
        );
        assert_eq!(
            t("kind = \"http\"\nurl = \"ftp://x/\""),
            "p.toml:4:7: target `t`: `url` must start with http:// or https://"
        );
        assert_eq!(
            t("kind = \"http\"\nurl = \"http://x/\"\ninterval = 30"),
            "p.toml:5:12: [[target]]: `30` has a number without a unit; write e.g. `30s` or `30ms`"
        );
        assert_eq!(
            t("kind = \"http\"\nurl = \"http://x/\"\nfailure_threshold = 0"),
            "p.toml:5:21: target `t`: `failure_threshold` must be at least 1"
        );
        assert_eq!(
            t("kind = \"dns\"\nrecord_type = \"AXX\""),
            "p.toml:4:15: target `t`: unknown record_type `AXX` (one of A, AAAA, CNAME, TXT, MX, NS, SOA, SRV, CAA, PTR)"
        );
        assert_eq!(
            check("[[target]]\nkind = \"http\"\nurl = \"http://x/\"\n"),
            "p.toml:1:1: [[target]] is missing the required key `name`"
        );
        assert_eq!(
            check("[[target]\nname = 1"),
            "p.toml:1:10: syntax error: unclosed array table, expected `]`"
        );
        assert_eq!(
            check("[servr]\n"),
            "p.toml:1:2: unknown key `servr` at the top level; did you mean `server`?"
        );
    }

    #[test]
    fn caret_accounts_for_escapes_in_the_string() {
        let src = "[[target]]\nname = \"t\"\nkind = \"http\"\nurl = \"http://x/\"\nconditions = [\"[BODY] contains \\\"a\\\" x\"]\n";
        let e = parse("p.toml", src, Path::new(".")).unwrap_err();
        let p = &e.problems[0];
        // The unexpected `x` sits after two escaped quotes: decoded offset 20, raw column 38.
        assert_eq!((p.line, p.col), (5, 38), "{e}");
        assert_eq!(&src.lines().nth(4).unwrap()[p.col - 1..p.col], "x");
    }

    #[test]
    fn secrets_expand_from_env_and_files_and_never_reach_display() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "s3cret-file\n").unwrap();
        // PATH is set wherever tests run; the crate forbids the unsafe set_var.
        let path = std::env::var("PATH").unwrap();
        let src = r#"[[target]]
name = "t"
kind = "http"
url = "http://h/${env:PATH}"
headers = { Authorization = "Bearer ${file:token}" }
"#;
        let c = parse("p.toml", src, dir.path()).unwrap();
        let ProbeSpec::Http(h) = &c.targets[0].spec else {
            panic!()
        };
        assert_eq!(h.url, format!("http://h/{path}"));
        assert_eq!(h.headers["Authorization"], "Bearer s3cret-file");
        assert_eq!(c.targets[0].display, "http://h/${env:PATH}");
        let missing = check(
            "[[target]]\nname = \"t\"\nkind = \"http\"\nurl = \"http://h/${env:PROBITY_NOT_SET_XYZ}\"\n",
        );
        assert_eq!(
            missing,
            "p.toml:4:7: target `t`: environment variable `PROBITY_NOT_SET_XYZ` is not set"
        );
    }
}
