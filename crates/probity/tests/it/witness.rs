//! Witnessing (C2SP tlog-witness): three probity servers on loopback, each witnessing the
//! other two. Each log's checkpoint is cosigned by the other two, and the cosignatures are
//! checked here by an implementation written from the specification (Ed25519 over
//! `cosignature/v1\ntime T\n` + the checkpoint text, key ID SHA-256(name ‖ "\n" ‖ 0x04 ‖
//! key)[:4]), not probity's. A fork of a log is refused, every refusal the specification
//! names answers with its status, and a bundle exported by one server verifies offline with
//! the others' keys, and fails with a key that did not cosign.

use crate::common;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// A vkey `name+id+base64(0x01 ‖ key)` as `probity evidence key` prints it: name and key.
fn read_vkey(vkey: &str) -> (String, [u8; 32]) {
    let mut parts = vkey.trim().splitn(3, '+');
    let name = parts.next().unwrap().to_string();
    let _id = parts.next().unwrap();
    let data = B64.decode(parts.next().unwrap()).unwrap();
    assert_eq!(data[0], 0x01);
    (name, data[1..].try_into().unwrap())
}

/// The time of a valid cosignature v1 by (`name`, `key`) on `note`, from the spec alone.
fn spec_cosignature(note: &str, name: &str, key: &[u8; 32]) -> Option<u64> {
    let at = note.rfind("\n\n")?;
    let (text, sigs) = (&note[..at + 1], &note[at + 2..]);
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([0x04]);
    h.update(key);
    let id = &h.finalize()[..4];
    for line in sigs.lines() {
        let Some(rest) = line.strip_prefix(&format!("\u{2014} {name} ")) else {
            continue;
        };
        let data = B64.decode(rest).ok()?;
        if data.len() != 76 || &data[..4] != id {
            continue;
        }
        let time = u64::from_be_bytes(data[4..12].try_into().unwrap());
        let msg = format!("cosignature/v1\ntime {time}\n{text}");
        let vk = ed25519_dalek::VerifyingKey::from_bytes(key).ok()?;
        let sig = ed25519_dalek::Signature::from_bytes(data[12..].try_into().unwrap());
        vk.verify_strict(msg.as_bytes(), &sig).ok()?;
        return Some(time);
    }
    None
}

type Node = common::Instance;

fn config_text(n: &Node, service: SocketAddr, others: &[&Node]) -> String {
    let mut t = format!(
        "[server]\nlisten = \"127.0.0.1:{}\"\ndata_dir = \"data\"\n\n[evidence]\norigin = \"{}\"\ncheckpoint_interval = \"1s\"\n\n[[target]]\nname = \"svc\"\nkind = \"http\"\nurl = \"http://{service}/\"\ninterval = \"200ms\"\n",
        n.port, n.origin
    );
    for o in others {
        t.push_str(&format!(
            "\n[[witness.log]]\norigin = \"{}\"\nkey = \"{}\"\n\n[[witness.peer]]\nurl = \"http://127.0.0.1:{}\"\nkey = \"{}\"\n",
            o.origin, o.key, o.port, o.key
        ));
    }
    t
}

fn post(addr: SocketAddr, path: &str, body: &str) -> (u16, String, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let ctype = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type: ")
                .map(String::from)
        })
        .unwrap_or_default();
    (status, ctype, body.to_string())
}

#[test]
fn three_servers_cosign_each_others_logs_and_refuse_a_fork() {
    let service =
        common::serve(axum::Router::new().route("/", axum::routing::get(|| async { "ok" })));
    let tmp = tempfile::tempdir().unwrap();
    // Each server's key, made before any server starts.
    let nodes = common::instances(tmp.path(), "w", 3, |_, n| config_text(n, service, &[]));
    for i in 0..3 {
        let others: Vec<&Node> = nodes
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, n)| n)
            .collect();
        std::fs::write(
            nodes[i].dir.join("probity.toml"),
            config_text(&nodes[i], service, &others),
        )
        .unwrap();
    }
    let (code, out, err) = common::run(&["check"], &nodes[0].dir);
    assert_eq!(code, 0, "{out}{err}");
    let servers: Vec<common::Running> = nodes
        .iter()
        .map(|n| common::Running::start(&n.dir.join("probity.toml")))
        .collect();
    let addrs: Vec<SocketAddr> = servers.iter().map(|s| s.addr).collect();

    // Every log's served checkpoint comes to carry both others' cosignatures.
    let started = Instant::now();
    for (i, n) in nodes.iter().enumerate() {
        loop {
            let (_, note) = common::get(addrs[i], "/api/v1/evidence/checkpoint");
            let cosigned: Vec<u64> = nodes
                .iter()
                .filter(|o| o.origin != n.origin)
                .filter_map(|o| {
                    let (name, key) = read_vkey(&o.key);
                    spec_cosignature(&note, &name, &key)
                })
                .collect();
            if cosigned.len() == 2 {
                let now = jiff::Timestamp::now().as_second() as u64;
                assert!(
                    cosigned.iter().all(|t| *t <= now && *t + 120 > now),
                    "{cosigned:?}"
                );
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(40),
                "{} never got two cosignatures:\n{note}\n{}",
                n.origin,
                servers[i].log.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    // What w1 holds for w0's log, asked the specification's way (old 0): a 409 with the size.
    let (_, note0) = common::get(addrs[0], "/api/v1/evidence/checkpoint");
    let only_log_sig = |note: &str| {
        let at = note.rfind("\n\n").unwrap();
        let first = note[at + 2..].lines().next().unwrap();
        format!("{}\n{first}\n", &note[..at + 1])
    };
    let (status, ctype, body) = post(
        addrs[1],
        "/add-checkpoint",
        &format!("old 0\n\n{}", only_log_sig(&note0)),
    );
    assert_eq!(
        (status, ctype.as_str()),
        (409, "text/x.tlog.size"),
        "{body}"
    );
    let held: u64 = body.trim().parse().unwrap();
    assert!(held > 0 && body.ends_with('\n'));

    // A fork of w0's log: its own key signs another root at the size w1 holds. Refused
    // (422), and w1 still holds the same size.
    let signer = probity_engine::attest::evidence::load_or_create_key(
        &nodes[0].dir.join("data"),
        &nodes[0].origin,
    )
    .unwrap();
    let fork = probity_engine::attest::evidence::sign_checkpoint(&signer, held, [0x42; 32]);
    let (status, _, body) = post(
        addrs[1],
        "/add-checkpoint",
        &format!("old {held}\n\n{fork}"),
    );
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("fork"), "{body}");
    let (status, _, body) = post(addrs[1], "/add-checkpoint", &format!("old 0\n\n{fork}"));
    assert_eq!((status, body.trim().parse::<u64>().ok()), (409, Some(held)));
    // A log it does not witness: 404. A checkpoint of w0's origin signed by another key:
    // 403. An old size past the checkpoint: 400. Garbage: 400.
    let stranger =
        probity_core::note::NoteSigner::from_seed("probity.test/stranger", [9; 32]).unwrap();
    let (status, _, _) = post(
        addrs[1],
        "/add-checkpoint",
        &format!(
            "old 0\n\n{}",
            probity_engine::attest::evidence::sign_checkpoint(&stranger, 1, [1; 32])
        ),
    );
    assert_eq!(status, 404);
    let impostor = probity_core::note::NoteSigner::from_seed(&nodes[0].origin, [9; 32]).unwrap();
    let (status, _, _) = post(
        addrs[1],
        "/add-checkpoint",
        &format!(
            "old 0\n\n{}",
            probity_engine::attest::evidence::sign_checkpoint(&impostor, 1, [1; 32])
        ),
    );
    assert_eq!(status, 403);
    let small = probity_engine::attest::evidence::sign_checkpoint(&signer, 1, [1; 32]);
    let (status, _, _) = post(
        addrs[1],
        "/add-checkpoint",
        &format!("old {held}\n\n{small}"),
    );
    assert_eq!(status, 400);
    let (status, _, _) = post(addrs[1], "/add-checkpoint", "old 01\n\nnot a checkpoint");
    assert_eq!(status, 400);

    // A bundle from w0, proven against a checkpoint both others cosigned, verifies offline
    // with their keys; a key that never cosigned does not count.
    let export = |n: &Node| {
        let (code, out, err) = common::run(
            &[
                "evidence",
                "export",
                "--from",
                "2020-01-01T00:00:00Z",
                "--out",
                "b.json",
                "--min-witnesses",
                "2",
                "--json",
            ],
            &n.dir,
        );
        assert_eq!(code, 0, "{out}{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["cosignatures"], 2, "{v}");
    };
    export(&nodes[0]);
    let verify = |args: &[&str]| {
        let mut all = vec!["evidence", "verify", "b.json", "--key", &nodes[0].key];
        all.extend_from_slice(args);
        common::run(&all, &nodes[0].dir)
    };
    let (code, out, err) = verify(&["--witness", &nodes[1].key, "--witness", &nodes[2].key]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("cosigned by 2 of 2 witnesses given"), "{out}");
    let (code, out, _) = verify(&[
        "--witness",
        &nodes[1].key,
        "--witness",
        &nodes[2].key,
        "--json",
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["cosigned_by"].as_array().unwrap().len(), 2, "{v}");
    // w0's own key is no witness of w0; a stranger's neither.
    let (code, _, err) = verify(&["--witness", &nodes[1].key, "--witness", &nodes[0].key]);
    assert_eq!(code, 1);
    assert!(
        err.contains("carries 1 of the 2 witness cosignatures required (by probity.test/w1)"),
        "{err}"
    );
    let (code, _, _) = verify(&[
        "--witness",
        &nodes[1].key,
        "--witness",
        &stranger.verifier().to_string(),
        "--min-witnesses",
        "1",
    ]);
    assert_eq!(code, 0);
    let (code, _, _) = verify(&["--witness", &stranger.verifier().to_string()]);
    assert_eq!(code, 1);
    for s in servers {
        s.stop();
    }
    // The cosigning did not disturb the log.
    let (code, out, err) = common::run(&["evidence", "audit", "--json"], &nodes[0].dir);
    assert_eq!(code, 0, "{out}{err}");
}

/// The witness's record survives a restart: the size a witness cosigned is on disk before
/// it answers, so after a restart the same fork is still refused.
#[test]
fn a_witness_remembers_what_it_cosigned_across_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let log = probity_core::note::NoteSigner::from_seed("probity.test/log", [3; 32]).unwrap();
    let cfg = common::write_config(
        tmp.path(),
        "",
        &format!(
            "[[witness.log]]\norigin = \"probity.test/log\"\nkey = \"{}\"\n",
            log.verifier()
        ),
    );
    let tree = |n: u64| {
        let mut t = probity_core::merkle::MemoryTree::new();
        for i in 0..n {
            t.push(probity_core::merkle::leaf_hash(&i.to_be_bytes()));
        }
        t
    };
    let t5 = tree(5);
    let server = common::Running::start(&cfg);
    let cp5 = probity_engine::attest::evidence::sign_checkpoint(&log, 5, t5.root());
    let (status, _, body) = post(server.addr, "/add-checkpoint", &format!("old 0\n\n{cp5}"));
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("\u{2014} "), "{body}");
    // The answer appended to the checkpoint verifies as a note with the witness's key.
    let (code, key, _) = common::run(&["evidence", "key"], tmp.path());
    assert_eq!(code, 0);
    let (name, pk) = read_vkey(&key);
    assert!(spec_cosignature(&format!("{cp5}{body}"), &name, &pk).is_some());
    server.stop();
    let server = common::Running::start(&cfg);
    let fork = probity_engine::attest::evidence::sign_checkpoint(&log, 5, [7; 32]);
    let (status, _, _) = post(server.addr, "/add-checkpoint", &format!("old 5\n\n{fork}"));
    assert_eq!(status, 422);
    // The honest extension, with its proof, is cosigned.
    let t9 = tree(9);
    let proof = probity_core::merkle::consistency_proof(&t9, 5, 9).unwrap();
    let cp9 = probity_engine::attest::evidence::sign_checkpoint(&log, 9, t9.root());
    let body = probity_core::witness::request_body(5, &proof, &cp9);
    let (status, _, _) = post(server.addr, "/add-checkpoint", &body);
    assert_eq!(status, 200);
}

/// A log server whose store is rolled back (restored from a copy taken earlier, with its
/// key and its record of what it signed) grows a different history past what its witness
/// cosigned: the witness refuses every checkpoint of that history and keeps the size it
/// holds, so the rollback shows.
#[test]
fn a_log_whose_store_was_rolled_back_is_refused_a_cosignature() {
    let service =
        common::serve(axum::Router::new().route("/", axum::routing::get(|| async { "ok" })));
    let tmp = tempfile::tempdir().unwrap();
    let nodes = common::instances(tmp.path(), "r", 2, |_, n| config_text(n, service, &[]));
    // r0 is the log, r1 its witness (each config names the other; r1 logs too).
    for i in 0..2 {
        let other = &nodes[1 - i];
        std::fs::write(
            nodes[i].dir.join("probity.toml"),
            config_text(&nodes[i], service, &[other]),
        )
        .unwrap();
    }
    let config = nodes[0].dir.join("probity.toml");
    let witness = common::Running::start(&nodes[1].dir.join("probity.toml"));
    let (w_name, w_key) = read_vkey(&nodes[1].key);
    // The latest checkpoint r0 serves, and the size of it r1 cosigned (if it did).
    let cosigned_size = |addr: SocketAddr| -> Option<u64> {
        let (_, note) = common::get(addr, "/api/v1/evidence/checkpoint");
        spec_cosignature(&note, &w_name, &w_key)?;
        note.lines().nth(1)?.parse().ok()
    };
    let held = |note: &str| -> u64 {
        let at = note.rfind("\n\n").unwrap();
        let first = note[at + 2..].lines().next().unwrap();
        let only_log = format!("{}\n{first}\n", &note[..at + 1]);
        let (status, _, body) = post(
            witness.addr,
            "/add-checkpoint",
            &format!("old 0\n\n{only_log}"),
        );
        assert_eq!(status, 409, "{body}");
        body.trim().parse().unwrap()
    };

    let log = common::Running::start(&config);
    let first = common::wait_for(Duration::from_secs(30), || cosigned_size(log.addr));
    log.stop();
    // The backup: the whole data directory (store, key, record of the last signature).
    let backup = tmp.path().join("r0-backup");
    copy_dir(&nodes[0].dir.join("data"), &backup);

    let log = common::Running::start(&config);
    common::wait_for(Duration::from_secs(30), || {
        cosigned_size(log.addr).filter(|s| *s > first + 5)
    });
    let (_, note) = common::get(log.addr, "/api/v1/evidence/checkpoint");
    log.stop();
    let before = held(&note);
    assert!(before > first + 5, "{before} {first}");

    // Restored from the backup: the server starts (its key and record agree with the store)
    // and appends a history of its own from the older size.
    std::fs::remove_dir_all(nodes[0].dir.join("data")).unwrap();
    copy_dir(&backup, &nodes[0].dir.join("data"));
    let log = common::Running::start(&config);
    let grown = common::wait_for(Duration::from_secs(30), || {
        let (_, note) = common::get(log.addr, "/api/v1/evidence/checkpoint");
        let size: u64 = note.lines().nth(1)?.parse().ok()?;
        (size > before + 3).then_some(note)
    });
    // A few more rounds of asking, then: no cosignature past the rollback, and the witness
    // holds what it held.
    std::thread::sleep(Duration::from_secs(3));
    let (_, latest) = common::get(log.addr, "/api/v1/evidence/checkpoint");
    assert_eq!(spec_cosignature(&latest, &w_name, &w_key), None, "{latest}");
    assert_eq!(spec_cosignature(&grown, &w_name, &w_key), None, "{grown}");
    assert_eq!(held(&latest), before);
    let logged = witness.log.lock().unwrap().clone();
    assert!(
        logged.contains("refused to cosign a checkpoint"),
        "{logged}"
    );
    log.stop();
    witness.stop();
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}
