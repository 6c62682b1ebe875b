//! What probity shows the outside: the JSON API and the Prometheus metrics.

pub mod agents;
pub mod api;
pub mod badges;
pub mod dashboard;
pub mod metrics;
pub mod openapi;
