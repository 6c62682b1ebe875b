//! The results table's day partitions: made ahead (today to three days on), and those
//! wholly past the raw retention dropped, the results an incident keeps as evidence moved
//! to the default partition first.

use super::*;

const DAY_MS: i64 = 86_400_000;

/// The partition of the day that starts at `day_ms`: `results_d` and the date.
fn name(day_ms: i64) -> String {
    let date = jiff::Timestamp::from_millisecond(day_ms)
        .map(|t| t.strftime("%Y%m%d").to_string())
        .unwrap_or_else(|_| day_ms.to_string());
    format!("results_d{date}")
}

/// The day partitions there are: (name, first ms, end ms exclusive), oldest first.
fn existing(c: &mut impl GenericClient) -> StoreResult<Vec<(String, i64, i64)>> {
    let rows = c.query(
        "SELECT c.relname::TEXT FROM pg_inherits i
         JOIN pg_class c ON c.oid = i.inhrelid
         JOIN pg_class p ON p.oid = i.inhparent
         WHERE p.relname = 'results' AND c.relname LIKE 'results\\_d%'
           AND p.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
         ORDER BY c.relname",
        &[],
    )?;
    let mut out = Vec::new();
    for r in rows {
        let n: String = r.try_get(0)?;
        let Some(date) = n.strip_prefix("results_d") else {
            continue;
        };
        let Ok(d) = jiff::civil::Date::strptime("%Y%m%d", date) else {
            continue;
        };
        let Ok(start) = d.to_zoned(jiff::tz::TimeZone::UTC) else {
            continue;
        };
        let from = start.timestamp().as_millisecond();
        out.push((n, from, from + DAY_MS));
    }
    Ok(out)
}

/// Makes the day partitions from `now_ms`'s day to three days on that are missing (a
/// result of a day without one, an agent's late push say, goes to the default partition).
/// A day that already has rows in the default partition (imported, or from before the
/// partitions) stays there: it gets no partition. Run under a lock all servers take.
pub(super) fn ensure(c: &mut impl GenericClient, now_ms: i64) -> StoreResult<usize> {
    let have = existing(c)?;
    let today = now_ms.div_euclid(DAY_MS) * DAY_MS;
    let mut made = 0;
    for k in 0..=3 {
        let from = today + k * DAY_MS;
        if have.iter().any(|(_, f, _)| *f == from) {
            continue;
        }
        let taken: bool = c
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM results_default WHERE at_ms >= $1 AND at_ms < $2)",
                &[&from, &(from + DAY_MS)],
            )?
            .try_get(0)?;
        if taken {
            continue;
        }
        c.batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {} PARTITION OF results FOR VALUES FROM ({from}) TO ({})",
            name(from),
            from + DAY_MS
        ))?;
        made += 1;
    }
    Ok(made)
}

/// Drops the day partitions that end at or before `before_ms`, moving the results an
/// incident keeps as evidence into the default partition first: how many results went.
pub(super) fn drop_before(
    tx: &mut postgres::Transaction<'_>,
    before_ms: i64,
) -> StoreResult<usize> {
    let mut dropped = 0;
    for (n, _, end) in existing(tx)? {
        if end > before_ms {
            continue;
        }
        let total: i64 = tx
            .query_one(&format!("SELECT COUNT(*) FROM {n}"), &[])?
            .try_get(0)?;
        tx.batch_execute(&format!(
            "CREATE TEMP TABLE kept_results ON COMMIT DROP AS
                 SELECT * FROM {n} r
                 WHERE EXISTS (SELECT 1 FROM incident_evidence e WHERE e.result_id = r.id);
             ALTER TABLE results DETACH PARTITION {n};
             DROP TABLE {n};
             INSERT INTO results SELECT * FROM kept_results;
             DROP TABLE kept_results;"
        ))?;
        let kept: i64 = tx
            .query_one(
                "SELECT COUNT(*) FROM results_default WHERE at_ms >= $1 AND at_ms < $2",
                &[&(end - DAY_MS), &end],
            )?
            .try_get(0)?;
        dropped += (total - kept).max(0) as usize;
    }
    Ok(dropped)
}
