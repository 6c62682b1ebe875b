//! What agents and the server say to each other (JSON over HTTP(S)), specified in
//! docs/agents.md.
//!
//! - `GET /api/v1/agent/targets` → [`Assignment`]: the targets to probe, as configuration.
//! - `POST /api/v1/agent/results` with [`PushBody`] → [`PushResponse`].

use probity_core::result::{Cause, ErrorClass, Health, Phases};
use serde::{Deserialize, Serialize};

/// The most results one push may carry.
pub const MAX_PUSH_RESULTS: usize = 5000;
/// The largest push body.
pub const MAX_PUSH_BYTES: usize = 16 * 1024 * 1024;

/// What a vantage is to probe.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Assignment {
    pub vantage: String,
    pub region: Option<String>,
    /// Changes whenever the assignment does; a push answer carries the current one.
    pub config_version: String,
    /// A configuration file with the assigned `[[target]]` tables as the server's file has
    /// them (secrets unexpanded: the agent expands `${env:…}` and `${file:…}` itself).
    pub config: String,
    /// Targets (among those in `config`) that judge the vantage's own reachability.
    pub controls: Vec<String>,
    pub server_time_ms: i64,
    /// The most results to send in one push.
    pub max_batch: usize,
}

/// One push: results and the agent's state.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PushBody {
    /// Must be the name the token was made for.
    pub vantage: String,
    /// When the agent sent this, by its clock.
    pub sent_at_ms: i64,
    /// What to add to the agent's clock to get the server's, from its last exchange.
    #[serde(default)]
    pub clock_offset_ms: Option<i64>,
    #[serde(default)]
    pub rtt_ms: Option<i64>,
    /// Results still waiting in its spool after this batch.
    #[serde(default)]
    pub backlog: u64,
    /// Results it dropped because its spool was full, since it started.
    #[serde(default)]
    pub dropped: u64,
    /// Whether its controls are reachable (`None`: it has none, or they have not reported).
    #[serde(default)]
    pub controls_ok: Option<bool>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    pub results: Vec<PushResult>,
}

/// One result as an agent sends it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PushResult {
    /// Made by the agent, unique across its restarts: a result sent twice is stored once.
    pub id: String,
    pub target: String,
    /// When the probe started, by the agent's clock.
    pub at_ms: i64,
    pub health: Health,
    #[serde(default)]
    pub phases: Phases,
    #[serde(default)]
    pub error_class: Option<ErrorClass>,
    #[serde(default)]
    pub error: Option<String>,
    /// The probe's details (kept for failures).
    #[serde(default)]
    pub details: Option<serde_json::Value>,
    /// The agent's controls were unreachable when it was taken.
    #[serde(default)]
    pub unmeasured: bool,
    /// Time left on the leaf certificate, for TLS results.
    #[serde(default)]
    pub cert_expires_in_ms: Option<i64>,
}

impl PushResult {
    /// The result of a probe run on the agent.
    pub fn from_output(
        id: String,
        target: &str,
        m: &crate::probe::ProbeOutput,
        unmeasured: bool,
    ) -> Self {
        PushResult {
            id,
            target: target.to_string(),
            at_ms: m.at_ms,
            health: m.health,
            phases: m.phases,
            error_class: m.cause.as_ref().map(|c| c.class),
            error: m.cause.as_ref().map(|c| c.detail.clone()),
            details: (m.health != Health::Up)
                .then(|| serde_json::to_value(&m.details).ok())
                .flatten(),
            unmeasured,
            cert_expires_in_ms: m.observation.cert_expires_in_ms,
        }
    }

    /// As a probe output (at the server), its time shifted by `shift_ms`.
    pub fn to_output(&self, shift_ms: i64) -> crate::probe::ProbeOutput {
        crate::probe::ProbeOutput {
            at_ms: self.at_ms + shift_ms,
            phases: self.phases,
            health: self.health,
            cause: (self.health != Health::Up).then(|| Cause {
                class: self.error_class.unwrap_or(ErrorClass::Unknown),
                detail: self.error.clone().unwrap_or_default(),
            }),
            details: self
                .details
                .clone()
                .and_then(|d| serde_json::from_value(d).ok())
                .unwrap_or_default(),
            observation: probity_core::condition::Observation {
                cert_expires_in_ms: self.cert_expires_in_ms,
                ..Default::default()
            },
        }
    }
}

/// A result the server would not store, and why.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Rejected {
    /// Its position in the push.
    pub index: usize,
    pub id: String,
    pub error: String,
}

/// The answer to a push: `200` when every result was taken, `422` when some were rejected
/// (the others are stored all the same).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct PushResponse {
    pub accepted: usize,
    /// Already stored from an earlier push: not stored again.
    pub duplicates: usize,
    pub rejected: Vec<Rejected>,
    /// When the server received the push and answered it, by its clock.
    pub received_at_ms: i64,
    pub replied_at_ms: i64,
    /// Whether the results' times were corrected by the agent's clock offset.
    pub clock_corrected: bool,
    pub config_version: String,
}
