//! Probity's domain core: the values that flow through the system and the pure functions
//! over them. Nothing in this crate does I/O, reads a clock or spawns a task; every function
//! takes the instants it needs as plain milliseconds since the Unix epoch.
//!
//! - [`duration`]: humane durations (`30s`, `5m`, `14d`) as used in configuration.
//! - [`result`]: what one probe observed (phases, verdict, error class).
//! - [`condition`]: the condition language (`[STATUS] == 200`, `[LATENCY] < 500ms`).
//! - [`observe`]: turning a stream of results into observed incidents.
//! - [`sketch`]: a mergeable latency sketch for per-minute rollups and percentiles.
//! - [`chunk`]: stored results coded compactly, one target's at a time.
//! - [`merkle`]: the RFC 6962 Merkle tree, its proofs and verifiers.
//! - [`note`]: C2SP signed notes (Ed25519) and tlog checkpoints.
//! - [`provider`]: incidents as providers declare them, normalized.
//! - [`names`]: how providers name regions and services, and matching them to targets.
//! - [`reconcile`]: observed incidents set against declared ones; the trust scorecard.
//! - [`sla`]: monthly uptime and credits by a provider's own SLA terms.
//! - [`slo`]: objectives, error budgets and multi-window burn-rate alerts.
//! - [`maintenance`]: fixed and recurring maintenance windows.
//! - [`quorum`]: several vantage points combined into one state by a quorum rule.
//! - [`judge`]: the canary judge: is a canary worse than its baseline?
//! - [`witness`]: C2SP tlog-witness: cosignatures and the add-checkpoint decision.
//! - [`federation`]: signed outage statements shared between instances, and corroboration.
#![forbid(unsafe_code)]

pub mod chunk;
pub mod cluster;
pub mod condition;
pub mod duration;
pub mod federation;
pub mod judge;
pub mod maintenance;
pub mod merkle;
pub mod names;
pub mod note;
pub mod observe;
pub mod provider;
pub mod quorum;
pub mod reconcile;
pub mod result;
pub mod scorecard;
pub mod sketch;
pub mod sla;
pub mod slo;
pub mod witness;
