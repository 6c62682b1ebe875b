//! The probity application: the commands (`cli`), `probity run`'s wiring (`run`), the
//! agent (`agent`) and the demo (`demo`, behind the default-on `demo` feature). The layers
//! it stands on are crates of their own: `probity-core` (pure domain), `probity-ground`
//! (configuration and shared helpers), `probity-engine` (probers, store, recorder, feeds,
//! accounting, evidence, alerts) and `probity-publish` (API, dashboard, status page).
#![forbid(unsafe_code)]

pub mod agent;
pub mod cli;
#[cfg(feature = "demo")]
pub mod demo;
pub mod fuzz;
pub mod run;
