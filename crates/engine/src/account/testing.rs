//! What the accounting tests share: results to write and a seeded random source.

use crate::store::ResultRecord;
use probity_core::result::{Health, Phases};

/// A result of `target` from `vantage`, up or down, taking `ms`.
pub fn result(
    id: i64,
    target: &str,
    vantage: &str,
    at_ms: i64,
    down: bool,
    ms: f64,
) -> ResultRecord {
    ResultRecord {
        id,
        target: target.into(),
        vantage: vantage.into(),
        at_ms,
        health: if down { Health::Down } else { Health::Up },
        phases: Phases {
            total_ms: Some(ms),
            ..Default::default()
        },
        cause: None,
        details: None,
        unmeasured: false,
        origin: None,
        clock_offset_ms: None,
    }
}

/// A xorshift source from `seed`: each call, a number below `n`.
pub fn random(mut seed: u64) -> impl FnMut(u64) -> u64 {
    move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    }
}
