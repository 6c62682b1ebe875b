//! The shipped catalog of providers' SLA terms (`data/sla-catalog.toml`).

use probity_core::sla::Terms;
use std::sync::OnceLock;

/// The SLA catalog shipped with probity (`crates/ground/data/sla-catalog.toml`).
pub fn catalog() -> &'static [Terms] {
    static CATALOG: OnceLock<Vec<Terms>> = OnceLock::new();
    CATALOG.get_or_init(|| {
        #[derive(serde::Deserialize)]
        struct File {
            terms: Vec<Terms>,
        }
        let f: File = toml::from_str(include_str!("../../data/sla-catalog.toml"))
            .expect("the shipped catalog parses (a test checks it)");
        f.terms
    })
}
