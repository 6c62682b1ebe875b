//! The evidence log end to end: the key, signed checkpoints, records and their proofs, and
//! consistency across a kill -9 and restart.

mod common;

use base64::Engine;
use common::{Running, get, get_json, wait_for};
use probity_core::merkle::{Hash, leaf_hash, verify_consistency, verify_inclusion};
use probity_core::note::{Checkpoint, NoteVerifier, verify_note};
use std::time::Duration;

fn config(dir: &std::path::Path, server: std::net::SocketAddr) -> std::path::PathBuf {
    let path = dir.join("probity.toml");
    std::fs::write(
        &path,
        format!(
            r#"[server]
listen = "127.0.0.1:0"
data_dir = "data"

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
    let store = probity::store::SqliteStore::open(&dir.path().join("data")).unwrap();
    use probity::store::Store;
    assert_eq!(
        store.checkpoints().unwrap().last().unwrap().size,
        store.evidence_size().unwrap()
    );
}
