//! What a store's results would take as compact chunks (`probity_core::chunk`): reads every
//! result of a SQLite store, groups them by target, vantage and hour, codes each group as a
//! chunk, checks that every chunk decodes to exactly its rows, writes the chunks into a
//! fresh SQLite table (with its key) and reports bytes per result, set against what the
//! same results take today (their rows, indexes and evidence records).
//!
//! Usage: `chunk_bench DATA_DIR [--json]` (run by `bench/compact.sh`).

use probity_core::chunk::{Row, decode, encode};
use rusqlite::Connection;

const HOUR_MS: i64 = 3_600_000;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let dir = args
        .get(1)
        .ok_or_else(|| anyhow::anyhow!("usage: chunk_bench DATA_DIR"))?;
    let json = args.iter().any(|a| a == "--json");
    let db = Connection::open(std::path::Path::new(dir).join("probity.db"))?;
    db.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;

    // Today's bytes: the rows, their indexes, and the records of results leaves.
    let mut today = 0i64;
    for name in [
        "results",
        "results_target_at",
        "results_at",
        "results_origin",
    ] {
        today += db.query_row(
            "SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name = ?1",
            [name],
            |r| r.get::<_, i64>(0),
        )?;
    }
    let records: i64 = db.query_row(
        "SELECT COALESCE(SUM(LENGTH(record)), 0) FROM evidence_leaves
         WHERE record LIKE '{\"type\":\"results\"%'",
        [],
        |r| r.get(0),
    )?;

    let out = std::env::temp_dir().join(format!("probity-chunks-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&out);
    let chunks = Connection::open(&out)?;
    chunks.execute_batch(
        "PRAGMA journal_mode = OFF;
         CREATE TABLE result_chunks (
             target TEXT NOT NULL, vantage TEXT NOT NULL, start_ms INTEGER NOT NULL,
             first_id INTEGER NOT NULL, rows INTEGER NOT NULL, data BLOB NOT NULL,
             PRIMARY KEY (target, vantage, start_ms, first_id)) WITHOUT ROWID;",
    )?;
    let mut q = db.prepare(
        "SELECT target, vantage, id, at_ms, health, dns_ms, connect_ms, tls_ms, ttfb_ms,
                total_ms, error_class, error, details, unmeasured, origin, clock_offset_ms
         FROM results ORDER BY target, vantage, at_ms, id",
    )?;
    let mut rows_iter = q.query([])?;
    let (mut n, mut n_chunks, mut blob_bytes, mut raw_floats) = (0u64, 0u64, 0u64, 0u64);
    let mut group: Option<(String, String, i64)> = None;
    let mut rows: Vec<Row> = Vec::new();
    let mut flush = |key: &(String, String, i64), rows: &mut Vec<Row>| -> anyhow::Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let data = encode(rows);
        anyhow::ensure!(
            decode(&data)? == *rows,
            "a chunk of {} did not decode to its rows",
            key.0
        );
        chunks.execute(
            "INSERT INTO result_chunks VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![key.0, key.1, key.2, rows[0].id, rows.len() as i64, data],
        )?;
        n_chunks += 1;
        blob_bytes += data.len() as u64;
        rows.clear();
        Ok(())
    };
    while let Some(r) = rows_iter.next()? {
        let at_ms: i64 = r.get(3)?;
        let key = (
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            at_ms.div_euclid(HOUR_MS),
        );
        if group.as_ref() != Some(&key) {
            if let Some(g) = &group {
                flush(g, &mut rows)?;
            }
            group = Some(key);
        }
        let phases: [Option<f64>; 5] = [r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?];
        raw_floats += phases
            .iter()
            .flatten()
            .filter(|v| probity_core::chunk::whole_micros(**v).is_none())
            .count() as u64;
        rows.push(Row {
            id: r.get(2)?,
            at_ms,
            health: r.get(4)?,
            phases,
            error_class: r.get(10)?,
            error: r.get(11)?,
            details: r.get(12)?,
            unmeasured: r.get::<_, i64>(13)? != 0,
            origin: r.get(14)?,
            clock_offset_ms: r.get(15)?,
        });
        n += 1;
    }
    if let Some(g) = &group {
        flush(g, &mut rows)?;
    }
    chunks.execute_batch("VACUUM")?;
    let stored: i64 = chunks.query_row(
        "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size",
        [],
        |r| r.get(0),
    )?;
    drop(chunks);
    let _ = std::fs::remove_file(&out);
    anyhow::ensure!(n > 0, "the store has no results");
    let per = |b: i64| b as f64 / n as f64;
    if json {
        println!(
            "{}",
            serde_json::json!({
                "results": n, "chunks": n_chunks, "raw_floats": raw_floats,
                "chunk_blob_bytes_per_result": per(blob_bytes as i64),
                "chunk_table_bytes_per_result": per(stored),
                "rows_bytes_per_result": per(today),
                "records_bytes_per_result": per(records),
            })
        );
    } else {
        println!(
            "results:        {n} in {n_chunks} chunks ({raw_floats} phase times kept as raw floats)"
        );
        println!(
            "today:          {:.1} B/result in rows and indexes, {:.1} B/result in evidence records",
            per(today),
            per(records)
        );
        println!(
            "chunks:         {:.1} B/result coded, {:.1} B/result as a SQLite table with its key",
            per(blob_bytes as i64),
            per(stored)
        );
    }
    Ok(())
}
