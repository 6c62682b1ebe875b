//! What a store's results take on disk before and after compaction: copies a SQLite store
//! (written by `probity run`), measures what its results take as rows (the rows, their
//! indexes, and their leaves' evidence records), compacts the copy with the store's own
//! compaction (every leaf, whatever its age), checks that every reader gives back the same
//! results and the same evidence records, and measures again, each side after a `VACUUM`
//! so that both count packed pages.
//!
//! Usage: `chunk_bench DATA_DIR [--json]` (run by `bench/compact.sh`).

use probity_engine::store::traits::*;
use probity_engine::store::{ResultRecord, SqliteStore};
use rusqlite::Connection;

/// The tables and indexes that hold results and their leaves (records, hashes and the
/// tree's nodes), before or after.
const RESULT_TREES: &[&str] = &[
    "results",
    "results_target_at",
    "results_at",
    "results_origin",
    "results_leaf",
    "result_chunks",
    "result_chunks_target",
    "result_chunks_start",
    "evidence_leaves",
    "evidence_leaves_at",
    "evidence_leaves_ids",
    "evidence_nodes",
];

/// Bytes in `RESULT_TREES`, the whole file, and the chunks' own bytes, after a VACUUM.
fn measure(path: &std::path::Path) -> anyhow::Result<(i64, i64, i64)> {
    let db = Connection::open(path)?;
    db.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); VACUUM;")?;
    let mut trees = 0;
    for name in RESULT_TREES {
        trees += db.query_row(
            "SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name = ?1",
            [name],
            |r| r.get::<_, i64>(0),
        )?;
    }
    let file = db.query_row(
        "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size",
        [],
        |r| r.get(0),
    )?;
    let blobs = db.query_row(
        "SELECT COALESCE(SUM(length(data)), 0) FROM result_chunks",
        [],
        |r| r.get(0),
    )?;
    Ok((trees, file, blobs))
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let dir = args
        .get(1)
        .ok_or_else(|| anyhow::anyhow!("usage: chunk_bench DATA_DIR"))?;
    let json = args.iter().any(|a| a == "--json");
    // A copy: the store measured is left as it was.
    let copy = tempfile::tempdir()?;
    {
        let db = Connection::open(std::path::Path::new(dir).join("probity.db"))?;
        db.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
        db.execute("VACUUM INTO ?1", [copy.path().join("probity.db").to_str()])?;
    }
    let store = SqliteStore::open(copy.path())?;
    let n = store.stats(0)?.rows["results"];
    anyhow::ensure!(n > 0, "the store has no results");
    let targets: Vec<String> = store
        .latest_results()?
        .into_iter()
        .map(|r| r.target)
        .collect();
    let read = |s: &SqliteStore| -> anyhow::Result<(Vec<ResultRecord>, Vec<Vec<u8>>)> {
        let mut results = Vec::new();
        for t in &targets {
            results.extend(s.results(t, None, None, usize::MAX)?);
        }
        let records = s
            .evidence_records(0, s.evidence_size()?)?
            .into_iter()
            .map(|l| l.record);
        Ok((results, records.collect()))
    };
    let before = read(&store)?;
    drop(store);
    let (trees_before, _, _) = measure(&copy.path().join("probity.db"))?;

    let store = SqliteStore::open(copy.path())?;
    let started = std::time::Instant::now();
    let done = store.compact(i64::MAX)?;
    let took = started.elapsed().as_secs_f64();
    // Reading every record back, rebuilt from chunks (what an audit or export reads).
    let started = std::time::Instant::now();
    let size = store.evidence_size()?;
    let mut at = 0;
    while at < size {
        let leaves = store.evidence_records_within(at, (at + 5000).min(size), 8 << 20)?;
        at = leaves.last().map_or(size, |l| l.index + 1);
    }
    let reread = started.elapsed().as_secs_f64();
    // Compared as text: a NaN phase time is equal to itself there.
    let after = read(&store)?;
    anyhow::ensure!(
        format!("{after:?}") == format!("{before:?}"),
        "the compacted store does not read back what it held"
    );
    let raw_floats = before
        .0
        .iter()
        .filter(|r| {
            let p = &r.phases;
            [p.dns_ms, p.connect_ms, p.tls_ms, p.ttfb_ms, p.total_ms]
                .into_iter()
                .flatten()
                .any(|v| probity_core::chunk::whole_micros(v).is_none())
        })
        .count();
    drop(store);
    let (trees_after, file_after, blobs) = measure(&copy.path().join("probity.db"))?;
    let per = |b: i64| b as f64 / n as f64;
    if json {
        println!(
            "{}",
            serde_json::json!({
                "results": n, "chunks": done.chunks, "leaves_rebuilt": done.leaves,
                "results_with_raw_floats": raw_floats,
                "before_bytes_per_result": per(trees_before),
                "after_bytes_per_result": per(trees_after),
                "chunk_bytes_per_result": per(blobs),
                "file_bytes_per_result_after": per(file_after),
                "compaction_seconds": took,
                "records_rebuild_seconds": reread,
            })
        );
    } else {
        println!(
            "results:        {n} in {} chunks, {} leaves rebuilt from them ({raw_floats} results with raw-float phase times)",
            done.chunks, done.leaves
        );
        println!(
            "rows:           {:.1} B/result (rows, indexes, evidence records)",
            per(trees_before)
        );
        println!(
            "compacted:      {:.1} B/result (chunks, indexes, leaves), {:.1} B/result the chunks' own bytes",
            per(trees_after),
            per(blobs)
        );
        println!(
            "whole file:     {:.1} B/result after compaction (rollups and everything else included)",
            per(file_after)
        );
        println!(
            "time:           compaction {took:.2} s ({:.1} µs a result), every record read back {reread:.2} s ({:.1} µs a result)",
            took * 1e6 / n as f64,
            reread * 1e6 / n as f64
        );
    }
    Ok(())
}
