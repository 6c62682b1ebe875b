//! Benchmark of the evidence log (`bench/evidence.sh`): leaves appended per second, in
//! memory and in the SQLite store, inclusion and consistency proof latency on a large log,
//! and the time and peak memory of a full audit of it. Usage: `evidence_bench [LEAVES] [DATA_DIR]` (default 10,000,000 leaves, a temporary
//! directory).

use probity_core::merkle::{self, MemoryTree};
use probity_engine::store::SqliteStore;
use probity_engine::store::traits::*;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let n: u64 = args
        .get(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    let dir = match args.get(2) {
        Some(d) => std::path::PathBuf::from(d),
        None => std::env::temp_dir().join(format!("probity-evidence-bench-{}", std::process::id())),
    };
    let _ = std::fs::remove_dir_all(&dir);

    // In memory: the hashing and tree bookkeeping alone.
    let mem_n = n.min(2_000_000);
    let t = Instant::now();
    let mut tree = MemoryTree::new();
    for i in 0..mem_n {
        tree.push(merkle::leaf_hash(&i.to_le_bytes()));
    }
    let mem_rate = mem_n as f64 / t.elapsed().as_secs_f64();
    println!("memory: {mem_n} leaves appended at {mem_rate:.0} leaves/s");
    drop(tree);

    // In the store: small records (empty `results` records, which the audit reads as JSON
    // and compares with no rows) in transactions of 100,000, durable (synchronous=FULL).
    let store = SqliteStore::open(&dir)?;
    let batch = 100_000u64;
    let t = Instant::now();
    let mut done = 0;
    while done < n {
        let k = batch.min(n - done);
        let records: Vec<Vec<u8>> = (done..done + k)
            .map(|i| format!(r#"{{"type":"results","v":1,"results":[],"n":{i}}}"#).into_bytes())
            .collect();
        store.append_evidence(&records)?;
        done += k;
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "store: {n} leaves appended at {:.0} leaves/s ({secs:.1} s)",
        n as f64 / secs
    );

    // Proofs on the full log: random leaves and sizes.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rand = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let root = store.evidence_root(n)?;
    let mut incl = Vec::new();
    for _ in 0..2000 {
        let i = rand() % n;
        let t = Instant::now();
        let (leaf, proof) = store.inclusion_proof(i, n)?;
        incl.push(t.elapsed().as_secs_f64() * 1e6);
        merkle::verify_inclusion(i, n, &leaf, &proof, &root).map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let mut cons = Vec::new();
    for _ in 0..2000 {
        let old = 1 + rand() % (n - 1);
        let t = Instant::now();
        let proof = store.consistency_proof(old, n)?;
        cons.push(t.elapsed().as_secs_f64() * 1e6);
        let old_root = store.evidence_root(old)?;
        merkle::verify_consistency(old, n, &old_root, &root, &proof)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let stats = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        (v[v.len() / 2], v[v.len() * 99 / 100], v[v.len() - 1])
    };
    let (p50, p99, max) = stats(&mut incl);
    println!(
        "inclusion proof at size {n}: p50 {p50:.0} µs, p99 {p99:.0} µs, max {max:.0} µs (2000 proofs, each verified)"
    );
    let (p50, p99, max) = stats(&mut cons);
    println!(
        "consistency proof to size {n}: p50 {p50:.0} µs, p99 {p99:.0} µs, max {max:.0} µs (2000 proofs, each verified)"
    );
    // A checkpoint every 1,000 leaves, then the audit: every leaf and checkpoint replayed,
    // with the process's peak memory reset just before (Linux's clear_refs).
    let signer = probity_core::note::NoteSigner::from_seed("bench.probity.test/log", [3; 32])?;
    for size in (1000..=n).step_by(1000) {
        let root = store.evidence_root(size)?;
        let text = probity_core::note::Checkpoint {
            origin: "bench.probity.test/log".into(),
            size,
            root,
            extensions: Vec::new(),
        }
        .to_text();
        store.add_checkpoint(&probity_engine::store::StoredCheckpoint {
            size,
            root,
            note: signer.sign(&text)?,
            at_ms: 0,
        })?;
    }
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let t = Instant::now();
    let audit = probity_engine::attest::bundle::audit(
        &store,
        &signer.verifier(),
        &indicatif::ProgressBar::hidden(),
    )?;
    let secs = t.elapsed().as_secs_f64();
    let peak_kib: u64 = std::fs::read_to_string("/proc/self/status")?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    println!(
        "audit: {} leaves and {} checkpoints in {secs:.1} s ({:.0} leaves/s), {} problems, peak resident {:.0} MiB",
        audit.leaves,
        audit.checkpoints,
        audit.leaves as f64 / secs,
        audit.problems(),
        peak_kib as f64 / 1024.0
    );
    let bytes: u64 = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    println!(
        "store size: {:.0} MiB ({:.0} bytes per leaf)",
        bytes as f64 / 1048576.0,
        bytes as f64 / n as f64
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
