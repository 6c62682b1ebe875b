//! The evidence log cannot be forked by losing its store, and a damaged store is refused
//! before anything is written to it.

use crate::common;
use std::time::{Duration, Instant};

/// Runs `probity run` expecting it to refuse to start: its exit code and standard error.
fn refused(config: &std::path::Path) -> (i32, String) {
    let mut child = common::bin()
        .args(["run", "--config"])
        .arg(config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            use std::io::Read;
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return (status.code().unwrap_or(-1), err);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("probity run started instead of refusing");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_lost_store_is_not_a_new_log_and_a_damaged_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (target, _up) = common::switchable_server();
    let config = common::write_config(
        dir.path(),
        "",
        &format!(
            "[evidence]\ncheckpoint_interval = \"1s\"\n\n[[target]]\nname = \"web\"\nkind = \"http\"\nurl = \"http://{target}/\"\ninterval = \"1s\"\n"
        ),
    );
    let probity = common::Running::start(&config);
    common::wait_for(Duration::from_secs(15), || {
        let cps = common::get_json(probity.addr, "/api/v1/evidence/checkpoints");
        (cps.as_array()?.len() >= 2).then_some(())
    });
    assert!(probity.stop().success());
    let data = dir.path().join("data");
    let kept = std::fs::read_to_string(data.join("evidence.checkpoint")).unwrap();
    assert!(kept.starts_with("probity/"), "{kept}");
    let db = data.join("probity.db");
    // The whole store, as a backup would hold it (with its write-ahead log, if any).
    let original: Vec<(&str, Option<Vec<u8>>)> = ["probity.db", "probity.db-wal", "probity.db-shm"]
        .into_iter()
        .map(|f| (f, std::fs::read(data.join(f)).ok()))
        .collect();

    // The store is lost, the key is kept: probity refuses to start a second log.
    for f in ["probity.db", "probity.db-wal", "probity.db-shm"] {
        let _ = std::fs::remove_file(data.join(f));
    }
    let (code, err) = refused(&config);
    assert_ne!(code, 0);
    assert!(err.contains("refusing to start"), "{err}");
    assert!(err.contains("fork"), "{err}");
    assert!(err.contains("this store holds 0"), "{err}");

    // The old store back: it starts again, and its log goes on.
    for (f, bytes) in &original {
        if let Some(b) = bytes {
            std::fs::write(data.join(f), b).unwrap();
        }
    }
    let probity = common::Running::start(&config);
    assert!(probity.stop().success());

    // 64 bytes of noise over a page's b-tree header (structure, which SQLite's quick check
    // reads; damage inside a row's bytes is what `probity evidence audit` finds): refused,
    // with the file named. The write-ahead log is folded into the file first.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
    let mut damaged = std::fs::read(&db).unwrap();
    let page = u16::from_be_bytes([damaged[16], damaged[17]]) as usize;
    let at = page * 2;
    let mut noise = [0u8; 64];
    getrandom::fill(&mut noise).unwrap();
    damaged[at..at + 64].copy_from_slice(&noise);
    std::fs::write(&db, &damaged).unwrap();
    let (code, err) = refused(&config);
    assert_ne!(code, 0, "{err}");
    assert!(
        err.contains("damaged") || err.contains("malformed") || err.contains("not a database"),
        "{err}"
    );
    assert!(
        err.contains("probity.db") || err.contains("opening the store"),
        "{err}"
    );
}

/// Damage the quick check at start does not see (an index entry that no longer matches its
/// row) is found by `probity evidence audit`, which runs SQLite's full integrity check.
#[test]
fn the_audit_runs_the_full_integrity_check() {
    let dir = tempfile::tempdir().unwrap();
    let (target, _up) = common::switchable_server();
    let config = common::write_config(
        dir.path(),
        "",
        &format!(
            "[[target]]\nname = \"web\"\nkind = \"http\"\nurl = \"http://{target}/\"\ninterval = \"100ms\"\n"
        ),
    );
    let probity = common::Running::start(&config);
    common::wait_for(Duration::from_secs(10), || {
        (common::results(probity.addr, "web").len() >= 20).then_some(())
    });
    probity.stop();
    let cfg = config.to_str().unwrap();
    let (code, out, err) = common::run(&["evidence", "audit", "-c", cfg], dir.path());
    assert_eq!(code, 0, "{out}{err}");
    // Rewrite one key inside the index on results' times, leaving the page well formed.
    let db = dir.path().join("data/probity.db");
    let (root, page_size): (i64, i64) = {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
        let root = c
            .query_row(
                "SELECT rootpage FROM sqlite_master WHERE name = 'results_at'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let size = c.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
        (root, size)
    };
    let mut bytes = std::fs::read(&db).unwrap();
    let page = ((root - 1) * page_size) as usize;
    // The last bytes of the page hold the cells' payloads (keys): change one byte there.
    let at = page + page_size as usize - 6;
    bytes[at] ^= 0x01;
    std::fs::write(&db, &bytes).unwrap();
    let quick: String = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .unwrap();
    if quick != "ok" {
        common::skipped("the altered byte broke the page's structure; the quick check sees it");
        return;
    }
    let (code, out, _) = common::run(&["evidence", "audit", "-c", cfg], dir.path());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("the database file is damaged:"), "{out}");
}

/// Two bundles of one log: a later export is shown to extend an earlier one; a bundle of a
/// second log started under the same key (its store and kept checkpoint both deleted) is
/// a fork, and `evidence verify` of the two says so; bundles that carry nothing in common
/// are undetermined, not "ok".
#[test]
fn verifying_two_bundles_finds_a_fork() {
    let dir = tempfile::tempdir().unwrap();
    let (target, _up) = common::switchable_server();
    let config = common::write_config(
        dir.path(),
        "",
        &format!(
            "[evidence]\ncheckpoint_interval = \"1s\"\n\n[[target]]\nname = \"web\"\nkind = \"http\"\nurl = \"http://{target}/\"\ninterval = \"200ms\"\n"
        ),
    );
    let data = dir.path().join("data");
    let run_until_checkpoints = |n: usize| {
        let probity = common::Running::start(&config);
        common::wait_for(Duration::from_secs(20), || {
            let cps = common::get_json(probity.addr, "/api/v1/evidence/checkpoints");
            (cps.as_array()?.len() >= n).then_some(())
        });
        assert!(probity.stop().success());
    };
    let export = |name: &str| {
        let out = dir.path().join(name);
        let (code, _, err) = common::run(
            &[
                "evidence",
                "export",
                "--config",
                "probity.toml",
                "--from",
                "2026-01-01T00:00:00Z",
                "--out",
                name,
            ],
            dir.path(),
        );
        assert_eq!(code, 0, "{err}");
        out
    };
    let verify = |a: &str, b: &str| {
        let (code, out, err) = common::run(&["evidence", "verify", a, b, "--json"], dir.path());
        let v: serde_json::Value =
            serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out} {err}"));
        (code, v)
    };
    run_until_checkpoints(2);
    export("a.json");
    run_until_checkpoints(4);
    export("a2.json");
    let (code, v) = verify("a.json", "a2.json");
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["comparison"]["relation"], "consistent", "{v}");
    let sizes = (
        v["comparison"]["older_size"].as_u64().unwrap(),
        v["comparison"]["newer_size"].as_u64().unwrap(),
    );
    assert!(sizes.0 < sizes.1, "{v}");
    assert_eq!(
        sizes.0,
        v["bundles"][0]["checkpoint_size"].as_u64().unwrap()
    );

    // The same two with nothing in common (no records, no consistency proof): not "ok".
    let mut bare: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("a2.json")).unwrap())
            .unwrap();
    bare["records"] = serde_json::json!([]);
    bare["consistency"] = serde_json::json!([]);
    std::fs::write(dir.path().join("bare.json"), bare.to_string()).unwrap();
    let (code, v) = verify("a.json", "bare.json");
    assert_eq!(code, 3, "{v}");
    assert_eq!(v["comparison"]["relation"], "undetermined", "{v}");

    // The operator deletes the store and the kept checkpoint: a second history, same key.
    for f in [
        "probity.db",
        "probity.db-wal",
        "probity.db-shm",
        "evidence.checkpoint",
    ] {
        let _ = std::fs::remove_file(data.join(f));
    }
    run_until_checkpoints(2);
    export("b.json");
    let (code, v) = verify("a2.json", "b.json");
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["comparison"]["relation"], "fork", "{v}");
    assert_eq!(v["bundles"][0]["origin"], v["bundles"][1]["origin"]);
    // Each alone still verifies: only the two together show the fork.
    let (code, out, _) = common::run(&["evidence", "verify", "b.json"], dir.path());
    assert_eq!(code, 0, "{out}");
    let (code, _, err) = common::run(&["evidence", "verify", "a2.json", "b.json"], dir.path());
    assert_eq!(code, 1);
    assert!(err.contains("FORK: "), "{err}");
}
