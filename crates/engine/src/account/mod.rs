//! Accounting: what was observed set against what was declared (`reconcile`), SLA months
//! by the providers' own terms (`sla`) and SLOs with error budgets (`slo`). The math is
//! pure and lives in `probity-core`; these modules gather its inputs from the store.

pub mod measured;
pub mod reconcile;
pub mod sla;
pub mod slo;
#[cfg(test)]
mod testing;
