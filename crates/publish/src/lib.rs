//! What probity shows the outside: the JSON API (`api`) and its OpenAPI document
//! (`openapi`), the agents' endpoints (`agents`), the operators' dashboard (`dashboard`),
//! the public status page (`status_page`), badges (`badges`) and Prometheus metrics
//! (`metrics`).
//!
//! **Architecture Invariant:** this crate imports the layers below it (`probity-core`,
//! `probity-ground`, `probity-engine`) and never the application crate.
#![forbid(unsafe_code)]

pub mod agents;
pub mod api;
pub mod badges;
pub mod dashboard;
pub mod metrics;
pub mod openapi;
pub mod serve;
pub mod state;
pub mod status_auto;
pub mod status_page;
