//! The configuration's JSON Schema (draft 2020-12), derived with schemars from the very types each table is read with.

use super::{
    accounting::*, alerting::*, federation::FederationToml, feed::*, gate::GateToml, server::*,
    source::*, status::*, store::StoreToml, target::*, vantage::*, witness::WitnessToml,
};

/// The whole configuration file, for the JSON Schema (`probity config schema`). Each
/// table's type is the one `parse` reads that table with, so the two cannot drift apart.
#[derive(schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "probity configuration",
    description = "probity.toml: what probity watches and how. See docs/configuration.md."
)]
#[allow(dead_code)]
pub(super) struct ConfigSchema {
    pub(super) server: Option<ServerConfig>,
    pub(super) evidence: Option<EvidenceToml>,
    pub(super) reconcile: Option<ReconcileToml>,
    pub(super) alerting: Option<AlertingToml>,
    pub(super) status: Option<StatusToml>,
    pub(super) target: Option<Vec<TargetToml>>,
    pub(super) feed: Option<Vec<FeedToml>>,
    pub(super) sla: Option<Vec<SlaToml>>,
    pub(super) slo: Option<Vec<SloToml>>,
    pub(super) channel: Option<Vec<ChannelToml>>,
    pub(super) alert: Option<Vec<AlertToml2>>,
    pub(super) maintenance: Option<Vec<MaintenanceToml>>,
    pub(super) component: Option<Vec<ComponentToml>>,
    pub(super) vantage: Option<Vec<VantageToml>>,
    pub(super) telemetry: Option<TelemetryToml>,
    pub(super) source: Option<Vec<SourceToml>>,
    pub(super) gate: Option<Vec<GateToml>>,
    pub(super) witness: Option<WitnessToml>,
    pub(super) federation: Option<FederationToml>,
    pub(super) store: Option<StoreToml>,
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
pub(super) fn drop_null(v: &mut serde_json::Value) {
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
