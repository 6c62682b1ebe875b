//! PostgreSQL: results and what is derived from them: writing a batch (results, rollups,
//! incident changes and their evidence leaves), reading them back, availability, pruning.

use super::*;

fn canary_row(r: &Row) -> StoreResult<crate::probe::CanaryEntry> {
    Ok(crate::probe::CanaryEntry {
        store: r.try_get(0)?,
        slot: r.try_get::<_, i64>(1)? as u32,
        generation: r.try_get::<_, i64>(2)? as u32,
        key: r.try_get(3)?,
        size: r.try_get::<_, i64>(4)? as u64,
        sha256: r.try_get(5)?,
        written_at_ms: r.try_get(6)?,
        e_tag: r.try_get(7)?,
        version: r.try_get(8)?,
    })
}

fn availability_row(r: &Row, from: usize) -> StoreResult<Availability> {
    Ok(Availability {
        count: r.try_get::<_, i64>(from)? as u64,
        failures: r.try_get::<_, i64>(from + 1)? as u64,
        degraded: r.try_get::<_, i64>(from + 2)? as u64,
    })
}

impl ResultStore for PgStore {
    fn next_result_id(&self) -> StoreResult<i64> {
        self.next_id(&self.ids.result)
    }

    fn next_incident_id(&self) -> StoreResult<i64> {
        self.next_id(&self.ids.incident)
    }

    fn write(&self, batch: &Batch) -> StoreResult<()> {
        let mut evidence_size = self.evidence_size.lock().expect("evidence lock");
        let size = self.write(|c| {
            let mut tx = c.transaction()?;
            let mut log = self.take_log(&mut tx)?;
            let size = write_batch(&mut tx, &mut log, batch)?;
            tx.commit()?;
            self.keep_log(log);
            Ok(size)
        })?;
        *evidence_size = size;
        Ok(())
    }

    fn write_each(
        &self,
        next: &mut dyn FnMut() -> StoreResult<Option<Batch>>,
    ) -> StoreResult<usize> {
        let mut evidence_size = self.evidence_size.lock().expect("evidence lock");
        let (n, size) = self.write(|c| {
            let mut tx = c.transaction()?;
            let mut log = self.take_log(&mut tx)?;
            let mut n = 0;
            while let Some(batch) = next()? {
                write_batch(&mut tx, &mut log, &batch)?;
                n += 1;
            }
            tx.commit()?;
            let size = log.size;
            self.keep_log(log);
            Ok((n, size))
        })?;
        *evidence_size = size;
        Ok(n)
    }

    fn canaries(&self) -> StoreResult<Vec<crate::probe::CanaryEntry>> {
        self.read(|c| {
            c.query(
                "SELECT store, slot, generation, key, size, sha256, written_at_ms, e_tag, version
                 FROM canaries ORDER BY leaf_idx",
                &[],
            )?
            .iter()
            .map(canary_row)
            .collect()
        })
    }

    fn canary_record_at(&self, leaf: u64) -> StoreResult<Option<Vec<u8>>> {
        self.read(|c| {
            c.query_opt(
                "SELECT store, slot, generation, key, size, sha256, written_at_ms, e_tag, version
                 FROM canaries WHERE leaf_idx = $1",
                &[&(leaf as i64)],
            )?
            .map(|r| canary_row(&r).map(|e| crate::store::leaf::canary_record(&e)))
            .transpose()
        })
    }

    fn results(
        &self,
        target: &str,
        since_ms: Option<i64>,
        until_ms: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<ResultRecord>> {
        self.read(|c| {
            c.query(
                &format!(
                    "SELECT {RESULT_COLUMNS} FROM results
                     WHERE target = $1 AND at_ms >= $2 AND at_ms < $3
                     ORDER BY at_ms DESC, id DESC LIMIT $4"
                ),
                &[
                    &target,
                    &since_ms.unwrap_or(i64::MIN),
                    &until_ms.unwrap_or(i64::MAX),
                    &(limit.min(i64::MAX as usize) as i64),
                ],
            )?
            .iter()
            .map(result_row)
            .collect()
        })
    }

    fn latest_results(&self) -> StoreResult<Vec<ResultRecord>> {
        self.read(|c| {
            c.query(
                &format!(
                    "SELECT {RESULT_COLUMNS} FROM results WHERE id IN (SELECT MAX(id) FROM results GROUP BY target)"
                ),
                &[],
            )?
            .iter()
            .map(result_row)
            .collect()
        })
    }

    fn rollups(&self, target: &str, since_ms: i64, until_ms: i64) -> StoreResult<Vec<Rollup>> {
        self.read(|c| {
            c.query(
                "SELECT vantage, minute_ms, count, failures, degraded, latency_min_ms, latency_max_ms, latency_sum_ms, sketch
                 FROM rollups WHERE target = $1 AND minute_ms >= $2 AND minute_ms < $3 ORDER BY minute_ms, vantage",
                &[&target, &since_ms, &until_ms],
            )?
            .iter()
            .map(|r| {
                RollupRow {
                    count: r.try_get(2)?,
                    failures: r.try_get(3)?,
                    degraded: r.try_get(4)?,
                    min: r.try_get(5)?,
                    max: r.try_get(6)?,
                    sum: r.try_get(7)?,
                    sketch: r.try_get(8)?,
                }
                .into_rollup(target.to_string(), r.try_get(0)?, r.try_get(1)?)
            })
            .collect()
        })
    }

    fn rollup_counts(
        &self,
        target: &str,
        since_ms: i64,
        until_ms: i64,
    ) -> StoreResult<Vec<RollupCount>> {
        self.read(|c| {
            c.query(
                "SELECT minute_ms, count, failures
                 FROM rollups WHERE target = $1 AND minute_ms >= $2 AND minute_ms < $3 ORDER BY minute_ms, vantage",
                &[&target, &since_ms, &until_ms],
            )?
            .iter()
            .map(|r| {
                Ok(RollupCount {
                    minute_ms: r.try_get(0)?,
                    count: r.try_get::<_, i64>(1)? as u64,
                    failures: r.try_get::<_, i64>(2)? as u64,
                })
            })
            .collect()
        })
    }

    fn availability(
        &self,
        target: &str,
        since_ms: i64,
        until_ms: i64,
    ) -> StoreResult<Availability> {
        self.read(|c| {
            let r = c.query_one(
                "SELECT COALESCE(SUM(count), 0)::BIGINT, COALESCE(SUM(failures), 0)::BIGINT, COALESCE(SUM(degraded), 0)::BIGINT
                 FROM rollups WHERE target = $1 AND minute_ms >= $2 AND minute_ms < $3",
                &[&target, &minute_of(since_ms), &until_ms],
            )?;
            availability_row(&r, 0)
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
        self.read(|c| {
            let mut out: std::collections::BTreeMap<(i64, String), (u64, u64)> = Default::default();
            for r in c.query(
                "SELECT minute_ms, vantage, count, failures FROM rollups
                 WHERE target = $1 AND minute_ms >= $2 AND minute_ms < $3",
                &[&target, &a, &b],
            )? {
                let (n, f): (i64, i64) = (r.try_get(2)?, r.try_get(3)?);
                out.insert((r.try_get(0)?, r.try_get(1)?), (n as u64, f as u64));
            }
            let part = c.prepare(
                "SELECT (at_ms / 60000) * 60000, vantage, COUNT(*),
                        SUM(CASE WHEN health = 'down' THEN 1 ELSE 0 END)::BIGINT
                 FROM results
                 WHERE target = $1 AND at_ms >= $2 AND at_ms < $3 AND NOT unmeasured
                 GROUP BY 1, 2",
            )?;
            for (x, y) in edges {
                for r in c.query(&part, &[&target, &x, &y])? {
                    let (n, f): (i64, i64) = (r.try_get(2)?, r.try_get(3)?);
                    let e = out.entry((r.try_get(0)?, r.try_get(1)?)).or_default();
                    e.0 += n as u64;
                    e.1 += f as u64;
                }
            }
            Ok(out
                .into_iter()
                .map(|((m, v), (n, f))| (m, v, n, f))
                .collect())
        })
    }

    fn availability_by_target(
        &self,
        since_ms: i64,
        until_ms: i64,
    ) -> StoreResult<HashMap<String, Availability>> {
        self.read(|c| {
            c.query(
                "SELECT target, SUM(count)::BIGINT, SUM(failures)::BIGINT, SUM(degraded)::BIGINT FROM hourly
                 WHERE hour_ms >= $1 AND hour_ms < $2 GROUP BY target",
                &[&(since_ms.div_euclid(3_600_000) * 3_600_000), &until_ms],
            )?
            .iter()
            .map(|r| Ok((r.try_get(0)?, availability_row(r, 1)?)))
            .collect()
        })
    }

    fn daily_availability(
        &self,
        since_ms: i64,
        targets: Option<&[String]>,
    ) -> StoreResult<HashMap<(String, i64), Availability>> {
        self.read(|c| {
            c.query(
                "SELECT target, (hour_ms / 86400000) * 86400000 AS day, SUM(count)::BIGINT, SUM(failures)::BIGINT, SUM(degraded)::BIGINT
                 FROM hourly WHERE hour_ms >= $1 AND ($2::text[] IS NULL OR target = ANY($2))
                 GROUP BY target, day",
                &[&since_ms, &targets],
            )?
            .iter()
            .map(|r| Ok(((r.try_get(0)?, r.try_get(1)?), availability_row(r, 2)?)))
            .collect()
        })
    }

    fn results_by_ids(&self, from_id: i64, to_id: i64) -> StoreResult<Vec<ResultRecord>> {
        self.read(|c| {
            c.query(
                &format!(
                    "SELECT {RESULT_COLUMNS} FROM results WHERE id >= $1 AND id <= $2 ORDER BY id"
                ),
                &[&from_id, &to_id],
            )?
            .iter()
            .map(result_row)
            .collect()
        })
    }

    fn known_origins(
        &self,
        vantage: &str,
        origins: &[Origin],
    ) -> StoreResult<std::collections::HashSet<String>> {
        if origins.is_empty() {
            return Ok(Default::default());
        }
        let origins: Vec<&str> = origins.iter().map(|o| o.origin.as_str()).collect();
        self.read(|c| {
            c.query(
                "SELECT origin FROM results WHERE vantage = $1 AND origin = ANY($2)",
                &[&vantage, &origins],
            )?
            .iter()
            .map(|r| Ok(r.try_get(0)?))
            .collect()
        })
    }

    fn first_measured(&self) -> StoreResult<HashMap<String, i64>> {
        self.read(|c| {
            c.query(
                "SELECT target, MIN(minute_ms) FROM rollups GROUP BY target",
                &[],
            )?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
        })
    }

    fn quick_check(&self) -> StoreResult<()> {
        let problems = self.read(check_log)?;
        if problems.is_empty() {
            return Ok(());
        }
        Err(StoreError::Damaged(format!(
            "{} ({})",
            self.shown(),
            problems.join("; ")
        )))
    }

    fn integrity_check(&self) -> StoreResult<Vec<String>> {
        self.read(check_log)
    }

    fn prune(&self, raw_before_ms: i64, rollup_before_ms: i64) -> StoreResult<Pruned> {
        self.write(|c| {
            let mut tx = c.transaction()?;
            // Day partitions are made and dropped by one process at a time.
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&super::MIGRATE_LOCK])?;
            super::partitions::ensure(&mut tx, jiff::Timestamp::now().as_millisecond())?;
            // Whole days past retention go at once (their evidence moved out first)...
            let dropped = super::partitions::drop_before(&mut tx, raw_before_ms)?;
            // ...and the rest row by row. Results that are evidence of an incident are
            // kept as long as the incident.
            let results = dropped
                + tx.execute(
                    "DELETE FROM results r WHERE r.at_ms < $1
                   AND NOT EXISTS (SELECT 1 FROM incident_evidence e WHERE e.result_id = r.id)",
                    &[&raw_before_ms],
                )? as usize;
            let rollups = tx.execute(
                "DELETE FROM rollups WHERE minute_ms < $1",
                &[&rollup_before_ms],
            )? as usize;
            tx.execute(
                "DELETE FROM hourly WHERE hour_ms < $1",
                &[&rollup_before_ms],
            )?;
            // The size a day had is kept as long as that day's rollups.
            tx.execute(
                "DELETE FROM store_sizes WHERE day_ms + $2 <= $1",
                &[&rollup_before_ms, &DAY_MS],
            )?;
            let feed_documents = super::feeds::prune_documents(&mut tx, rollup_before_ms)?;
            let feed_polls = super::feeds::prune_polls(&mut tx, rollup_before_ms)?;
            let statements = tx.execute(
                "DELETE FROM federation_received r WHERE COALESCE(
                    (SELECT MAX(e.end_ms) FROM federation_received e
                     WHERE e.origin = r.origin AND e.incident = r.incident),
                    r.start_ms) < $1",
                &[&rollup_before_ms],
            )? as usize;
            tx.commit()?;
            Ok(Pruned {
                results,
                rollups,
                feed_documents,
                feed_polls,
                statements,
            })
        })
    }

    fn disk_bytes(&self) -> StoreResult<u64> {
        self.read(|c| {
            let n: i64 = c
                .query_one("SELECT pg_database_size(current_database())", &[])?
                .try_get(0)?;
            Ok(n as u64)
        })
    }

    fn note_size(&self, at_ms: i64, bytes: u64) -> StoreResult<()> {
        self.write(|c| {
            c.execute(
                "INSERT INTO store_sizes (day_ms, at_ms, bytes) VALUES ($1, $2, $3)
                 ON CONFLICT (day_ms) DO UPDATE SET at_ms = excluded.at_ms, bytes = excluded.bytes
                 WHERE excluded.at_ms >= store_sizes.at_ms",
                &[
                    &(at_ms.div_euclid(DAY_MS) * DAY_MS),
                    &at_ms,
                    &(bytes as i64),
                ],
            )?;
            Ok(())
        })
    }

    fn sizes(&self, since_ms: i64) -> StoreResult<Vec<DaySize>> {
        self.read(|c| {
            c.query(
                "SELECT day_ms, at_ms, bytes FROM store_sizes WHERE day_ms >= $1 ORDER BY day_ms",
                &[&(since_ms.div_euclid(DAY_MS) * DAY_MS)],
            )?
            .iter()
            .map(|r| {
                Ok(DaySize {
                    day_ms: r.try_get(0)?,
                    at_ms: r.try_get(1)?,
                    bytes: r.try_get::<_, i64>(2)? as u64,
                })
            })
            .collect()
        })
    }

    fn stats(&self, now_ms: i64) -> StoreResult<StoreStats> {
        const TABLES: &[&str] = &[
            "results",
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
        let database_bytes = self.disk_bytes()?;
        self.read(|c| {
            let mut st = StoreStats {
                database_bytes,
                ..Default::default()
            };
            for t in TABLES {
                let n: i64 = c
                    .query_one(&format!("SELECT COUNT(*) FROM {t}"), &[])?
                    .try_get(0)?;
                st.rows.insert((*t).to_string(), n as u64);
            }
            let day = 86_400_000;
            let today = now_ms.div_euclid(day) * day;
            for d in (1..=7).rev() {
                let from = today - (d - 1) * day;
                let n: i64 = c
                    .query_one(
                        "SELECT COUNT(*) FROM results WHERE at_ms >= $1 AND at_ms < $2",
                        &[&from, &(from + day)],
                    )?
                    .try_get(0)?;
                let date = jiff::Timestamp::from_millisecond(from)
                    .map(|t| t.strftime("%Y-%m-%d").to_string())
                    .unwrap_or_default();
                st.results_per_day.push((date, n as u64));
            }
            Ok(st)
        })
    }
}

/// What PostgreSQL cannot check for probity: the evidence log's own shape. Every leaf
/// index from 0 is there, once, with its level-0 node equal to its leaf hash.
fn check_log(c: &mut Client) -> StoreResult<Vec<String>> {
    let mut problems = Vec::new();
    let r = c.query_one(
        "SELECT COUNT(*), COALESCE(MAX(idx) + 1, 0) FROM evidence_leaves",
        &[],
    )?;
    let (count, size): (i64, i64) = (r.try_get(0)?, r.try_get(1)?);
    if count != size {
        problems.push(format!(
            "evidence_leaves: {count} leaves but the highest index is {}",
            size - 1
        ));
    }
    let bad: i64 = c
        .query_one(
            "SELECT COUNT(*) FROM evidence_leaves l
             LEFT JOIN evidence_nodes n ON n.level = 0 AND n.idx = l.idx
             WHERE n.hash IS DISTINCT FROM l.leaf_hash",
            &[],
        )?
        .try_get(0)?;
    if bad > 0 {
        problems.push(format!(
            "evidence_nodes: {bad} leaves without their level-0 hash"
        ));
    }
    Ok(problems)
}

/// Writes one batch in `tx`: results, rollups, incident changes, canaries, alerts, and their
/// evidence leaves. Returns the evidence log's new size.
fn write_batch(
    tx: &mut postgres::Transaction<'_>,
    log: &mut Log,
    batch: &Batch,
) -> StoreResult<u64> {
    let base = log.size;
    // One statement for the batch's results: its columns as arrays, unnested. A result
    // already stored (a replayed batch) is not inserted and must not count twice: the
    // statement returns the ids it did insert.
    let inserted_ids: std::collections::HashSet<i64> = if batch.results.is_empty() {
        Default::default()
    } else {
        let rs = &batch.results;
        let col = |f: &dyn Fn(&ResultRecord) -> Option<f64>| rs.iter().map(f).collect::<Vec<_>>();
        let text = |f: &dyn Fn(&ResultRecord) -> Option<String>| {
            rs.iter().map(f).collect::<Vec<Option<String>>>()
        };
        tx.query(
            "INSERT INTO results (id, target, vantage, at_ms, health, dns_ms, connect_ms, tls_ms, ttfb_ms, total_ms, error_class, error, details, unmeasured, origin, clock_offset_ms)
             SELECT * FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::BIGINT[], $5::TEXT[],
                 $6::FLOAT8[], $7::FLOAT8[], $8::FLOAT8[], $9::FLOAT8[], $10::FLOAT8[],
                 $11::TEXT[], $12::TEXT[], $13::TEXT[], $14::BOOL[], $15::TEXT[], $16::BIGINT[])
             ON CONFLICT DO NOTHING RETURNING id",
            &[
                &rs.iter().map(|r| r.id).collect::<Vec<_>>(),
                &rs.iter().map(|r| r.target.as_str()).collect::<Vec<_>>(),
                &rs.iter().map(|r| r.vantage.as_str()).collect::<Vec<_>>(),
                &rs.iter().map(|r| r.at_ms).collect::<Vec<_>>(),
                &rs.iter().map(|r| r.health.as_str()).collect::<Vec<_>>(),
                &col(&|r| r.phases.dns_ms),
                &col(&|r| r.phases.connect_ms),
                &col(&|r| r.phases.tls_ms),
                &col(&|r| r.phases.ttfb_ms),
                &col(&|r| r.phases.total_ms),
                &text(&|r| r.cause.as_ref().map(|c| c.class.as_str().to_string())),
                &text(&|r| r.cause.as_ref().map(|c| c.detail.clone())),
                &text(&|r| r.details.clone()),
                &rs.iter().map(|r| r.unmeasured).collect::<Vec<_>>(),
                &text(&|r| r.origin.clone()),
                &rs.iter().map(|r| r.clock_offset_ms).collect::<Vec<_>>(),
            ],
        )?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?
    };
    let inserted_results: Vec<ResultRecord> = batch
        .results
        .iter()
        .filter(|r| inserted_ids.contains(&r.id))
        .cloned()
        .collect();
    write_rollups(tx, rollups_of(&inserted_results))?;
    super::incidents::write_changes(tx, &batch.incidents)?;
    // Canaries and incident changes are rare: their statements are sent only when a batch
    // has some (a statement prepared for every batch costs a round trip each).
    let (records, first_incident_leaf) = batch_records(
        batch,
        &inserted_results,
        base,
        &mut |c, leaf| {
            Ok(tx.execute(
                "INSERT INTO canaries (store, slot, generation, key, size, sha256, written_at_ms, e_tag, version, leaf_idx)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
                &[
                    &c.store,
                    &(c.slot as i64),
                    &(c.generation as i64),
                    &c.key,
                    &(c.size as i64),
                    &c.sha256,
                    &c.written_at_ms,
                    &c.e_tag,
                    &c.version,
                    &(leaf as i64),
                ],
            )? == 1)
        },
    )?;
    let size = append_leaves(tx, log, &records)?;
    // Remember which leaf holds each incident change, for the incident's page.
    for (i, change) in batch.incidents.iter().enumerate() {
        tx.execute(
            "INSERT INTO incident_leaves (incident_id, change, leaf_idx) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
            &[
                &change.id(),
                &change.kind(),
                &((first_incident_leaf + i as u64) as i64),
            ],
        )?;
    }
    insert_alerts(tx, &batch.alerts)?;
    Ok(size)
}

/// Adds a batch's rollups to the stored ones: the minutes' stored rows read (and locked) in
/// one statement, merged here (sketches cannot be merged in SQL), written back in one, and
/// the hourly totals added in one.
fn write_rollups(tx: &mut postgres::Transaction<'_>, rollups: Vec<Rollup>) -> StoreResult<()> {
    if rollups.is_empty() {
        return Ok(());
    }
    let targets: Vec<&str> = rollups.iter().map(|r| r.target.as_str()).collect();
    let vantages: Vec<&str> = rollups.iter().map(|r| r.vantage.as_str()).collect();
    let minutes: Vec<i64> = rollups.iter().map(|r| r.minute_ms).collect();
    let mut stored: HashMap<(String, String, i64), RollupRow> = HashMap::new();
    for row in tx.query(
        "SELECT r.target, r.vantage, r.minute_ms, r.count, r.failures, r.degraded, r.latency_min_ms,
                r.latency_max_ms, r.latency_sum_ms, r.sketch
         FROM rollups r JOIN UNNEST($1::TEXT[], $2::TEXT[], $3::BIGINT[]) AS k(target, vantage, minute_ms)
           ON r.target = k.target AND r.vantage = k.vantage AND r.minute_ms = k.minute_ms
         FOR UPDATE OF r",
        &[&targets, &vantages, &minutes],
    )? {
        stored.insert(
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?),
            RollupRow {
                count: row.try_get(3)?,
                failures: row.try_get(4)?,
                degraded: row.try_get(5)?,
                min: row.try_get(6)?,
                max: row.try_get(7)?,
                sum: row.try_get(8)?,
                sketch: row.try_get(9)?,
            },
        );
    }
    let (mut count, mut failures, mut degraded) = (Vec::new(), Vec::new(), Vec::new());
    let (mut min, mut max, mut sum, mut sketch) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut added_count, mut added_failures, mut added_degraded) =
        (Vec::new(), Vec::new(), Vec::new());
    let mut hours = Vec::new();
    for roll in rollups.iter() {
        added_count.push(roll.count as i64);
        added_failures.push(roll.failures as i64);
        added_degraded.push(roll.degraded as i64);
        hours.push(roll.minute_ms.div_euclid(3_600_000) * 3_600_000);
        let old = stored.remove(&(roll.target.clone(), roll.vantage.clone(), roll.minute_ms));
        let merged = merged_rollup(roll.clone(), old)?;
        count.push(merged.count as i64);
        failures.push(merged.failures as i64);
        degraded.push(merged.degraded as i64);
        min.push(merged.latency_min_ms);
        max.push(merged.latency_max_ms);
        sum.push(merged.latency_sum_ms);
        sketch.push(merged.sketch.encode());
    }
    tx.execute(
        "INSERT INTO rollups (target, vantage, minute_ms, count, failures, degraded, latency_min_ms, latency_max_ms, latency_sum_ms, sketch)
         SELECT * FROM UNNEST($1::TEXT[], $2::TEXT[], $3::BIGINT[], $4::BIGINT[], $5::BIGINT[], $6::BIGINT[],
             $7::FLOAT8[], $8::FLOAT8[], $9::FLOAT8[], $10::TEXT[])
         ON CONFLICT (target, vantage, minute_ms) DO UPDATE SET
           count = excluded.count, failures = excluded.failures, degraded = excluded.degraded,
           latency_min_ms = excluded.latency_min_ms, latency_max_ms = excluded.latency_max_ms,
           latency_sum_ms = excluded.latency_sum_ms, sketch = excluded.sketch",
        &[&targets, &vantages, &minutes, &count, &failures, &degraded, &min, &max, &sum, &sketch],
    )?;
    // Several minutes of one hour are summed first: one row of the statement per hour.
    tx.execute(
        "INSERT INTO hourly (target, vantage, hour_ms, count, failures, degraded)
         SELECT target, vantage, hour_ms, SUM(count)::BIGINT, SUM(failures)::BIGINT, SUM(degraded)::BIGINT
         FROM UNNEST($1::TEXT[], $2::TEXT[], $3::BIGINT[], $4::BIGINT[], $5::BIGINT[], $6::BIGINT[])
           AS a(target, vantage, hour_ms, count, failures, degraded)
         GROUP BY target, vantage, hour_ms
         ON CONFLICT (target, vantage, hour_ms) DO UPDATE SET
           count = hourly.count + excluded.count, failures = hourly.failures + excluded.failures,
           degraded = hourly.degraded + excluded.degraded",
        &[&targets, &vantages, &hours, &added_count, &added_failures, &added_degraded],
    )?;
    Ok(())
}
