//! SQLite: compact results. Results whose leaf was written more than `compact_after` ago
//! move out of `results` into per-target chunks (`probity_core::chunk`, a dozen bytes a
//! result), and the evidence record of each of their leaves is rebuilt from the chunks
//! instead of being kept a second time.
//!
//! A compaction pass takes one UTC hour of leaves (by the leaf's time) at a time:
//! 1. **check**: every results leaf of the hour is rebuilt from its rows; a leaf whose
//!    rebuilt bytes are not its stored bytes (written in another order, by an older
//!    probity) keeps its stored record;
//! 2. **move**, a few targets per transaction: each target's rows of those leaves are coded
//!    into one chunk per vantage and UTC hour of their time, the chunk is decoded again
//!    and compared with the rows, then written, and the rows deleted in the same
//!    transaction. A row an incident names stays a row as well (its `leaf` becomes -1), so
//!    the incident's page reads it as before;
//! 3. **drop**: every leaf of the hour notes its results' time span and ids (so that they
//!    are found by id); those whose record rebuilt keep an empty `record`.
//!
//! A crash between steps leaves either rows or chunks, never both or neither (step 2 is
//! one transaction a target group), and records stay stored until step 3: nothing is lost,
//! a leaf is at most left uncompacted. Reading a leaf's record decodes the chunks of its
//! time span: a leaf whose results span more than [`MAX_SPAN_MS`] (an agent's results
//! pushed late) keeps its stored record, so a rebuild reads a couple of hours of chunks.

use super::*;
use probity_core::chunk;
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::{BTreeMap, HashMap, HashSet};

const HOUR_MS: i64 = 3_600_000;

/// The widest time span of a leaf's results that is compacted; wider leaves keep their
/// stored record.
pub const MAX_SPAN_MS: i64 = 2 * HOUR_MS;

/// Targets whose rows are moved in one transaction (the writer waits no longer than that).
const TARGETS_PER_TX: usize = 16;

const ROW_COLUMNS: &str = "id, at_ms, leaf, health, dns_ms, connect_ms, tls_ms, ttfb_ms, total_ms, error_class, error, details, unmeasured, origin, clock_offset_ms";

fn hour_of(ms: i64) -> i64 {
    ms.saturating_sub(ms.rem_euclid(HOUR_MS))
}

fn chunk_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<chunk::Row> {
    Ok(chunk::Row {
        id: r.get(0)?,
        at_ms: r.get(1)?,
        leaf: r.get::<_, Option<i64>>(2)?.unwrap_or(-1),
        health: r.get(3)?,
        phases: [r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?],
        error_class: r.get(9)?,
        error: r.get(10)?,
        details: r.get(11)?,
        unmeasured: r.get::<_, i64>(12)? != 0,
        origin: r.get(13)?,
        clock_offset_ms: r.get(14)?,
    })
}

/// A chunk's row as the store's result record (the same conversions as a row's).
fn to_record(target: &str, vantage: &str, r: chunk::Row) -> StoreResult<ResultRecord> {
    Ok(ResultRecord {
        id: r.id,
        target: target.to_string(),
        vantage: vantage.to_string(),
        at_ms: r.at_ms,
        health: health_of(&r.health)?,
        phases: Phases {
            dns_ms: r.phases[0],
            connect_ms: r.phases[1],
            tls_ms: r.phases[2],
            ttfb_ms: r.phases[3],
            total_ms: r.phases[4],
        },
        cause: cause_of(r.error_class, r.error),
        details: r.details,
        unmeasured: r.unmeasured,
        origin: r.origin,
        clock_offset_ms: r.clock_offset_ms,
    })
}

fn decode(target: &str, vantage: &str, start_ms: i64, data: &[u8]) -> StoreResult<Vec<chunk::Row>> {
    chunk::decode(data).map_err(|e| {
        StoreError::Corrupt(format!(
            "the chunk of {target} from {vantage} starting at {start_ms}: {e}"
        ))
    })
}

/// The results of `target` with times in `[since_ms, until_ms)` held in chunks, newest
/// first, at least `limit` of them when there are (more when an hour holds more).
pub(super) fn target_results(
    c: &Connection,
    target: &str,
    since_ms: i64,
    until_ms: i64,
    limit: usize,
) -> StoreResult<Vec<ResultRecord>> {
    let mut stmt = c.prepare_cached(
        "SELECT vantage, start_ms, data FROM result_chunks
         WHERE target = ?1 AND start_ms >= ?2 AND start_ms < ?3 ORDER BY start_ms DESC",
    )?;
    let mut rows = stmt.query(params![target, hour_of(since_ms), until_ms])?;
    let mut out: Vec<ResultRecord> = Vec::new();
    while let Some(r) = rows.next()? {
        let (vantage, start): (String, i64) = (r.get(0)?, r.get(1)?);
        // Chunks come newest hour first and each lies within its hour: once `limit`
        // results are newer than this chunk's hour, no older chunk can displace them.
        if out.len() >= limit {
            out.sort_by_key(|r| std::cmp::Reverse((r.at_ms, r.id)));
            if out[limit - 1].at_ms >= hour_of(start).saturating_add(HOUR_MS) {
                break;
            }
        }
        for row in decode(target, &vantage, start, &r.get::<_, Vec<u8>>(2)?)? {
            if row.at_ms >= since_ms && row.at_ms < until_ms {
                out.push(to_record(target, &vantage, row)?);
            }
        }
    }
    Ok(out)
}

/// The latest chunked result of `target`, if any.
pub(super) fn latest_of(c: &Connection, target: &str) -> StoreResult<Option<ResultRecord>> {
    Ok(target_results(c, target, i64::MIN, i64::MAX, 1)?
        .into_iter()
        .max_by_key(|r| (r.at_ms, r.id)))
}

/// The targets that have chunks, by stepping through the key (a lookup per target).
pub(super) fn chunked_targets(c: &Connection) -> StoreResult<Vec<String>> {
    let mut stmt = c.prepare_cached(
        "WITH RECURSIVE t(name) AS (
             SELECT MIN(target) FROM result_chunks
             UNION ALL
             SELECT (SELECT MIN(target) FROM result_chunks WHERE target > t.name)
             FROM t WHERE t.name IS NOT NULL
         ) SELECT name FROM t WHERE name IS NOT NULL",
    )?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Where a compacted leaf's results are.
#[derive(Clone, Copy, Debug)]
pub(super) struct Span {
    pub from_ms: i64,
    pub to_ms: i64,
}

/// The results of each leaf in `leaves` (compacted ones), by leaf, in id order: the
/// chunks of their time spans decoded, their rows kept.
pub(super) fn leaf_results(
    c: &Connection,
    leaves: &BTreeMap<u64, Span>,
) -> StoreResult<HashMap<u64, Vec<ResultRecord>>> {
    let mut out: HashMap<u64, Vec<ResultRecord>> = HashMap::new();
    // Overlapping spans read together, each chunk once.
    let mut spans: Vec<(i64, i64)> = leaves
        .values()
        .map(|s| (hour_of(s.from_ms), s.to_ms))
        .collect();
    spans.sort_unstable();
    let mut merged: Vec<(i64, i64)> = Vec::new();
    for (a, b) in spans {
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    let mut stmt = c.prepare_cached(
        "SELECT target, vantage, start_ms, data FROM result_chunks
         WHERE start_ms >= ?1 AND start_ms <= ?2",
    )?;
    for (a, b) in merged {
        let mut rows = stmt.query(params![a, b])?;
        while let Some(r) = rows.next()? {
            let (target, vantage, start): (String, String, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
            for row in decode(&target, &vantage, start, &r.get::<_, Vec<u8>>(3)?)? {
                let leaf = row.leaf as u64;
                if row.leaf >= 0 && leaves.contains_key(&leaf) {
                    out.entry(leaf)
                        .or_default()
                        .push(to_record(&target, &vantage, row)?);
                }
            }
        }
    }
    for v in out.values_mut() {
        v.sort_by_key(|r| r.id);
        v.dedup_by_key(|r| r.id);
    }
    Ok(out)
}

/// Fills in the records of compacted leaves (stored empty) from their chunks; `spans`
/// says which leaves are compacted.
pub(super) fn rebuild(
    c: &Connection,
    leaves: &mut [EvidenceLeaf],
    spans: &BTreeMap<u64, Span>,
) -> StoreResult<()> {
    if spans.is_empty() {
        return Ok(());
    }
    let mut results = leaf_results(c, spans)?;
    for leaf in leaves.iter_mut().filter(|l| spans.contains_key(&l.index)) {
        let rows = results.remove(&leaf.index).unwrap_or_default();
        leaf.record = crate::store::leaf::results_record(&rows);
        leaf.rebuilt = true;
    }
    Ok(())
}

/// The stored results with ids in `from_id..=to_id` that live in chunks.
pub(super) fn results_by_ids(
    c: &Connection,
    from_id: i64,
    to_id: i64,
) -> StoreResult<Vec<ResultRecord>> {
    // A leaf's ids are one run and leaves follow each other's ids: the leaves whose first
    // id is at most `to_id`, newest first, until one ends before `from_id`.
    let mut stmt = c.prepare_cached(
        "SELECT idx, span_from_ms, span_to_ms, last_id FROM evidence_leaves
         WHERE first_id IS NOT NULL AND first_id <= ?1 ORDER BY first_id DESC",
    )?;
    let mut rows = stmt.query([to_id])?;
    let mut spans = BTreeMap::new();
    while let Some(r) = rows.next()? {
        let last: i64 = r.get(3)?;
        if last < from_id {
            break;
        }
        spans.insert(
            r.get::<_, i64>(0)? as u64,
            Span {
                from_ms: r.get(1)?,
                to_ms: r.get(2)?,
            },
        );
    }
    let mut out: Vec<ResultRecord> = leaf_results(c, &spans)?
        .into_values()
        .flatten()
        .filter(|r| r.id >= from_id && r.id <= to_id)
        .collect();
    out.sort_by_key(|r| r.id);
    Ok(out)
}

/// The highest result id held in chunks (ids must never be handed out twice): the last of
/// the compacted leaves with the highest first ids (leaves follow each other's ids; a few
/// are read, not one, in case two ran side by side).
pub(super) fn max_chunked_id(c: &Connection) -> rusqlite::Result<i64> {
    c.query_row(
        "SELECT COALESCE(MAX(last_id), 0) FROM (SELECT last_id FROM evidence_leaves
         WHERE first_id IS NOT NULL ORDER BY first_id DESC LIMIT 64)",
        [],
        |r| r.get(0),
    )
}

/// How many results chunks starting in `[from_ms, to_ms)` hold (a chunk lies within one
/// hour, so within one UTC day), for `store stats`.
pub(super) fn chunked_count(c: &Connection, from_ms: i64, to_ms: i64) -> rusqlite::Result<i64> {
    c.query_row(
        "SELECT COALESCE(SUM(rows), 0) FROM result_chunks WHERE start_ms >= ?1 AND start_ms < ?2",
        [from_ms, to_ms],
        |r| r.get(0),
    )
}

impl SqliteStore {
    /// Reads with a connection from the pool, for work that fails with a store error.
    pub(super) fn read_store<T>(
        &self,
        f: impl FnOnce(&Connection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let mut out = None;
        self.read(|c| {
            out = Some(f(c));
            Ok(())
        })?;
        out.expect("ran")
    }

    /// One compaction pass over the oldest hour of leaves written before `before_ms` whose
    /// results are still rows; `None` when there is no such hour.
    pub(super) fn compact_hour(&self, before_ms: i64) -> StoreResult<Option<Compacted>> {
        // The oldest leaf whose results are rows, and its hour's leaves.
        let range = self.read(|c| {
            let Some(first): Option<i64> =
                c.query_row("SELECT MIN(leaf) FROM results WHERE leaf >= 0", [], |r| {
                    r.get(0)
                })?
            else {
                return Ok(None);
            };
            let Some(at): Option<i64> = c
                .query_row(
                    "SELECT at_ms FROM evidence_leaves WHERE idx = ?1",
                    [first],
                    |r| r.get(0),
                )
                .optional()?
            else {
                // Rows naming a leaf the log does not have (a store changed outside
                // probity): they stay rows, no longer in the way of the rest.
                return Ok(Some((first, -1)));
            };
            let hour = hour_of(at);
            if hour + HOUR_MS > before_ms {
                return Ok(None);
            }
            let end: Option<i64> = c
                .query_row(
                    "SELECT MIN(idx) FROM evidence_leaves WHERE at_ms >= ?1 AND idx > ?2",
                    params![hour + HOUR_MS, first],
                    |r| r.get(0),
                )
                .optional()?
                .flatten();
            Ok(Some((first, end.unwrap_or(i64::MAX))))
        })?;
        let Some((first, end)) = range else {
            return Ok(None);
        };
        if end < 0 {
            let conn = self.writer.lock().expect("writer lock");
            conn.execute("UPDATE results SET leaf = NULL WHERE leaf = ?1", [first])?;
            return Ok(Some(Compacted::default()));
        }
        let mut done = Compacted::default();
        // 1. Check: where each leaf's rows are, and whether its record rebuilds from them.
        let checked = self.read_store(|c| check_leaves(c, first, end))?;
        // 2. Move: each target's rows of these leaves into chunks.
        let groups: Vec<(String, String)> = self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT DISTINCT target, vantage FROM results WHERE leaf >= ?1 AND leaf < ?2",
            )?;
            let rows = stmt.query_map(params![first, end], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })?;
        for group in groups.chunks(TARGETS_PER_TX) {
            let mut conn = self.writer.lock().expect("writer lock");
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            for (target, vantage) in group {
                let (chunks, rows) = move_rows(&tx, target, vantage, first, end)?;
                done.chunks += chunks;
                done.results += rows;
            }
            tx.commit()?;
        }
        // 3. Drop the checked leaves' records: their results are all in chunks now.
        let mut conn = self.writer.lock().expect("writer lock");
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let left: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM results WHERE leaf >= ?1 AND leaf < ?2)",
                params![first, end],
                |r| r.get(0),
            )?;
            // Rows written into these leaves since the check cannot exist (a leaf is written
            // with its rows); should any be left, the records stay.
            if !left {
                // Every leaf says where its results are (so that they are found by id); a
                // leaf whose record rebuilds stops keeping it.
                let mut mark = tx.prepare_cached(
                    "UPDATE evidence_leaves SET span_from_ms = ?2, span_to_ms = ?3,
                     first_id = ?4, last_id = ?5,
                     record = CASE WHEN ?6 THEN x'' ELSE record END WHERE idx = ?1",
                )?;
                for (idx, c) in &checked {
                    mark.execute(params![
                        idx, c.from_ms, c.to_ms, c.first_id, c.last_id, c.rebuilds
                    ])?;
                    done.leaves += usize::from(c.rebuilds);
                }
            }
        }
        tx.commit()?;
        Ok(Some(done))
    }
}

/// A results leaf of the pass: where its results are, and whether its record rebuilds
/// byte for byte from them (only then is the stored copy dropped).
struct Checked {
    from_ms: i64,
    to_ms: i64,
    rebuilds: bool,
    first_id: i64,
    last_id: i64,
}

/// The results leaves in `[first, end)` whose results span at most [`MAX_SPAN_MS`], with
/// where those results are and whether the record rebuilds byte for byte from them.
fn check_leaves(c: &Connection, first: i64, end: i64) -> StoreResult<Vec<(i64, Checked)>> {
    let mut leaves = c.prepare_cached(
        "SELECT idx, record FROM evidence_leaves WHERE idx >= ?1 AND idx < ?2 AND length(record) > 0",
    )?;
    let mut rows_of = c.prepare_cached(&format!(
        "SELECT {RESULT_COLUMNS} FROM results WHERE leaf = ?1 ORDER BY id"
    ))?;
    let mut out = Vec::new();
    let mut it = leaves.query(params![first, end])?;
    while let Some(l) = it.next()? {
        let idx: i64 = l.get(0)?;
        let record: Vec<u8> = l.get(1)?;
        if !record.starts_with(br#"{"type":"results""#) {
            continue;
        }
        let rows: Vec<ResultRecord> = rows_of
            .query_map([idx], result_row)?
            .collect::<Result<_, _>>()?;
        let (Some(lo), Some(hi)) = (
            rows.iter().map(|r| r.at_ms).min(),
            rows.iter().map(|r| r.at_ms).max(),
        ) else {
            continue;
        };
        if hi - lo > MAX_SPAN_MS {
            continue;
        }
        out.push((
            idx,
            Checked {
                from_ms: lo,
                to_ms: hi,
                first_id: rows[0].id,
                last_id: rows[rows.len() - 1].id,
                rebuilds: crate::store::leaf::results_record(&rows) == record,
            },
        ));
    }
    Ok(out)
}

/// Moves the rows of `target` from `vantage` written into leaves `[first, end)` into
/// chunks, one per UTC hour of their times: (chunks written, rows moved).
fn move_rows(
    tx: &rusqlite::Transaction<'_>,
    target: &str,
    vantage: &str,
    first: i64,
    end: i64,
) -> StoreResult<(usize, usize)> {
    let mut select = tx.prepare_cached(&format!(
        "SELECT {ROW_COLUMNS} FROM results
         WHERE target = ?1 AND vantage = ?2 AND leaf >= ?3 AND leaf < ?4 ORDER BY at_ms, id"
    ))?;
    let rows: Vec<chunk::Row> = select
        .query_map(params![target, vantage, first, end], chunk_row)?
        .collect::<Result<_, _>>()?;
    let mut by_hour: BTreeMap<i64, Vec<chunk::Row>> = BTreeMap::new();
    for r in rows {
        by_hour.entry(hour_of(r.at_ms)).or_default().push(r);
    }
    let mut insert = tx.prepare_cached(
        "INSERT INTO result_chunks (target, vantage, start_ms, end_ms, rows, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    let (mut chunks, mut moved) = (0, 0);
    for rows in by_hour.values() {
        let data = chunk::encode(rows);
        // What is written must read back as the rows: checked before a row goes.
        if !chunk::decode(&data).is_ok_and(|back| chunk::same_rows(&back, rows)) {
            return Err(StoreError::Corrupt(format!(
                "the chunk of {target} from {vantage} does not decode to its rows; nothing moved"
            )));
        }
        insert.execute(params![
            target,
            vantage,
            rows[0].at_ms,
            rows[rows.len() - 1].at_ms,
            rows.len() as i64,
            data
        ])?;
        chunks += 1;
        moved += rows.len();
    }
    // The rows go, but those an incident names: they stay, marked as in a chunk.
    let mut delete = tx.prepare_cached(
        "DELETE FROM results WHERE target = ?1 AND vantage = ?2 AND leaf >= ?3 AND leaf < ?4
         AND NOT EXISTS (SELECT 1 FROM incident_evidence WHERE result_id = results.id)",
    )?;
    delete.execute(params![target, vantage, first, end])?;
    let mut keep = tx.prepare_cached(
        "UPDATE results SET leaf = -1 WHERE target = ?1 AND vantage = ?2 AND leaf >= ?3 AND leaf < ?4",
    )?;
    keep.execute(params![target, vantage, first, end])?;
    Ok((chunks, moved))
}

/// The chunks' targets not among `known`, with their latest result.
pub(super) fn latest_beyond(
    c: &Connection,
    known: &HashSet<String>,
) -> StoreResult<Vec<ResultRecord>> {
    let mut out = Vec::new();
    for t in chunked_targets(c)? {
        if !known.contains(&t)
            && let Some(r) = latest_of(c, &t)?
        {
            out.push(r);
        }
    }
    Ok(out)
}

/// Which of `origins` (not among the rows) are in chunks of `vantage`: the chunks of each
/// target's hour, each decoded once.
pub(super) fn chunked_origins(
    c: &Connection,
    vantage: &str,
    origins: &[&Origin],
) -> StoreResult<HashSet<String>> {
    let mut by_hour: BTreeMap<(&str, i64), HashSet<&str>> = BTreeMap::new();
    for o in origins {
        by_hour
            .entry((o.target.as_str(), hour_of(o.at_ms)))
            .or_default()
            .insert(o.origin.as_str());
    }
    let mut stmt = c.prepare_cached(
        "SELECT start_ms, data FROM result_chunks
         WHERE target = ?1 AND start_ms >= ?2 AND start_ms < ?3 AND vantage = ?4",
    )?;
    let mut known = HashSet::new();
    for ((target, hour), wanted) in by_hour {
        let mut rows = stmt.query(params![target, hour, hour + HOUR_MS, vantage])?;
        while let Some(r) = rows.next()? {
            for row in decode(target, vantage, r.get(0)?, &r.get::<_, Vec<u8>>(1)?)? {
                if let Some(o) = row.origin.filter(|o| wanted.contains(o.as_str())) {
                    known.insert(o);
                }
            }
        }
    }
    Ok(known)
}

/// Calls `f` with every result held in chunks (its target, vantage and fields), chunk by
/// chunk: a copy of the store (`store migrate`) writes them as rows. How many there were.
pub(crate) fn each_chunked(
    c: &Connection,
    f: &mut dyn FnMut(&str, &str, chunk::Row) -> StoreResult<()>,
) -> StoreResult<u64> {
    let mut stmt = c.prepare("SELECT target, vantage, start_ms, data FROM result_chunks")?;
    let mut rows = stmt.query([])?;
    let mut n = 0;
    while let Some(r) = rows.next()? {
        let (target, vantage, start): (String, String, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
        for row in decode(&target, &vantage, start, &r.get::<_, Vec<u8>>(3)?)? {
            f(&target, &vantage, row)?;
            n += 1;
        }
    }
    Ok(n)
}
