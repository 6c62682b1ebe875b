//! The configuration file: one TOML document with `[server]` and one `[[target]]` per thing
//! to watch. Loading checks everything and reports every problem it finds, each as
//! `FILE:LINE:COL: message`, instead of stopping at the first.
//!
//! Strings that carry secrets may reference `${env:NAME}` or `${file:PATH}`; the expanded
//! values live only in the probe specs, which are never printed or logged.

use accounting::*;
use alerting::*;
use common::*;
use federation::*;
use feed::*;
use gate::*;
use probity_core::condition::closest;
use probity_core::duration::HumanDuration;
use schema::*;
use server::*;
use source::*;
use status::*;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use store::*;
use target::*;
use toml::Spanned;
use toml::de::{DeTable, DeValue};
use vantage::*;
use witness::*;

mod accounting;
mod alerting;
mod common;
mod federation;
mod feed;
pub mod feed_format;
mod gate;
mod schema;
mod server;
pub mod sla_catalog;
mod source;
mod status;
mod storage;
mod store;
mod target;
#[cfg(test)]
mod tests;
mod vantage;
mod witness;

pub use accounting::*;
pub use alerting::*;
pub use common::Problem;
pub use federation::{FederationConfig, FederationPeer};
pub use feed::*;
pub use gate::{Action, GateConfig, OnInconclusive, Plan, PlanSource, Step, load_plan, parse_plan};
pub use schema::*;
pub use server::*;
pub use source::*;
pub use status::*;
pub use store::{PostgresConfig, StoreConfig, url_holds_password};
pub use target::*;
pub use vantage::*;
pub use witness::{WitnessConfig, WitnessPeer};

/// The default configuration file, in the current directory.
pub const DEFAULT_PATH: &str = "probity.toml";

/// A loaded, checked configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub path: PathBuf,
    pub server: ServerConfig,
    pub evidence: EvidenceConfig,
    pub targets: Vec<std::sync::Arc<Target>>,
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
    /// Deployment gates the server judges on request (`[[gate]]`).
    pub gates: Vec<GateConfig>,
    /// Logs witnessed and witnesses asked (`[witness]`).
    pub witness: WitnessConfig,
    /// Instances outage statements are shared with (`[federation]`).
    pub federation: FederationConfig,
    /// Where the store is (`[store]`): SQLite under `data_dir` unless a PostgreSQL URL is given.
    pub store: StoreConfig,
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

/// Reads and checks a configuration file.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let file = path.display().to_string();
    let src = std::fs::read_to_string(path).map_err(|e| ConfigErrors {
        file: file.clone(),
        problems: vec![Problem {
            line: 1,
            col: 1,
            message: if e.kind() == std::io::ErrorKind::NotFound {
                format!(
                    "cannot read the configuration: {e}; write a starting one with `probity init` (or name another with --config)"
                )
            } else {
                format!("cannot read the configuration: {e}")
            },
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
        "witness",
        "federation",
        "store",
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
        } else if keys_of::<ConfigSchema>().contains(&name.as_str()) {
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
            unknown_key(
                &mut ck,
                key.span(),
                &name,
                keys_of::<ConfigSchema>(),
                "at the top level",
            );
        }
    }
    let server_table = tables.remove("server");
    let evidence_table = tables.remove("evidence");
    let reconcile_table = tables.remove("reconcile");
    let alerting_table = tables.remove("alerting");
    let status_table = tables.remove("status");
    let telemetry_table = tables.remove("telemetry");
    let witness_table = tables.remove("witness");
    let federation_table = tables.remove("federation");
    let store_table = tables.remove("store");
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
    let gate_values = array("gate");

    let server = ServerConfig::read(&mut ck, server_table, base_dir);

    let evidence =
        evidence_table.and_then(|t| read_table::<EvidenceToml>(&mut ck, t, "[evidence]"));
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

    let mut targets = read_targets(&mut ck, target_values, base_dir, server.quorum);

    let mut reconcile = ReconcileConfig::default();
    if let Some(r) =
        reconcile_table.and_then(|t| read_table::<ReconcileToml>(&mut ck, t, "[reconcile]"))
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

    let feeds = read_named(&mut ck, feed_values, "feed", |ck, raw: FeedToml| {
        let name = raw.name.get_ref();
        if name.trim().is_empty() || name.contains(char::is_whitespace) {
            ck.at(
                raw.name.span(),
                "a feed's `name` must be non-empty, without spaces",
            );
        }
        build_feed(ck, raw, base_dir)
    });

    reconcile.components = std::sync::Arc::new(
        feeds
            .iter()
            .filter(|f| !f.components.is_empty())
            .map(|f| (f.name.clone(), f.components.clone()))
            .collect(),
    );

    let slas = read_named(&mut ck, sla_values, "sla", |ck, raw: SlaToml| {
        build_sla(ck, raw, &targets)
    });
    let slos = read_named(&mut ck, slo_values, "slo", |ck, raw: SloToml| {
        build_slo(ck, raw, &targets)
    });
    let gates = read_named(&mut ck, gate_values, "gate", |ck, raw: GateToml| {
        build_gate(ck, raw, &targets)
    });

    let mut alerting = AlertingConfig::default();
    if let Some(a) =
        alerting_table.and_then(|t| read_table::<AlertingToml>(&mut ck, t, "[alerting]"))
    {
        if let Some(b) = a.max_backoff {
            if b.get_ref().as_millis() < 100 {
                ck.at(b.span(), "[alerting] `max_backoff` must be at least 100ms");
            }
            alerting.max_backoff = b.into_inner();
        }
        alerting.public_url = a.public_url;
    }
    let channels: Vec<Channel> = read_named(
        &mut ck,
        channel_values,
        "channel",
        |ck, raw: ChannelToml| build_channel(ck, raw, base_dir),
    );
    let alerts = read_alerts(&mut ck, alert_values, &channels, &targets);

    let mut status = StatusConfig {
        title: "Status".into(),
        components: Vec::new(),
        auto_incidents: false,
        target_badges: false,
    };
    if let Some(st) = status_table.and_then(|t| read_table::<StatusToml>(&mut ck, t, "[status]")) {
        if let Some(t) = st.title {
            status.title = t;
        }
        status.auto_incidents = st.auto_incidents.unwrap_or(false);
        status.target_badges = st.target_badges.unwrap_or(false);
    }
    status.components = read_components(&mut ck, component_values, &targets);

    let maintenance = read_maintenance(&mut ck, maintenance_values, &targets);

    let mut telemetry = TelemetryConfig::default();
    if let Some(t) =
        telemetry_table.and_then(|t| read_table::<TelemetryToml>(&mut ck, t, "[telemetry]"))
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
        let Some(raw) = read_table::<SourceToml>(&mut ck, table, "[[source]]") else {
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
        let Some(raw) = read_table::<VantageToml>(&mut ck, table, "[[vantage]]") else {
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
                Selectors {
                    names: &raw.targets,
                    tags: &raw.tags,
                    provider: raw.provider.as_ref(),
                    service: raw.service.as_ref(),
                    region: None,
                },
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
        let mut by_name: std::collections::HashMap<&str, &toml::Table> = items
            .iter()
            .filter_map(|item| match item {
                toml::Value::Table(t) => Some((t.get("name")?.as_str()?, t)),
                _ => None,
            })
            .collect();
        for target in targets.iter_mut() {
            if let Some(t) = by_name.remove(target.name.as_str()) {
                target.source = TargetSource::new(t);
            }
        }
    }

    let witness = witness_table
        .and_then(|t| read_table::<WitnessToml>(&mut ck, t, "[witness]"))
        .map(|w| build_witness(&mut ck, w, base_dir))
        .unwrap_or_default();
    let federation = federation_table
        .and_then(|t| read_table::<FederationToml>(&mut ck, t, "[federation]"))
        .map(|f| build_federation(&mut ck, f, base_dir, &evidence_config.origin))
        .unwrap_or_default();
    reconcile.min_organisations = federation.min_organisations;
    let store = store_table
        .and_then(|t| read_table::<StoreToml>(&mut ck, t, "[store]"))
        .map(|t| build_store(&mut ck, t, base_dir))
        .unwrap_or_default();

    if !ck.problems.is_empty() {
        return Err(fail(ck.problems));
    }
    Ok(Config {
        path: PathBuf::from(file),
        server,
        evidence: evidence_config,
        targets: targets.into_iter().map(std::sync::Arc::new).collect(),
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
        gates,
        witness,
        federation,
        store,
    })
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
                .map(|t| &**t)
                .collect(),
            None => self
                .targets
                .iter()
                .filter(|t| t.spec.is_probed())
                .map(|t| &**t)
                .collect(),
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
