//! The evidence log end to end: the key, signed checkpoints, records and their proofs, and
//! consistency across a kill -9 and restart.

use crate::common;

use base64::Engine;
use common::{Running, get, get_json, wait_for};
use probity_core::merkle::{Hash, leaf_hash, verify_consistency, verify_inclusion};
use probity_core::note::{Checkpoint, NoteVerifier, verify_note};
use std::time::Duration;

fn config(dir: &std::path::Path, server: std::net::SocketAddr) -> std::path::PathBuf {
    let path = dir.join("probity.toml");
    common::write_config_at(
        &path,
        format!(
            r#"
[evidence]
origin = "probity.test/log"
checkpoint_interval = "1s"

[[target]]
name = "tcp"
kind = "tcp"
address = "{server}"
interval = "200ms"

[[target]]
name = "gone"
kind = "tcp"
address = "127.0.0.1:1"
interval = "200ms"
failure_threshold = 2
"#
        ),
    )
    .unwrap();
    path
}

fn hex32(v: &serde_json::Value) -> Hash {
    hex::decode(v.as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

fn checkpoints(addr: std::net::SocketAddr) -> Vec<(u64, Hash)> {
    get_json(addr, "/api/v1/evidence/checkpoints")
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["size"].as_u64().unwrap(), hex32(&c["root"])))
        .collect()
}

#[test]
fn checkpoints_records_and_proofs_verify_offline_and_survive_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let server = listener.local_addr().unwrap();
    std::thread::spawn(move || for _ in listener.incoming() {});
    let cfg = config(dir.path(), server);

    // The key: made on first use, private, the same afterwards.
    let key = |cfg: &std::path::Path| {
        let out = common::bin()
            .args(["evidence", "key", "--config"])
            .arg(cfg)
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let verifier_text = key(&cfg);
    assert!(
        verifier_text.starts_with("probity.test/log+"),
        "{verifier_text}"
    );
    assert_eq!(key(&cfg), verifier_text);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("data/evidence.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the key is readable by others: {mode:o}");
    }
    let verifier = NoteVerifier::parse(&verifier_text).unwrap();

    let probity = Running::start(&cfg);
    let addr = probity.addr;
    // An incident on "gone" and a few checkpoints.
    wait_for(Duration::from_secs(15), || {
        let inc = get_json(addr, "/api/v1/incidents");
        let cps = checkpoints(addr);
        (!inc.as_array().unwrap().is_empty() && cps.iter().filter(|c| c.0 > 0).count() >= 2)
            .then_some(())
    });
    // Checkpoints come a page at a time, the next page named in a Link header.
    let all = checkpoints(addr);
    let head_of = |path: &str| {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut raw = String::new();
        s.read_to_string(&mut raw).unwrap();
        raw.split_once("\r\n\r\n").unwrap().0.to_ascii_lowercase()
    };
    let first = get_json(addr, "/api/v1/evidence/checkpoints?limit=1");
    assert_eq!(first.as_array().unwrap().len(), 1);
    assert_eq!(first[0]["size"].as_u64(), Some(all[0].0));
    assert!(
        head_of("/api/v1/evidence/checkpoints?limit=1").contains(&format!(
            "link: </api/v1/evidence/checkpoints?after={}&limit=1>; rel=\"next\"",
            all[0].0
        )),
        "no link to the next page"
    );
    let second = get_json(
        addr,
        &format!("/api/v1/evidence/checkpoints?after={}&limit=1", all[0].0),
    );
    assert_eq!(second[0]["size"].as_u64(), Some(all[1].0));
    assert!(
        !head_of(&format!("/api/v1/evidence/checkpoints?after={}", all[0].0)).contains("link:")
    );
    assert_eq!(get(addr, "/api/v1/evidence/checkpoints?limit=0").0, 400);
    let (status, note) = get(addr, "/api/v1/evidence/checkpoint");
    assert_eq!(status, 200);
    let text =
        verify_note(&note, std::slice::from_ref(&verifier)).expect("the checkpoint verifies");
    let cp = Checkpoint::parse(text).unwrap();
    assert_eq!(cp.origin, "probity.test/log");
    assert!(cp.size >= 2);

    // Every record hashes to its leaf and is included under the checkpoint's root.
    let records = get_json(
        addr,
        &format!("/api/v1/evidence/records?from=0&to={}", cp.size),
    );
    let records = records.as_array().unwrap();
    assert_eq!(records.len() as u64, cp.size);
    let mut kinds = std::collections::HashSet::new();
    for r in records {
        let index = r["index"].as_u64().unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(r["record"].as_str().unwrap())
            .unwrap();
        let leaf = leaf_hash(&bytes);
        assert_eq!(leaf, hex32(&r["leaf_hash"]));
        let record: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        kinds.insert(format!(
            "{}/{}",
            record["type"].as_str().unwrap(),
            record["change"].as_str().unwrap_or("")
        ));
        let p = get_json(
            addr,
            &format!(
                "/api/v1/evidence/proof/inclusion?index={index}&size={}",
                cp.size
            ),
        );
        assert_eq!(p["index"], index);
        assert_eq!(p["size"], cp.size);
        assert_eq!(hex32(&p["leaf_hash"]), leaf);
        let proof: Vec<Hash> = p["proof"].as_array().unwrap().iter().map(hex32).collect();
        verify_inclusion(index, cp.size, &leaf, &proof, &cp.root)
            .unwrap_or_else(|e| panic!("leaf {index}: {e}"));
    }
    assert!(
        kinds.contains("results/") && kinds.contains("incident/opened"),
        "{kinds:?}"
    );

    // The incident's page names the leaf of its opening and the checkpoint that covers it.
    let id = get_json(addr, "/api/v1/incidents")[0]["id"]
        .as_i64()
        .unwrap();
    let page = wait_for(Duration::from_secs(10), || {
        let p = get_json(addr, &format!("/api/v1/incidents/{id}"));
        p["evidence_log"][0]["checkpoint_size"]
            .is_u64()
            .then_some(p)
    });
    let entry = &page["evidence_log"][0];
    assert_eq!(entry["change"], "opened");
    let leaf = entry["leaf_index"].as_u64().unwrap();
    assert!(entry["checkpoint_size"].as_u64().unwrap() > leaf);
    let rec = get_json(
        addr,
        &format!("/api/v1/evidence/records?from={leaf}&to={}", leaf + 1),
    );
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(rec[0]["record"].as_str().unwrap())
        .unwrap();
    let record: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        (
            record["type"].as_str(),
            record["change"].as_str(),
            record["id"].as_i64()
        ),
        (Some("incident"), Some("opened"), Some(id))
    );

    // Bad proof requests are refused with reasons.
    for (path, needle) in [
        (
            format!(
                "/api/v1/evidence/proof/inclusion?index={0}&size={0}",
                cp.size
            ),
            "is not in a tree",
        ),
        (
            "/api/v1/evidence/proof/inclusion?index=0&size=99999999".to_string(),
            "larger than the log",
        ),
        (
            "/api/v1/evidence/proof/consistency?old=0&new=1".to_string(),
            "need 0 < old",
        ),
        (
            "/api/v1/evidence/proof/inclusion?index=x".to_string(),
            "whole number",
        ),
        (
            "/api/v1/evidence/records?from=10&to=5".to_string(),
            "is before",
        ),
    ] {
        let (status, body) = get(addr, &path);
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body.contains(needle), "{path}: {body}");
    }

    // Kill -9, restart: the log reopens where it was durable and extends every checkpoint.
    let before = checkpoints(addr);
    probity.kill();
    let probity = Running::start(&cfg);
    let addr = probity.addr;
    let last_before = before.last().unwrap().0;
    let latest = wait_for(Duration::from_secs(15), || {
        let cps = checkpoints(addr);
        cps.last().filter(|c| c.0 > last_before + 1).copied()
    });
    for (size, root) in before.iter().filter(|c| c.0 > 0) {
        let p = get_json(
            addr,
            &format!(
                "/api/v1/evidence/proof/consistency?old={size}&new={}",
                latest.0
            ),
        );
        let proof: Vec<Hash> = p["proof"].as_array().unwrap().iter().map(hex32).collect();
        verify_consistency(*size, latest.0, root, &latest.1, &proof)
            .unwrap_or_else(|e| panic!("{size} → {}: {e}", latest.0));
    }
    // The checkpoint after a clean stop covers every leaf.
    assert!(probity.stop().success());
    let store = probity_engine::store::SqliteStore::open(&dir.path().join("data")).unwrap();
    use probity_engine::store::traits::*;
    assert_eq!(
        store.checkpoints().unwrap().last().unwrap().size,
        store.evidence_size().unwrap()
    );
}

#[test]
fn bundles_verify_offline_and_tampering_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let server = listener.local_addr().unwrap();
    std::thread::spawn(move || for _ in listener.incoming() {});
    config(d, server);
    let probity = Running::start(&d.join("probity.toml"));
    let addr = probity.addr;
    // Keep an early checkpoint, as an outside party would.
    let early = wait_for(Duration::from_secs(15), || {
        let cps = get_json(addr, "/api/v1/evidence/checkpoints");
        cps.as_array()
            .unwrap()
            .iter()
            .find(|c| c["size"].as_u64().unwrap() > 2)
            .map(|c| c["note"].as_str().unwrap().to_string())
    });
    std::fs::write(d.join("early.note"), &early).unwrap();
    wait_for(Duration::from_secs(15), || {
        let inc = get_json(addr, "/api/v1/incidents");
        let cps = get_json(addr, "/api/v1/evidence/checkpoints");
        let last = cps.as_array().unwrap().last().unwrap()["size"]
            .as_u64()
            .unwrap();
        (!inc.as_array().unwrap().is_empty() && last > 8).then_some(())
    });
    assert!(probity.stop().success());
    let key = common::run(&["evidence", "key"], d).1.trim().to_string();

    let (code, out, err) = common::run(
        &[
            "evidence",
            "export",
            "--from",
            "2000-01-01T00:00:00Z",
            "--out",
            "bundle.json",
            "--since",
            "early.note",
        ],
        d,
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("bundle.json: "), "{out}");
    assert!(
        out.contains("records proven against checkpoint size"),
        "{out}"
    );
    let (code, out, _) = common::run(
        &[
            "evidence",
            "export",
            "--from",
            "2000-01-01T00:00:00Z",
            "--out",
            "again.json",
            "--json",
        ],
        d,
    );
    assert_eq!(code, 0);
    let summary: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(summary["out"], "again.json");
    assert!(summary["records"].as_u64().unwrap() > 8);
    // The previous export's checkpoint is proven consistent in the next export.
    assert_eq!(summary["consistency_proofs"], 1, "{summary}");
    let (code, out, err) = common::run(
        &[
            "evidence",
            "verify",
            "bundle.json",
            "--key",
            &key,
            "--since",
            "early.note",
        ],
        d,
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("bundle.json: ok: "), "{out}");
    assert!(out.contains("extends the checkpoints of size"), "{out}");
    let (code, out, _) = common::run(&["evidence", "verify", "bundle.json", "--json"], d);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (v["ok"].as_bool(), v["key_from_bundle"].as_bool()),
        (Some(true), Some(true))
    );
    let records = v["records"].as_u64().unwrap();
    assert!(records > 8, "{v}");

    // Each kind of damage is named.
    let bundle: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("bundle.json")).unwrap()).unwrap();
    let damaged = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut b = bundle.clone();
        f(&mut b);
        std::fs::write(d.join("bad.json"), serde_json::to_vec(&b).unwrap()).unwrap();
        let (code, out, err) = common::run(&["evidence", "verify", "bad.json", "--key", &key], d);
        assert_eq!(code, 1, "{out}{err}");
        err
    };
    let err = damaged(&|b| {
        let r = b["records"][3]["record"]
            .as_str()
            .unwrap()
            .replace("down", "up")
            .replace('A', "B");
        b["records"][3]["record"] = serde_json::json!(r);
    });
    let idx = bundle["records"][3]["index"].as_u64().unwrap();
    assert!(
        err.contains(&format!(
            "record at index {idx}: the record does not match its leaf hash"
        )),
        "{err}"
    );
    let err = damaged(&|b| {
        let p = b["records"][1]["proof"][0].as_str().unwrap();
        let flipped = format!("{}{}", if p.starts_with('0') { "1" } else { "0" }, &p[1..]);
        b["records"][1]["proof"][0] = serde_json::json!(flipped);
    });
    assert!(
        err.contains("inclusion proof against checkpoint size"),
        "{err}"
    );
    let err = damaged(&|b| {
        b["checkpoint"] =
            serde_json::json!(b["checkpoint"].as_str().unwrap().replacen('\n', "\n1", 1))
    });
    assert!(
        err.contains("checkpoint: the signature by probity.test/log does not verify"),
        "{err}"
    );
    let other = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    let (code, _, err) = common::run(&["evidence", "verify", "bundle.json", "--key", other], d);
    assert_eq!(code, 1);
    assert!(
        err.contains("the bundle names key probity.test/log+"),
        "{err}"
    );
    std::fs::write(d.join("junk.json"), "{\"format\": 1").unwrap();
    let (code, _, err) = common::run(&["evidence", "verify", "junk.json"], d);
    assert_eq!(code, 1);
    assert!(err.contains("FAILED: not a bundle: line 1"), "{err}");

    // The audit recomputes everything; then catches an edited result and an edited leaf.
    let (code, out, err) = common::run(&["evidence", "audit"], d);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.trim_end().ends_with(": ok"), "{out}");
    let db = rusqlite::Connection::open(d.join("data/probity.db")).unwrap();
    let id: i64 = db
        .query_row(
            "SELECT id FROM results WHERE health = 'down' ORDER BY id LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    db.execute("UPDATE results SET health = 'up' WHERE id = ?1", [id])
        .unwrap();
    let (code, out, _) = common::run(&["evidence", "audit"], d);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "result {id}: `health` is \"up\" in the database but \"down\" in the log"
        )),
        "{out}"
    );
    db.execute(
        "UPDATE evidence_leaves SET record = X'7b7d' WHERE idx = 0",
        [],
    )
    .unwrap();
    let (code, out, _) = common::run(&["evidence", "audit", "--json"], d);
    assert_eq!(code, 1);
    let a: serde_json::Value = serde_json::from_str(&out).unwrap();
    let problems: Vec<String> = a["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["problem"].as_str().unwrap().to_string())
        .collect();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("does not match its stored leaf hash")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("signed root differs")),
        "{problems:?}"
    );
    // And an export taken now carries the altered record, which verify rejects.
    common::run(
        &[
            "evidence",
            "export",
            "--from",
            "2000-01-01T00:00:00Z",
            "--out",
            "after.json",
        ],
        d,
    );
    let (code, _, err) = common::run(&["evidence", "verify", "after.json", "--key", &key], d);
    assert_eq!(code, 1);
    assert!(
        err.contains("record at index 0: the record does not match its leaf hash"),
        "{err}"
    );
}

/// A bundle of `records` records of `size` bytes each, signed by `signer`, written to `path`;
/// returns the file's size.
fn synthetic_bundle(
    path: &std::path::Path,
    signer: &probity_core::note::NoteSigner,
    records: usize,
    size: usize,
) -> u64 {
    use std::io::Write;
    let b64 = base64::engine::general_purpose::STANDARD;
    let record = |i: usize| -> Vec<u8> {
        let mut r = format!("{{\"kind\":\"synthetic\",\"i\":{i},\"pad\":\"").into_bytes();
        r.resize(size - 2, b'a' + (i % 26) as u8);
        r.extend_from_slice(b"\"}");
        r
    };
    let mut tree = probity_core::merkle::MemoryTree::new();
    for i in 0..records {
        tree.push(leaf_hash(&record(i)));
    }
    let cp = Checkpoint {
        origin: signer.name().to_string(),
        size: records as u64,
        root: tree.root(),
        extensions: Vec::new(),
    };
    let note = signer.sign(&cp.to_text()).unwrap();
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    write!(
        out,
        "{{\"format\":\"probity-evidence-bundle/1\",\"verifier_key\":{},\"checkpoint\":{},\"from\":\"2026-01-01T00:00:00Z\",\"to\":\"2026-01-02T00:00:00Z\",\"records\":[",
        serde_json::json!(signer.verifier().to_string()),
        serde_json::json!(note)
    )
    .unwrap();
    for i in 0..records {
        let bytes = record(i);
        let proof: Vec<String> =
            probity_core::merkle::inclusion_proof(&tree, i as u64, records as u64)
                .unwrap()
                .iter()
                .map(hex::encode)
                .collect();
        let r = serde_json::json!({
            "index": i,
            "leaf_hash": hex::encode(leaf_hash(&bytes)),
            "record": b64.encode(&bytes),
            "proof": proof,
        });
        write!(out, "{}{r}", if i == 0 { "" } else { "," }).unwrap();
    }
    write!(out, "],\"consistency\":[]}}").unwrap();
    out.flush().unwrap();
    std::fs::metadata(path).unwrap().len()
}

/// `evidence verify` reads a bundle's records one at a time: a bundle ten times larger
/// (tens of megabytes more) verifies at nearly the same peak memory, where reading it whole
/// would cost at least its size again. Peak resident memory by GNU time.
#[test]
fn a_bundle_verifies_in_memory_that_does_not_grow_with_it() {
    if common::lacks(
        "/usr/bin/time",
        "PROBITY_REQUIRE_GNU_TIME",
        "a_bundle_verifies_in_memory_that_does_not_grow_with_it",
        "GNU time",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let signer = probity_core::note::NoteSigner::from_seed("probity/synthetic", [7; 32]).unwrap();
    let peak = |records: usize| -> (u64, u64) {
        let path = dir.path().join(format!("bundle-{records}.json"));
        let bytes = synthetic_bundle(&path, &signer, records, 8 << 10);
        let out = std::process::Command::new("/usr/bin/time")
            .args(["-f", "peak %M"])
            .arg(common::bin().get_program())
            .args(["evidence", "verify", "--json", "--key"])
            .arg(signer.verifier().to_string())
            .arg(&path)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stdout}{stderr}");
        let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(v["records"], records as u64, "{v}");
        assert_eq!(v["ok"], true, "{v}");
        let kib: u64 = stderr
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("peak "))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        (bytes, kib << 10)
    };
    let (small_file, small_peak) = peak(300);
    let (big_file, big_peak) = peak(3_000);
    println!(
        "verify: {small_file} bytes at {small_peak} bytes peak, {big_file} bytes at {big_peak}"
    );
    assert!(big_file - small_file > 20 << 20, "{small_file} {big_file}");
    assert!(
        big_peak < small_peak + (6 << 20),
        "verifying {big_file} bytes peaked at {big_peak} bytes, {small_file} bytes at {small_peak}"
    );
}
