//! What both backends compute the same way when they write, without SQL: a batch's
//! rollups and evidence records, a stored federation statement read back, id counters.

use super::*;

/// Counts one result into its minute's rollup (both backends write rollups this way).
pub(crate) fn add_to_rollup(roll: &mut Rollup, r: &ResultRecord) {
    roll.count += 1;
    match r.health {
        Health::Down => roll.failures += 1,
        Health::Degraded => roll.degraded += 1,
        Health::Up => {}
    }
    if let Some(ms) = r.phases.total_ms {
        roll.latency_min_ms = roll.latency_min_ms.min(ms);
        roll.latency_max_ms = roll.latency_max_ms.max(ms);
        roll.latency_sum_ms += ms;
        roll.sketch.insert(ms);
    }
}

/// The measured results of a batch summed per (target, vantage, minute), in a stable order.
pub(crate) fn rollups_of(results: &[ResultRecord]) -> Vec<Rollup> {
    let mut minutes: std::collections::BTreeMap<(&str, &str, i64), Rollup> = Default::default();
    for r in results.iter().filter(|r| !r.unmeasured) {
        let minute = minute_of(r.at_ms);
        let roll = minutes
            .entry((r.target.as_str(), r.vantage.as_str(), minute))
            .or_insert_with(|| Rollup {
                target: r.target.clone(),
                vantage: r.vantage.clone(),
                minute_ms: minute,
                count: 0,
                failures: 0,
                degraded: 0,
                latency_min_ms: f64::INFINITY,
                latency_max_ms: 0.0,
                latency_sum_ms: 0.0,
                sketch: Sketch::new(),
            });
        add_to_rollup(roll, r);
    }
    minutes.into_values().collect()
}

/// A rollup as a row holds it (counts as integers, the sketch encoded).
pub(crate) struct RollupRow {
    pub count: i64,
    pub failures: i64,
    pub degraded: i64,
    pub min: f64,
    pub max: f64,
    pub sum: f64,
    pub sketch: String,
}

impl RollupRow {
    pub(crate) fn into_rollup(
        self,
        target: String,
        vantage: String,
        minute_ms: i64,
    ) -> StoreResult<Rollup> {
        let sketch = Sketch::decode(&self.sketch).ok_or_else(|| {
            StoreError::Corrupt(format!("rollup sketch for {target} at {minute_ms}"))
        })?;
        Ok(Rollup {
            target,
            vantage,
            minute_ms,
            count: self.count as u64,
            failures: self.failures as u64,
            degraded: self.degraded as u64,
            latency_min_ms: self.min,
            latency_max_ms: self.max,
            latency_sum_ms: self.sum,
            sketch,
        })
    }
}

/// Adds the minute's stored rollup (if any) into the batch's, ready to be written back.
pub(crate) fn merged_rollup(mut roll: Rollup, stored: Option<RollupRow>) -> StoreResult<Rollup> {
    if let Some(old) = stored {
        let old = old.into_rollup(roll.target.clone(), roll.vantage.clone(), roll.minute_ms)?;
        roll.count += old.count;
        roll.failures += old.failures;
        roll.degraded += old.degraded;
        roll.latency_min_ms = roll.latency_min_ms.min(old.latency_min_ms);
        roll.latency_max_ms = roll.latency_max_ms.max(old.latency_max_ms);
        roll.latency_sum_ms += old.latency_sum_ms;
        roll.sketch.merge(&old.sketch);
    }
    if !roll.latency_min_ms.is_finite() {
        roll.latency_min_ms = 0.0;
    }
    Ok(roll)
}

/// The evidence records of a batch whose results were `inserted`: one leaf for the
/// results (if any), one per incident change, then one per canary the caller inserted
/// (`canary_inserted(entry, leaf)` stores it at that leaf and says whether it was new).
/// Returns the records and the index of the first incident change's leaf.
pub(crate) fn batch_records(
    batch: &Batch,
    inserted: &[ResultRecord],
    base: u64,
    canary_inserted: &mut dyn FnMut(&crate::probe::CanaryEntry, u64) -> StoreResult<bool>,
) -> StoreResult<(Vec<Vec<u8>>, u64)> {
    let mut records = Vec::new();
    if !inserted.is_empty() {
        records.push(leaf::results_record(inserted));
    }
    records.extend(batch.incidents.iter().map(leaf::incident_record));
    let first_incident_leaf = base + records.len() as u64 - batch.incidents.len() as u64;
    for c in &batch.canaries {
        if canary_inserted(c, base + records.len() as u64)? {
            records.push(leaf::canary_record(c));
        }
    }
    Ok((records, first_incident_leaf))
}

/// How `minute_counts` splits `[since_ms, until_ms)`: the whole minutes `[a, b)`, read from
/// the rollups, and the parts of minutes at its edges, read from the results themselves so
/// that nothing outside the bounds counts (empty parts left out).
pub(crate) fn minute_split(since_ms: i64, until_ms: i64) -> ((i64, i64), Vec<(i64, i64)>) {
    let ceil = |t: i64| t.div_euclid(60_000) * 60_000 + if t % 60_000 == 0 { 0 } else { 60_000 };
    let (a, b) = (ceil(since_ms), until_ms.div_euclid(60_000) * 60_000);
    let (a, b) = if a < b { (a, b) } else { (until_ms, until_ms) };
    let edges = if a == until_ms {
        vec![(since_ms, until_ms)]
    } else {
        vec![(since_ms, a), (b, until_ms)]
    };
    ((a, b), edges.into_iter().filter(|(x, y)| x < y).collect())
}

/// A received statement's stored envelope, read back (both backends keep it as JSON).
pub(crate) fn decode_statement(
    envelope: &str,
) -> StoreResult<(
    probity_core::federation::Statement,
    probity_core::federation::Envelope,
)> {
    let corrupt = |e: String| StoreError::Corrupt(format!("federation statement: {e}"));
    let env: probity_core::federation::Envelope =
        serde_json::from_str(envelope).map_err(|e| corrupt(e.to_string()))?;
    let (text, _) =
        probity_core::note::split_note(&env.statement).map_err(|e| corrupt(e.to_string()))?;
    let st =
        probity_core::federation::Statement::parse(text).map_err(|e| corrupt(e.to_string()))?;
    Ok((st, env))
}

/// The next result id and incident id of a SQLite store: read when it opens, then handed
/// out by the one recorder (a PostgreSQL store hands out blocks instead, one per server).
pub(crate) struct Ids {
    result: std::sync::Mutex<i64>,
    incident: std::sync::Mutex<i64>,
}

impl Ids {
    pub(crate) fn new(result: i64, incident: i64) -> Ids {
        Ids {
            result: std::sync::Mutex::new(result),
            incident: std::sync::Mutex::new(incident),
        }
    }

    fn take(n: &std::sync::Mutex<i64>) -> i64 {
        let mut n = n.lock().expect("id lock");
        *n += 1;
        *n - 1
    }

    pub(crate) fn next_result(&self) -> i64 {
        Self::take(&self.result)
    }

    pub(crate) fn next_incident(&self) -> i64 {
        Self::take(&self.incident)
    }
}
