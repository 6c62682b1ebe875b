//! Probity's engines, in the order data flows through them: `probe` (one prober per kind),
//! `schedule` (the scheduler, the vantage gate, heartbeats, other tools' measurements),
//! `record` (the single writer, live state, the agents' wire format), `store` (SQLite),
//! `feeds` (providers' status feeds: parsers and poller), `account` (reconciliation, SLA,
//! SLO), `gate` (a deployment gate's samples: probes, Prometheus, stored results), `attest` (evidence records, key, checkpoints, bundles), `alert` (rules, outbox,
//! delivery) and `telemetry` (OTLP export).
//!
//! **Architecture Invariant:** this crate imports `probity-core` and `probity-ground`,
//! never `probity-publish` or the application; the crate graph makes that a compile error.
#![forbid(unsafe_code)]

pub mod account;
pub mod alert;
pub mod attest;
pub mod feeds;
pub mod gate;
pub mod live;
pub mod probe;
pub mod record;
pub mod schedule;
pub mod store;
pub mod telemetry;
