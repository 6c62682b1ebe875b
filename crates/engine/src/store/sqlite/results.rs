//! SQLite: results and what is derived from them: writing a batch (results, rollups, incident changes and their evidence leaves), reading them back, availability, pruning.

use super::*;
use rusqlite::{OptionalExtension, params};
use std::collections::HashMap;

/// The vantages of target `?1` in `rollups`, found by stepping through its key (a few
/// lookups): a query that then joins each vantage's range of minutes (`CROSS JOIN` keeps
/// that order) reads those minutes only. A plain `target = ? AND minute_ms` range reads
/// every minute the target ever had (6 ms for one minute of a target with 30 days; 10 µs
/// this way).
const VANTAGES_OF_TARGET: &str = "WITH RECURSIVE v(name) AS (
                     SELECT MIN(vantage) FROM rollups WHERE target = ?1
                     UNION ALL
                     SELECT (SELECT MIN(vantage) FROM rollups WHERE target = ?1 AND vantage > v.name)
                     FROM v WHERE v.name IS NOT NULL
                 )";

/// The rollups of target ?1 with minutes in `[?2, ?3)`, after `VANTAGES_OF_TARGET`: the
/// key (target, vantage, minute) ranged once per vantage.
const ROLLUPS_IN_RANGE: &str = "FROM v CROSS JOIN rollups r
                   ON r.target = ?1 AND r.vantage = v.name AND r.minute_ms >= ?2 AND r.minute_ms < ?3
                 WHERE v.name IS NOT NULL";

fn canary_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<crate::probe::CanaryEntry> {
    Ok(crate::probe::CanaryEntry {
        store: r.get(0)?,
        slot: r.get(1)?,
        generation: r.get(2)?,
        key: r.get(3)?,
        size: r.get::<_, i64>(4)? as u64,
        sha256: r.get(5)?,
        written_at_ms: r.get(6)?,
        e_tag: r.get(7)?,
        version: r.get(8)?,
    })
}

impl ResultStore for SqliteStore {
    fn next_result_id(&self) -> StoreResult<i64> {
        Ok(self.ids.next_result())
    }

    fn next_incident_id(&self) -> StoreResult<i64> {
        Ok(self.ids.next_incident())
    }

    fn write(&self, batch: &Batch) -> StoreResult<()> {
        let mut conn = self.writer.lock().expect("writer lock");
        let mut evidence_size = self.evidence_size.lock().expect("evidence lock");
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let new_size = write_batch(&tx, batch)?;
        tx.commit()?;
        *evidence_size = new_size;
        Ok(())
    }

    fn write_each(
        &self,
        next: &mut dyn FnMut() -> StoreResult<Option<Batch>>,
    ) -> StoreResult<usize> {
        let mut conn = self.writer.lock().expect("writer lock");
        let mut evidence_size = self.evidence_size.lock().expect("evidence lock");
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut new_size = *evidence_size;
        let mut n = 0;
        while let Some(batch) = next()? {
            new_size = write_batch(&tx, &batch)?;
            n += 1;
        }
        tx.commit()?;
        *evidence_size = new_size;
        Ok(n)
    }

    fn canaries(&self) -> StoreResult<Vec<crate::probe::CanaryEntry>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT store, slot, generation, key, size, sha256, written_at_ms, e_tag, version
                 FROM canaries ORDER BY leaf_idx",
            )?;
            let rows = stmt.query_map([], canary_row)?;
            rows.collect::<Result<Vec<_>, _>>()
        })
    }

    fn canary_record_at(&self, leaf: u64) -> StoreResult<Option<Vec<u8>>> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT store, slot, generation, key, size, sha256, written_at_ms, e_tag, version
                 FROM canaries WHERE leaf_idx = ?1",
                params![leaf as i64],
                canary_row,
            )
            .optional()?
            .map(|e| crate::store::leaf::canary_record(&e)))
        })
    }

    fn results(
        &self,
        target: &str,
        since_ms: Option<i64>,
        until_ms: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<ResultRecord>> {
        let (since, until) = (since_ms.unwrap_or(i64::MIN), until_ms.unwrap_or(i64::MAX));
        self.read_store(|c| {
            // Rows (those also in a chunk, kept for an incident, are read from the chunk).
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {RESULT_COLUMNS} FROM results
                 WHERE target = ?1 AND at_ms >= ?2 AND at_ms < ?3 AND (leaf IS NULL OR leaf >= 0)
                 ORDER BY at_ms DESC, id DESC LIMIT ?4"
            ))?;
            let rows = stmt.query_map(params![target, since, until, limit as i64], result_row)?;
            let mut out: Vec<ResultRecord> = rows.collect::<Result<_, _>>()?;
            if limit > 0 {
                out.extend(super::chunks::target_results(
                    c, target, since, until, limit,
                )?);
            }
            out.sort_by_key(|r| std::cmp::Reverse((r.at_ms, r.id)));
            out.dedup_by_key(|r| r.id);
            out.truncate(limit);
            Ok(out)
        })
    }

    fn latest_results(&self) -> StoreResult<Vec<ResultRecord>> {
        self.read_store(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {RESULT_COLUMNS}, leaf FROM results WHERE id IN (SELECT MAX(id) FROM results GROUP BY target)"
            ))?;
            let rows = stmt.query_map([], |r| Ok((result_row(r)?, r.get::<_, Option<i64>>(16)?)))?;
            let mut out = Vec::new();
            let mut settled = std::collections::HashSet::new();
            for row in rows {
                let (r, leaf) = row?;
                settled.insert(r.target.clone());
                // A row of a leaf not yet compacted is newer than anything in chunks.
                let newer = match leaf {
                    Some(l) if l >= 0 => None,
                    _ => super::chunks::latest_of(c, &r.target)?.filter(|x| x.id > r.id),
                };
                out.push(newer.unwrap_or(r));
            }
            out.extend(super::chunks::latest_beyond(c, &settled)?);
            Ok(out)
        })
    }

    fn rollups(&self, target: &str, since_ms: i64, until_ms: i64) -> StoreResult<Vec<Rollup>> {
        let rows = self.read(|c| {
            // One range of the key per vantage (see `minute_counts`), not the target's
            // whole history.
            let mut stmt = c.prepare_cached(&format!(
                "{VANTAGES_OF_TARGET}
                 SELECT r.vantage, r.minute_ms, r.count, r.failures, r.degraded, r.latency_min_ms,
                        r.latency_max_ms, r.latency_sum_ms, r.sketch
                 {ROLLUPS_IN_RANGE}
                 ORDER BY r.minute_ms, r.vantage"
            ))?;
            let rows = stmt.query_map(params![target, since_ms, until_ms], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    RollupRow {
                        count: r.get(2)?,
                        failures: r.get(3)?,
                        degraded: r.get(4)?,
                        min: r.get(5)?,
                        max: r.get(6)?,
                        sum: r.get(7)?,
                        sketch: r.get(8)?,
                    },
                ))
            })?;
            rows.collect::<Result<Vec<_>, _>>()
        })?;
        rows.into_iter()
            .map(|(vantage, minute, row)| row.into_rollup(target.to_string(), vantage, minute))
            .collect()
    }

    fn rollup_counts(
        &self,
        target: &str,
        since_ms: i64,
        until_ms: i64,
    ) -> StoreResult<Vec<RollupCount>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "{VANTAGES_OF_TARGET}
                 SELECT r.minute_ms, r.count, r.failures
                 {ROLLUPS_IN_RANGE}
                 ORDER BY r.minute_ms, r.vantage"
            ))?;
            let rows = stmt.query_map(params![target, since_ms, until_ms], |r| {
                Ok(RollupCount {
                    minute_ms: r.get(0)?,
                    count: r.get::<_, i64>(1)? as u64,
                    failures: r.get::<_, i64>(2)? as u64,
                })
            })?;
            rows.collect()
        })
    }

    fn availability(
        &self,
        target: &str,
        since_ms: i64,
        until_ms: i64,
    ) -> StoreResult<Availability> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "{VANTAGES_OF_TARGET}
                 SELECT COALESCE(SUM(r.count), 0), COALESCE(SUM(r.failures), 0), COALESCE(SUM(r.degraded), 0)
                 {ROLLUPS_IN_RANGE}"
            ))?;
            stmt.query_row(params![target, minute_of(since_ms), until_ms], |r| {
                Ok(Availability {
                    count: r.get::<_, i64>(0)? as u64,
                    failures: r.get::<_, i64>(1)? as u64,
                    degraded: r.get::<_, i64>(2)? as u64,
                })
            })
        })
    }

    fn minute_counts(
        &self,
        target: &str,
        since_ms: i64,
        until_ms: i64,
    ) -> StoreResult<Vec<(i64, String, u64, u64)>> {
        // Whole minutes from the rollups; the parts of minutes the bounds cut, from the
        // results themselves, so nothing outside `[since, until)` counts.
        let ((a, b), edges) = minute_split(since_ms, until_ms);
        let mut out = self.read(|c| {
            let mut out: std::collections::BTreeMap<(i64, String), (u64, u64)> = Default::default();
            // The key is (target, vantage, minute): one range per vantage.
            let mut whole = c.prepare_cached(&format!(
                "{VANTAGES_OF_TARGET}
                 SELECT r.minute_ms, r.vantage, SUM(r.count), SUM(r.failures)
                 {ROLLUPS_IN_RANGE}
                 GROUP BY r.minute_ms, r.vantage"
            ))?;
            let rows = whole.query_map(params![target, a, b], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })?;
            for row in rows {
                let (m, v, n, f) = row?;
                out.insert((m, v), (n as u64, f as u64));
            }
            Ok(out)
        })?;
        for (x, y) in edges {
            // Rows and chunks alike: the edges are parts of a minute.
            for r in self.results(target, Some(x), Some(y), usize::MAX)? {
                if r.unmeasured {
                    continue;
                }
                let e = out
                    .entry((r.at_ms.div_euclid(60_000) * 60_000, r.vantage))
                    .or_default();
                e.0 += 1;
                e.1 += u64::from(r.health == probity_core::result::Health::Down);
            }
        }
        Ok(out
            .into_iter()
            .map(|((m, v), (n, f))| (m, v, n, f))
            .collect())
    }

    fn availability_by_target(
        &self,
        since_ms: i64,
        until_ms: i64,
    ) -> StoreResult<HashMap<String, Availability>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT target, SUM(count), SUM(failures), SUM(degraded) FROM hourly
                 WHERE hour_ms >= ?1 AND hour_ms < ?2 GROUP BY target",
            )?;
            let rows = stmt.query_map(
                params![since_ms.div_euclid(3_600_000) * 3_600_000, until_ms],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        Availability {
                            count: r.get::<_, i64>(1)? as u64,
                            failures: r.get::<_, i64>(2)? as u64,
                            degraded: r.get::<_, i64>(3)? as u64,
                        },
                    ))
                },
            )?;
            rows.collect()
        })
    }

    fn daily_availability(
        &self,
        since_ms: i64,
        targets: Option<&[String]>,
    ) -> StoreResult<HashMap<(String, i64), Availability>> {
        let row = |r: &rusqlite::Row<'_>| {
            Ok((
                (r.get::<_, String>(0)?, r.get::<_, i64>(1)?),
                Availability {
                    count: r.get::<_, i64>(2)? as u64,
                    failures: r.get::<_, i64>(3)? as u64,
                    degraded: r.get::<_, i64>(4)? as u64,
                },
            ))
        };
        self.read(|c| {
            let Some(targets) = targets else {
                let mut stmt = c.prepare_cached(
                    "SELECT target, (hour_ms / 86400000) * 86400000 AS day, SUM(count), SUM(failures), SUM(degraded)
                     FROM hourly WHERE hour_ms >= ?1 GROUP BY target, day",
                )?;
                return stmt.query_map([since_ms], row)?.collect();
            };
            // The target's part of the key (target, vantage, hour): its hours only.
            let mut stmt = c.prepare_cached(
                "SELECT target, (hour_ms / 86400000) * 86400000 AS day, SUM(count), SUM(failures), SUM(degraded)
                 FROM hourly WHERE target = ?1 AND hour_ms >= ?2 GROUP BY day",
            )?;
            let mut out = HashMap::new();
            for t in targets {
                for r in stmt.query_map(params![t, since_ms], row)? {
                    let (k, a) = r?;
                    out.insert(k, a);
                }
            }
            Ok(out)
        })
    }

    fn results_by_ids(&self, from_id: i64, to_id: i64) -> StoreResult<Vec<ResultRecord>> {
        self.read_store(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {RESULT_COLUMNS} FROM results WHERE id >= ?1 AND id <= ?2 ORDER BY id"
            ))?;
            let rows = stmt.query_map(params![from_id, to_id], result_row)?;
            let mut out: Vec<ResultRecord> = rows.collect::<Result<_, _>>()?;
            out.extend(super::chunks::results_by_ids(c, from_id, to_id)?);
            out.sort_by_key(|r| r.id);
            out.dedup_by_key(|r| r.id);
            Ok(out)
        })
    }

    fn compact(&self, before_ms: i64) -> StoreResult<Compacted> {
        let mut all = Compacted::default();
        while let Some(done) = self.compact_hour(before_ms)? {
            all.results += done.results;
            all.chunks += done.chunks;
            all.leaves += done.leaves;
        }
        Ok(all)
    }

    fn known_origins(
        &self,
        vantage: &str,
        origins: &[Origin],
    ) -> StoreResult<std::collections::HashSet<String>> {
        self.read_store(|c| {
            let mut stmt =
                c.prepare_cached("SELECT 1 FROM results WHERE vantage = ?1 AND origin = ?2")?;
            let mut known = std::collections::HashSet::new();
            let mut unseen = Vec::new();
            for o in origins {
                if stmt.exists(params![vantage, o.origin])? {
                    known.insert(o.origin.clone());
                } else {
                    unseen.push(o);
                }
            }
            // A result compacted since is in its target's chunk of that hour.
            known.extend(super::chunks::chunked_origins(c, vantage, &unseen)?);
            Ok(known)
        })
    }

    fn first_measured(&self) -> StoreResult<HashMap<String, i64>> {
        self.read(|c| {
            let mut stmt =
                c.prepare_cached("SELECT target, MIN(minute_ms) FROM rollups GROUP BY target")?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
            rows.collect()
        })
    }

    fn quick_check(&self) -> StoreResult<()> {
        let problems: Vec<String> = self.read(|c| {
            let mut stmt = c.prepare("PRAGMA quick_check")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            rows.collect()
        })?;
        if problems.len() == 1 && problems[0] == "ok" {
            return Ok(());
        }
        Err(StoreError::Damaged(format!(
            "{} (SQLite's quick check: {})",
            self.path().display(),
            problems.join("; ")
        )))
    }

    fn integrity_check(&self) -> StoreResult<Vec<String>> {
        let problems: Vec<String> = self.read(|c| {
            let mut stmt = c.prepare("PRAGMA integrity_check")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            rows.collect()
        })?;
        Ok(if problems.len() == 1 && problems[0] == "ok" {
            Vec::new()
        } else {
            problems
        })
    }

    fn prune(&self, raw_before_ms: i64, rollup_before_ms: i64) -> StoreResult<Pruned> {
        let conn = self.writer.lock().expect("writer lock");
        // Results that are evidence of an incident are kept as long as the incident.
        let results = conn.execute(
            "DELETE FROM results WHERE at_ms < ?1 AND id NOT IN (SELECT result_id FROM incident_evidence)",
            [raw_before_ms],
        )?;
        let rollups = conn.execute(
            "DELETE FROM rollups WHERE minute_ms < ?1",
            [rollup_before_ms],
        )?;
        conn.execute("DELETE FROM hourly WHERE hour_ms < ?1", [rollup_before_ms])?;
        // The size a day had is kept as long as that day's rollups.
        conn.execute(
            "DELETE FROM store_sizes WHERE day_ms + ?2 <= ?1",
            [rollup_before_ms, DAY_MS],
        )?;
        // Feed documents are the declarations SLA and scorecard work reads: kept as long.
        let tx = conn.unchecked_transaction()?;
        let feed_documents = super::feed_rows::prune_documents(&tx, rollup_before_ms)?;
        let feed_polls = super::feed_rows::prune_polls(&tx, rollup_before_ms)?;
        tx.commit()?;
        // What peers stated is read for the figures' windows: kept as long as rollups.
        let statements = conn.execute(
            "DELETE FROM federation_received AS r WHERE COALESCE(
                (SELECT MAX(e.end_ms) FROM federation_received e
                 WHERE e.origin = r.origin AND e.incident = r.incident),
                r.start_ms) < ?1",
            [rollup_before_ms],
        )?;
        Ok(Pruned {
            results,
            rollups,
            feed_documents,
            feed_polls,
            statements,
        })
    }

    fn disk_bytes(&self) -> StoreResult<u64> {
        let size = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let wal = self.path.with_extension("db-wal");
        Ok(size(&self.path) + size(&wal))
    }

    fn note_size(&self, at_ms: i64, bytes: u64) -> StoreResult<()> {
        let conn = self.writer.lock().expect("writer lock");
        conn.execute(
            "INSERT INTO store_sizes (day_ms, at_ms, bytes) VALUES (?1, ?2, ?3)
             ON CONFLICT (day_ms) DO UPDATE SET at_ms = excluded.at_ms, bytes = excluded.bytes
             WHERE excluded.at_ms >= store_sizes.at_ms",
            params![at_ms.div_euclid(DAY_MS) * DAY_MS, at_ms, bytes as i64],
        )?;
        Ok(())
    }

    fn sizes(&self, since_ms: i64) -> StoreResult<Vec<DaySize>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT day_ms, at_ms, bytes FROM store_sizes WHERE day_ms >= ?1 ORDER BY day_ms",
            )?;
            let rows = stmt.query_map([since_ms.div_euclid(DAY_MS) * DAY_MS], |r| {
                Ok(DaySize {
                    day_ms: r.get(0)?,
                    at_ms: r.get(1)?,
                    bytes: r.get::<_, i64>(2)? as u64,
                })
            })?;
            rows.collect()
        })
    }

    fn stats(&self, now_ms: i64) -> StoreResult<StoreStats> {
        const TABLES: &[&str] = &[
            "rollups",
            "hourly",
            "incidents",
            "evidence_leaves",
            "evidence_checkpoints",
            "feed_polls",
            "feed_documents",
            "provider_revisions",
            "alerts",
            "cosignatures",
        ];
        let wal = std::fs::metadata(self.path.with_extension("db-wal")).map_or(0, |m| m.len());
        self.read(|c| {
            let mut st = StoreStats {
                wal_bytes: wal,
                ..Default::default()
            };
            let pages: i64 = c.query_row("PRAGMA page_count", [], |r| r.get(0))?;
            let page: i64 = c.query_row("PRAGMA page_size", [], |r| r.get(0))?;
            st.database_bytes = (pages * page) as u64;
            for t in TABLES {
                let n: i64 = c.query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get(0))?;
                st.rows.insert((*t).to_string(), n as u64);
            }
            // Results: rows (not those also in a chunk) and results in chunks.
            let rows: i64 = c.query_row(
                "SELECT COUNT(*) FROM results WHERE leaf IS NULL OR leaf >= 0",
                [],
                |r| r.get(0),
            )?;
            let (chunks, chunked): (i64, i64) = c.query_row(
                "SELECT COUNT(*), COALESCE(SUM(rows), 0) FROM result_chunks",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            st.rows.insert("results".into(), (rows + chunked) as u64);
            st.rows.insert("result_chunks".into(), chunks as u64);
            st.rows.insert("results_in_chunks".into(), chunked as u64);
            let day = 86_400_000;
            let today = now_ms.div_euclid(day) * day;
            for d in (1..=7).rev() {
                let from = today - (d - 1) * day;
                let n: i64 = c.query_row(
                    "SELECT COUNT(*) FROM results WHERE at_ms >= ?1 AND at_ms < ?2 AND (leaf IS NULL OR leaf >= 0)",
                    [from, from + day],
                    |r| r.get::<_, i64>(0),
                )? + super::chunks::chunked_count(c, from, from + day)?;
                let date = jiff::Timestamp::from_millisecond(from)
                    .map(|t| t.strftime("%Y-%m-%d").to_string())
                    .unwrap_or_default();
                st.results_per_day.push((date, n as u64));
            }
            Ok(st)
        })
    }
}

/// Writes one batch in `tx`: results, rollups, incident changes, canaries, alerts, and their
/// evidence leaves. Returns the evidence log's new size.
fn write_batch(tx: &rusqlite::Transaction<'_>, batch: &Batch) -> StoreResult<u64> {
    // The results' record is the batch's first leaf: each row names it, so that the record
    // can be rebuilt from the results once they are compacted.
    let base = log_size(tx)?;
    let mut insert = tx.prepare_cached(
        "INSERT OR IGNORE INTO results (id, target, vantage, at_ms, health, dns_ms, connect_ms, tls_ms, ttfb_ms, total_ms, error_class, error, details, unmeasured, origin, clock_offset_ms, leaf)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
    )?;
    let mut inserted_results: Vec<ResultRecord> = Vec::new();
    for r in &batch.results {
        let inserted = insert.execute(params![
            r.id,
            r.target,
            r.vantage,
            r.at_ms,
            r.health.as_str(),
            r.phases.dns_ms,
            r.phases.connect_ms,
            r.phases.tls_ms,
            r.phases.ttfb_ms,
            r.phases.total_ms,
            r.cause.as_ref().map(|c| c.class.as_str()),
            r.cause.as_ref().map(|c| c.detail.as_str()),
            r.details,
            r.unmeasured,
            r.origin,
            r.clock_offset_ms,
            base as i64,
        ])?;
        // Already stored: a replayed batch must not count twice. Unmeasured results are
        // stored as evidence but are no measurement of the target (rollups_of skips them).
        if inserted == 1 {
            inserted_results.push(r.clone());
        }
    }
    let mut get = tx.prepare_cached(
        "SELECT count, failures, degraded, latency_min_ms, latency_max_ms, latency_sum_ms, sketch
         FROM rollups WHERE target = ?1 AND vantage = ?2 AND minute_ms = ?3",
    )?;
    let mut put = tx.prepare_cached(
        "INSERT OR REPLACE INTO rollups (target, vantage, minute_ms, count, failures, degraded, latency_min_ms, latency_max_ms, latency_sum_ms, sketch)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    let mut hourly = tx.prepare_cached(
        "INSERT INTO hourly (target, vantage, hour_ms, count, failures, degraded) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (target, vantage, hour_ms) DO UPDATE SET
           count = count + excluded.count, failures = failures + excluded.failures, degraded = degraded + excluded.degraded",
    )?;
    for roll in rollups_of(&inserted_results) {
        let (target, vantage, minute) = (&roll.target, &roll.vantage, roll.minute_ms);
        hourly.execute(params![
            target,
            vantage,
            minute.div_euclid(3_600_000) * 3_600_000,
            roll.count as i64,
            roll.failures as i64,
            roll.degraded as i64,
        ])?;
        let stored = get
            .query_row(params![target, vantage, minute], |row| {
                Ok(RollupRow {
                    count: row.get(0)?,
                    failures: row.get(1)?,
                    degraded: row.get(2)?,
                    min: row.get(3)?,
                    max: row.get(4)?,
                    sum: row.get(5)?,
                    sketch: row.get(6)?,
                })
            })
            .optional()?;
        let roll = merged_rollup(roll.clone(), stored)?;
        put.execute(params![
            target,
            vantage,
            minute,
            roll.count as i64,
            roll.failures as i64,
            roll.degraded as i64,
            roll.latency_min_ms,
            roll.latency_max_ms,
            roll.latency_sum_ms,
            roll.sketch.encode(),
        ])?;
    }
    let mut evidence = tx.prepare_cached(
        "INSERT OR IGNORE INTO incident_evidence (incident_id, result_id, role) VALUES (?1, ?2, ?3)",
    )?;
    for change in &batch.incidents {
        match change {
            IncidentChange::Open {
                id,
                target,
                started_at_ms,
                severity,
                cause,
                evidence: ids,
                seen,
            } => {
                insert_seen(tx, *id, "opened", seen)?;
                tx.execute(
                    "INSERT OR IGNORE INTO incidents (id, target, started_at_ms, severity, cause_class, cause_detail)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![id, target, started_at_ms, severity.as_str(), cause.class.as_str(), cause.detail],
                )?;
                for r in ids {
                    evidence.execute(params![id, r, "opened"])?;
                }
            }
            IncidentChange::Escalate {
                id,
                severity,
                result_id,
            } => {
                tx.execute(
                    "UPDATE incidents SET severity = ?2 WHERE id = ?1",
                    params![id, severity.as_str()],
                )?;
                evidence.execute(params![id, result_id, "escalated"])?;
            }
            IncidentChange::Resolve {
                id,
                resolved_at_ms,
                evidence: ids,
                seen,
            } => {
                insert_seen(tx, *id, "resolved", seen)?;
                tx.execute(
                    "UPDATE incidents SET resolved_at_ms = ?2 WHERE id = ?1",
                    params![id, resolved_at_ms],
                )?;
                for r in ids {
                    evidence.execute(params![id, r, "resolved"])?;
                }
            }
        }
    }
    // The evidence: one leaf for the results, one per incident change, one per new
    // canary, in the same transaction as what they attest.
    let mut canary = tx.prepare_cached(
        "INSERT OR IGNORE INTO canaries (store, slot, generation, key, size, sha256, written_at_ms, e_tag, version, leaf_idx)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    let (records, first_incident_leaf) =
        batch_records(batch, &inserted_results, base, &mut |c, leaf| {
            Ok(canary.execute(params![
                c.store,
                c.slot,
                c.generation,
                c.key,
                c.size as i64,
                c.sha256,
                c.written_at_ms,
                c.e_tag,
                c.version,
                leaf as i64,
            ])? == 1)
        })?;
    let size = append_leaves(tx, base, &records)?;
    // Remember which leaf holds each incident change, for the incident's page.
    let mut link = tx.prepare_cached(
        "INSERT OR IGNORE INTO incident_leaves (incident_id, change, leaf_idx) VALUES (?1, ?2, ?3)",
    )?;
    for (i, change) in batch.incidents.iter().enumerate() {
        link.execute(params![
            change.id(),
            change.kind(),
            (first_incident_leaf + i as u64) as i64
        ])?;
    }
    insert_alerts(tx, &batch.alerts)?;
    Ok(size)
}
