//! Probity: probes, stores, observes and publishes. See ARCHITECTURE.md for the code map.
#![forbid(unsafe_code)]

pub mod agent;
pub mod alert;
pub mod bundle;
pub mod cli;
pub mod config;
pub mod demo;
pub mod evidence;
pub mod feeds;
pub mod fuzz;
pub mod heartbeat;
pub mod live;
pub mod probe;
pub mod publish;
pub mod reconcile;
pub mod record;
pub mod run;
pub mod schedule;
pub mod sla;
pub mod slo;
pub mod sources;
pub mod status;
pub mod store;
pub mod telemetry;
pub mod vantage;

/// Installs the process-wide rustls crypto provider once (aws-lc-rs).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}
