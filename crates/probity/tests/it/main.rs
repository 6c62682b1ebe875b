//! The integration tests: one binary, a module per area. Shared helpers live in `common`.

mod agents;
mod alerts;
mod badges;
mod browser;
mod cli;
mod common;
mod docs;
mod evidence;
mod feed_polling;
mod feeds;
mod fuzz_corpus;
mod hardening;
mod heartbeat;
mod layers;
mod openapi;
mod packaging;
mod probes;
mod reconcile;
mod reload;
mod run;
mod sla;
mod sources;
mod status_page;
mod store;
mod store_faults;
mod telemetry;
