//! Object storage targets against a real S3 server (s3s-fs, SigV4 on) on loopback, with
//! faults injected underneath it (bytes flipped on its disk, a file deleted, an older copy
//! put back) and in front of it (503 answers, a hang): each fault has its own error class
//! and incident, healthy cycles have none, and probity never deletes what it did not write.

use crate::common::{self, Running, get_json, results, wait_for};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

const KEY: &str = "test-key";
const SECRET: &str = "s3-secret-0123456789";

/// What the server in front of the store does: 0 pass, 1 answer 503, 2 never answer.
struct S3 {
    addr: SocketAddr,
    root: PathBuf,
    mode: Arc<AtomicU8>,
}

fn start_s3(root: &Path) -> S3 {
    std::fs::create_dir_all(root.join("canary-bucket")).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    let mode = Arc::new(AtomicU8::new(0));
    let (m, r) = (mode.clone(), root.to_path_buf());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let fs = s3s_fs::FileSystem::new(&r).unwrap();
            let mut b = s3s::service::S3ServiceBuilder::new(fs);
            b.set_auth(s3s::auth::SimpleAuth::from_single(KEY, SECRET));
            let s3 = b.build();
            let l = tokio::net::TcpListener::from_std(listener).unwrap();
            let http =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            loop {
                let Ok((sock, _)) = l.accept().await else {
                    continue;
                };
                let (s3, m) = (s3.clone(), m.clone());
                let svc = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let (s3, m) = (s3.clone(), m.clone());
                        async move {
                            match m.load(Ordering::SeqCst) {
                                1 => Ok(hyper::Response::builder()
                                    .status(503)
                                    .body(s3s::Body::from(
                                        "<Error><Code>SlowDown</Code></Error>".to_string(),
                                    ))
                                    .unwrap()),
                                2 => {
                                    tokio::time::sleep(Duration::from_secs(3600)).await;
                                    unreachable!()
                                }
                                _ => hyper::service::Service::call(&s3, req).await,
                            }
                        }
                    },
                );
                let conn = http.serve_connection(hyper_util::rt::TokioIo::new(sock), svc);
                let conn = conn.into_owned();
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
        });
    });
    S3 {
        addr,
        root: root.to_path_buf(),
        mode,
    }
}

fn target(name: &str, url: &str, s3: &S3, secret: &str, extra: &str) -> String {
    format!(
        r#"
[[target]]
name = "{name}"
kind = "object_store"
url = "{url}"
endpoint = "http://{addr}"
interval = "1s"
timeout = "10s"
failure_threshold = 1
success_threshold = 1
{extra}
[target.options]
aws_access_key_id = "{KEY}"
aws_secret_access_key = "{secret}"
aws_region = "us-east-1"
"#,
        addr = s3.addr
    )
}

fn incidents(addr: SocketAddr) -> Vec<serde_json::Value> {
    get_json(addr, "/api/v1/incidents?status=all")
        .as_array()
        .unwrap()
        .clone()
}

/// Waits for a result of `target` newer than `after` (a result id) that `f` accepts.
fn wait_result(
    addr: SocketAddr,
    target: &str,
    after: i64,
    f: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let until = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let rs = results(addr, target);
        if let Some(r) = rs
            .iter()
            .filter(|r| r["id"].as_i64().unwrap() > after)
            .find(|r| f(r))
        {
            return r.clone();
        }
        if std::time::Instant::now() > until {
            panic!(
                "no such result of {target}; the latest: {:#}",
                rs.first().cloned().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn last_id(addr: SocketAddr, target: &str) -> i64 {
    results(addr, target)
        .first()
        .map_or(-1, |r| r["id"].as_i64().unwrap())
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[test]
fn storage_faults_each_have_their_class_and_healthy_cycles_none() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = start_s3(&dir.path().join("s3"));
    let bucket = s3.root.join("canary-bucket");
    // Objects probity did not write, under its prefix: they must survive every cycle.
    for foreign in ["probity/canary/notes.txt", "probity/cycle/backup-1"] {
        std::fs::create_dir_all(bucket.join(foreign).parent().unwrap()).unwrap();
        std::fs::write(bucket.join(foreign), "not probity's").unwrap();
    }
    let rest = [
        target(
            "blob",
            "s3://canary-bucket/probity/",
            &s3,
            "${env:TEST_S3_SECRET}",
            "canaries = 3\ncanary_interval = \"1s\"\nsizes = [\"1KiB\", \"6MiB\"]",
        ),
        target(
            "rotating",
            "s3://canary-bucket/rotating/",
            &s3,
            "${env:TEST_S3_SECRET}",
            "canaries = 1\ncanary_interval = \"1s\"\ncanary_rotation = \"5s\"",
        ),
        target("badcreds", "s3://canary-bucket/other/", &s3, "wrong-secret", ""),
    ]
    .concat()
        // s3s-fs makes a bucket's directory on the first PUT, so a missing place is shown
        // with a directory that is not there.
        + "\n[[target]]\nname = \"nobucket\"\nkind = \"object_store\"\nurl = \"file://no-such-dir\"\ninterval = \"1s\"\n";
    let config = common::write_config(dir.path(), "", &rest);
    let env = [("TEST_S3_SECRET", SECRET.to_string())];
    let server = Running::start_with_env(&config, &env);
    let addr = server.addr;

    // Healthy cycles: up, with every phase timed, and the canaries written.
    let up = wait_result(addr, "blob", -1, |r| {
        r["status"] == "up" && r["details"]["storage"]["canaries_checked"].as_u64() == Some(3)
    });
    let storage = &up["details"]["storage"];
    for phase in ["put_ms", "get_ms", "list_ms", "delete_ms"] {
        assert!(storage[phase].as_f64().unwrap() > 0.0, "{phase}: {up}");
    }
    assert_eq!(storage["bytes"], 1024 + (6 << 20), "{up}");
    assert_eq!(storage["foreign_objects"], 1, "{up}");
    let canary = |i: u32| bucket.join(format!("probity/canary/{i:05}"));
    let originals: Vec<Vec<u8>> = (0..3).map(|i| std::fs::read(canary(i)).unwrap()).collect();
    assert!(originals.iter().all(|o| o.len() == 4096));

    // Bad credentials and a missing bucket: clear errors, not integrity failures, and the
    // secret in none of them.
    let bad = wait_result(addr, "badcreds", -1, |r| r["status"] == "down");
    assert_eq!(bad["error_class"], "http_status", "{bad}");
    let text = bad["error"].as_str().unwrap();
    assert!(
        text.contains("access denied") || text.contains("SignatureDoesNotMatch"),
        "{text}"
    );
    assert!(!bad.to_string().contains(SECRET));
    let missing = wait_result(addr, "nobucket", -1, |r| r["status"] == "down");
    assert!(
        missing["error"]
            .as_str()
            .unwrap()
            .contains("no-such-dir is not a directory"),
        "{missing}"
    );
    assert!(
        incidents(addr).iter().all(|i| i["target"] != "blob"),
        "healthy cycles opened an incident: {:?}",
        incidents(addr)
    );

    // Bytes flipped on the server's disk: integrity_mismatch naming both checksums.
    let mut flipped = originals[1].clone();
    flipped[100] ^= 0x01;
    let mark = last_id(addr, "blob");
    std::fs::write(canary(1), &flipped).unwrap();
    let bad = wait_result(addr, "blob", mark, |r| r["status"] == "down");
    assert_eq!(bad["error_class"], "integrity_mismatch", "{bad}");
    let text = bad["error"].as_str().unwrap();
    assert!(text.contains("probity/canary/00001"), "{text}");
    assert!(text.contains(&sha(&originals[1])), "{text}");
    assert!(text.contains(&sha(&flipped)), "{text}");
    let inc = wait_for(Duration::from_secs(10), || {
        incidents(addr)
            .into_iter()
            .find(|i| i["target"] == "blob" && i["cause_class"] == "integrity_mismatch")
    });
    // Put right: the incident resolves.
    std::fs::write(canary(1), &originals[1]).unwrap();
    wait_for(Duration::from_secs(30), || {
        incidents(addr)
            .into_iter()
            .find(|i| i["id"] == inc["id"] && !i["resolved_at"].is_null())
    });

    // A canary deleted underneath: object_missing.
    let mark = last_id(addr, "blob");
    std::fs::remove_file(canary(2)).unwrap();
    let gone = wait_result(addr, "blob", mark, |r| r["status"] == "down");
    assert_eq!(gone["error_class"], "object_missing", "{gone}");
    assert!(
        gone["error"]
            .as_str()
            .unwrap()
            .contains("probity/canary/00002"),
        "{gone}"
    );
    std::fs::write(canary(2), &originals[2]).unwrap();
    let mark = last_id(addr, "blob");
    wait_result(addr, "blob", mark, |r| r["status"] == "up");

    // An older generation put back after a rotation: stale_read.
    // The first generation's bytes, then the manifest's word that a second replaced them.
    let rotating = bucket.join("rotating/canary/00000");
    // The latest generation in the manifest (number, sha256).
    let latest = || {
        let db = rusqlite::Connection::open_with_flags(
            dir.path().join("data/probity.db"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .ok()?;
        db.query_row(
            "SELECT generation, sha256 FROM canaries WHERE store LIKE 's3://canary-bucket/rotating/%'
             ORDER BY generation DESC LIMIT 1",
            [],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
        )
        .ok()
    };
    // A generation whose bytes are on disk, then the next one's arrival.
    let (n, first) = wait_for(Duration::from_secs(20), || {
        let (n, want) = latest()?;
        let bytes = std::fs::read(&rotating).ok()?;
        (sha(&bytes) == want).then_some((n, bytes))
    });
    wait_for(Duration::from_secs(30), || {
        latest().filter(|(m, _)| *m > n).map(|_| ())
    });
    let mark = last_id(addr, "rotating");
    std::fs::write(&rotating, &first).unwrap();
    let stale = wait_result(addr, "rotating", mark, |r| r["status"] == "down");
    assert_eq!(stale["error_class"], "stale_read", "{stale}");
    assert!(
        stale["error"].as_str().unwrap().contains(&sha(&first)),
        "{stale}"
    );

    // The service failing in front of the data: 503 is http_status, a hang is a timeout;
    // neither is an integrity failure.
    let mark = last_id(addr, "blob");
    s3.mode.store(1, Ordering::SeqCst);
    let busy = wait_result(addr, "blob", mark, |r| r["status"] == "down");
    assert_eq!(busy["error_class"], "http_status", "{busy}");
    assert!(busy["error"].as_str().unwrap().contains("503"), "{busy}");
    let mark = last_id(addr, "blob");
    s3.mode.store(2, Ordering::SeqCst);
    let hung = wait_result(addr, "blob", mark, |r| r["error_class"] == "timeout");
    assert!(
        hung["error"]
            .as_str()
            .unwrap()
            .contains("within the timeout"),
        "{hung}"
    );
    s3.mode.store(0, Ordering::SeqCst);
    let healthy_since = jiff::Timestamp::now().as_millisecond();
    let mark = last_id(addr, "blob");
    wait_result(addr, "blob", mark, |r| r["status"] == "up");

    // Restarted, probity checks the canaries it wrote instead of writing new ones.
    server.stop();
    let server = Running::start_with_env(&config, &env);
    let mark = -1;
    wait_result(server.addr, "blob", mark, |r| {
        r["status"] == "up" && r["details"]["storage"]["canaries_checked"].as_u64() == Some(3)
    });
    for (i, o) in originals.iter().enumerate() {
        assert_eq!(
            &std::fs::read(canary(i as u32)).unwrap(),
            o,
            "canary {i} rewritten"
        );
    }
    server.stop();

    // Probity deleted nothing it did not write, and a healthy cycle left no round-trip
    // object behind. (A cycle the faults above cut between PUT and DELETE may have: such
    // leftovers are removed by a later cycle once an hour old, in case another instance is
    // still in the middle of its round trip.)
    for foreign in ["probity/canary/notes.txt", "probity/cycle/backup-1"] {
        assert!(bucket.join(foreign).exists(), "{foreign} was deleted");
    }
    let cycle: Vec<_> = std::fs::read_dir(bucket.join("probity/cycle"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("probity-"))
        .filter(|n| {
            let ms: i64 = n.split('-').nth(1).unwrap().parse().unwrap();
            ms >= healthy_since
        })
        .collect();
    assert!(cycle.is_empty(), "left behind: {cycle:?}");

    // Every manifest entry is evidence, and the audit rebuilds each from its row.
    let out = common::bin()
        .args(["evidence", "audit", "--json"])
        .current_dir(dir.path())
        .env("TEST_S3_SECRET", SECRET)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let audit: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(audit["findings"].as_array().unwrap().len(), 0, "{audit}");
    let db = rusqlite::Connection::open(dir.path().join("data/probity.db")).unwrap();
    let (canaries, generations): (i64, i64) = db
        .query_row(
            "SELECT count(*), max(generation) FROM canaries WHERE store LIKE 's3://canary-bucket/rotating/%'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(
        canaries >= 2 && generations >= 2,
        "{canaries} {generations}"
    );
    let leaves: i64 = db
        .query_row(
            "SELECT count(*) FROM canaries c JOIN evidence_leaves l ON l.idx = c.leaf_idx
             WHERE l.record LIKE '{\"type\":\"canary\"%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let rows: i64 = db
        .query_row("SELECT count(*) FROM canaries", [], |r| r.get(0))
        .unwrap();
    assert_eq!(leaves, rows);

    // Offline: a bundle carries the manifest entries and the failing results, and
    // verifies with the log's key alone.
    let evidence = |args: &[&str]| {
        let out = common::bin()
            .args(args)
            .current_dir(dir.path())
            .env("TEST_S3_SECRET", SECRET)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{args:?}: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    evidence(&[
        "evidence",
        "export",
        "--from",
        "2000-01-01T00:00:00Z",
        "--out",
        "bundle.json",
    ]);
    let key = evidence(&["evidence", "key"]).trim().to_string();
    let verified = evidence(&["evidence", "verify", "bundle.json", "--key", &key]);
    assert!(verified.starts_with("bundle.json: ok: "), "{verified}");
    let bundle: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("bundle.json")).unwrap())
            .unwrap();
    let records: Vec<serde_json::Value> = bundle["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let bytes = base64::Engine::decode(
                &base64::engine::general_purpose::STANDARD,
                r["record"].as_str().unwrap(),
            )
            .unwrap();
            serde_json::from_slice(&bytes).unwrap()
        })
        .collect();
    let canary_one = records
        .iter()
        .find(|r| r["type"] == "canary" && r["key"] == "probity/canary/00001")
        .expect("the canary's manifest entry is in the bundle");
    assert_eq!(canary_one["sha256"], sha(&originals[1]));
    assert!(
        records.iter().any(|r| r["type"] == "results"
            && r["results"].as_array().unwrap().iter().any(|x| {
                x["error_class"] == "integrity_mismatch"
                    && x["error"].as_str().unwrap().contains(&sha(&flipped))
            })),
        "the failing result, with the bytes' checksum, is in the bundle"
    );

    // A manifest entry changed in the database afterwards is found by the audit.
    db.execute(
        "UPDATE canaries SET sha256 = ?1 WHERE slot = 1 AND store LIKE 's3://canary-bucket/probity/%'",
        [sha(b"forged")],
    )
    .unwrap();
    let out = common::bin()
        .args(["evidence", "audit", "--json"])
        .current_dir(dir.path())
        .env("TEST_S3_SECRET", SECRET)
        .output()
        .unwrap();
    let audit: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = audit["findings"].to_string();
    assert!(
        findings.contains("canary probity/canary/00001: the manifest entry differs"),
        "{audit}"
    );
}

/// Azurite (npm, installed by `.ci/run` in tests/emulators): the Azure Blob protocol.
mod azure {
    use super::*;
    use base64::Engine;
    use hmac::{KeyInit, Mac};

    const ACCOUNT: &str = "devstoreaccount1";
    /// Azurite's well-known development key (public, in Microsoft's documentation).
    const ACCOUNT_KEY: &str =
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    fn azurite_bin() -> Option<PathBuf> {
        let bin = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/emulators/node_modules/.bin/azurite-blob");
        if bin.exists() && common::have("node") {
            return Some(bin);
        }
        assert!(
            std::env::var_os("PROBITY_REQUIRE_AZURITE").is_none(),
            "Azurite is required (npm ci in tests/emulators)"
        );
        common::skipped("the Azure Blob Storage test: no Azurite (npm ci in tests/emulators)");
        None
    }

    /// One request signed with the account key (SharedKey), as Azure's tools send it.
    fn request(
        addr: SocketAddr,
        method: &str,
        path_and_query: &str,
        body: &[u8],
        extra: &[(&str, &str)],
    ) -> u16 {
        let date = jiff::Timestamp::now()
            .strftime("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let version = "2021-10-04";
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        let mut headers: Vec<(String, String)> = vec![
            ("x-ms-date".into(), date.clone()),
            ("x-ms-version".into(), version.into()),
        ];
        headers.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        headers.sort();
        let canon_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
        let mut params: Vec<(&str, &str)> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| p.split_once('=').unwrap())
            .collect();
        params.sort();
        let canon_resource = format!(
            "/{ACCOUNT}{path}{}",
            params
                .iter()
                .map(|(k, v)| format!("\n{k}:{v}"))
                .collect::<String>()
        );
        let length = if body.is_empty() {
            String::new()
        } else {
            body.len().to_string()
        };
        let to_sign =
            format!("{method}\n\n\n{length}\n\n\n\n\n\n\n\n\n{canon_headers}{canon_resource}");
        let key = base64::engine::general_purpose::STANDARD
            .decode(ACCOUNT_KEY)
            .unwrap();
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
        mac.update(to_sign.as_bytes());
        let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let client = reqwest::Client::new();
            let mut req = client
                .request(
                    method.parse().unwrap(),
                    format!("http://{addr}{path_and_query}"),
                )
                .header("Authorization", format!("SharedKey {ACCOUNT}:{sig}"))
                .body(body.to_vec());
            for (k, v) in &headers {
                req = req.header(k, v);
            }
            req.send().await.unwrap().status().as_u16()
        })
    }

    #[test]
    fn azure_blob_canaries_catch_an_overwrite_and_a_deletion() {
        let Some(azurite) = azurite_bin() else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let port = common::free_port();
        let _azurite = common::Daemon(
            std::process::Command::new(azurite)
                .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
                .arg("--location")
                .arg(dir.path().join("azurite"))
                .args(["--silent", "--skipApiVersionCheck", "--disableTelemetry"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap(),
        );
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        // The container: object stores do not make their buckets.
        let created = wait_for(Duration::from_secs(30), || {
            std::net::TcpStream::connect(addr).ok()?;
            Some(request(
                addr,
                "PUT",
                &format!("/{ACCOUNT}/canary?restype=container"),
                b"",
                &[],
            ))
        });
        assert_eq!(created, 201);
        let config = common::write_config(
            dir.path(),
            "",
            &format!(
                r#"
[[target]]
name = "blob"
kind = "object_store"
url = "az://canary/probity/"
endpoint = "http://{addr}/{ACCOUNT}"
interval = "1s"
timeout = "5s"
failure_threshold = 1
success_threshold = 1
canaries = 2
canary_interval = "1s"
sizes = ["1KiB", "6MiB"]
[target.options]
azure_storage_account_name = "{ACCOUNT}"
azure_storage_account_key = "${{env:TEST_AZURE_KEY}}"
"#
            ),
        );
        let server = Running::start_with_env(&config, &[("TEST_AZURE_KEY", ACCOUNT_KEY.into())]);
        let addr_p = server.addr;
        let up = wait_result(addr_p, "blob", -1, |r| {
            r["status"] == "up" && r["details"]["storage"]["canaries_checked"].as_u64() == Some(2)
        });
        assert_eq!(up["details"]["storage"]["bytes"], 1024 + (6 << 20), "{up}");
        assert!(!up.to_string().contains(ACCOUNT_KEY));

        // Someone else overwrites a canary: other bytes come back.
        let mark = last_id(addr_p, "blob");
        let status = request(
            addr,
            "PUT",
            &format!("/{ACCOUNT}/canary/probity/canary/00000"),
            b"not what probity wrote",
            &[("x-ms-blob-type", "BlockBlob")],
        );
        assert_eq!(status, 201);
        let bad = wait_result(addr_p, "blob", mark, |r| r["status"] == "down");
        assert_eq!(bad["error_class"], "integrity_mismatch", "{bad}");
        assert!(
            bad["error"]
                .as_str()
                .unwrap()
                .contains(&sha(b"not what probity wrote")),
            "{bad}"
        );

        // And deletes the other.
        let status = request(
            addr,
            "DELETE",
            &format!("/{ACCOUNT}/canary/probity/canary/00001"),
            b"",
            &[],
        );
        assert_eq!(status, 202);
        let mark = last_id(addr_p, "blob");
        let gone = wait_result(addr_p, "blob", mark, |r| {
            r["details"]["storage"]["failures"]
                .as_array()
                .is_some_and(|f| f.iter().any(|f| f["class"] == "object_missing"))
        });
        assert_eq!(gone["status"], "down", "{gone}");
        assert!(
            gone["error"].as_str().unwrap().contains("and 1 more"),
            "{gone}"
        );
        server.stop();
    }
}
