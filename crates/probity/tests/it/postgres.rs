//! `probity run` and the commands on a PostgreSQL store (`[store] url`): a real server on
//! loopback, a real database made for the test. What SQLite does, PostgreSQL does: results,
//! an incident and its alerts, feed revisions, tokens, the audit (which catches an edited
//! row), and everything still there after a restart.

use crate::common;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::atomic::Ordering;
use std::time::Duration;

fn config(dir: &std::path::Path, db: &str, target: SocketAddr, hook: SocketAddr) {
    common::write_config(
        dir,
        "",
        &format!(
            r#"
[store]
url = "{db}"
pool_size = 4

[alerting]
max_backoff = "300ms"

[[target]]
name = "web"
provider = "azure"
kind = "http"
url = "http://{target}/"
interval = "200ms"
timeout = "1s"
failure_threshold = 2
success_threshold = 2

[[feed]]
name = "azure"
format = "azure-rss"
url = "http://127.0.0.1:9/unreachable"
interval = "1h"
timeout = "1s"

[[channel]]
name = "hook"
type = "webhook"
url = "http://{hook}/hook"

[[alert]]
name = "web"
on = ["incident_opened", "incident_resolved"]
channels = ["hook"]
"#
        ),
    );
}

use crate::common::feed_fixture as fixture;

#[test]
fn a_server_on_postgres_records_alerts_attests_and_keeps_everything() {
    let Some(db) = common::pg::database(
        "postgres::a_server_on_postgres_records_alerts_attests_and_keeps_everything",
    ) else {
        return;
    };
    let (target, up) = common::switchable_server();
    let (hook, got) = common::webhook_receiver();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    config(d, &db.url, target, hook);
    let cfg = d.join("probity.toml");

    // A token made by the command, kept in the database.
    let (code, token, err) = common::run(&["token", "create", "--name", "ops"], d);
    assert_eq!(code, 0, "{err}");
    let token = token.trim().to_string();
    assert!(
        !d.join("data/probity.db").exists(),
        "nothing went to SQLite"
    );

    let probity = common::Running::start(&cfg);
    let addr = probity.addr;
    // Servers sharing a database have names of their own: a second one under the same
    // name (the host's, by default; the log's key copied over) is refused, saying why.
    let other = tempfile::tempdir().unwrap();
    config(other.path(), &db.url, target, hook);
    std::fs::create_dir_all(other.path().join("data")).unwrap();
    common::wait_for(Duration::from_secs(10), || {
        d.join("data/evidence.key").exists().then_some(())
    });
    std::fs::copy(
        d.join("data/evidence.key"),
        other.path().join("data/evidence.key"),
    )
    .unwrap();
    let (code, _, err) = common::run(&["run"], other.path());
    assert_ne!(code, 0);
    assert!(err.contains("another server named"), "{err}");
    assert!(err.contains(&format!("is running on {}", db.url)), "{err}");
    up.store(false, Ordering::SeqCst);
    let id = common::wait_for(Duration::from_secs(20), || {
        let open = common::get_json(addr, "/api/v1/incidents?state=open");
        open.as_array()?.first()?["id"].as_i64()
    });
    // An acknowledgment with the token from the database.
    let (status, _) = common::post_json(
        addr,
        &format!("/api/v1/incidents/{id}/ack"),
        Some(&token),
        r#"{"by":"oncall","note":"looking"}"#,
    );
    assert_eq!(status, 200);
    up.store(true, Ordering::SeqCst);
    common::wait_for(Duration::from_secs(20), || {
        got.lock()
            .unwrap()
            .iter()
            .any(|(_, e)| e == "incident_resolved")
            .then_some(())
    });
    // Each alert delivered once per key (the receiver takes every first attempt).
    let alerts = common::wait_for(Duration::from_secs(10), || {
        let a = common::get_json(addr, "/api/v1/alerts");
        let all = a.as_array()?.clone();
        (all.len() == 2 && all.iter().all(|x| x["state"] == "delivered")).then_some(all)
    });
    let keys: Vec<String> = got.lock().unwrap().iter().map(|(k, _)| k.clone()).collect();
    let mut unique = keys.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((keys.len(), unique.len()), (2, 2), "{keys:?}");
    for a in &alerts {
        assert!(unique.contains(&a["idempotency_key"].as_str().unwrap().to_string()));
    }
    let results = common::get_json(addr, "/api/v1/targets/web/results?limit=1000");
    let n_results = results.as_array().unwrap().len();
    assert!(n_results >= 4, "{results}");
    let log = probity.log.clone();
    let status = probity.stop();
    assert_eq!(
        status.code(),
        Some(0),
        "{status:?}\n{}",
        log.lock().unwrap()
    );

    // Two documents of the provider's feed, imported: revisions on PostgreSQL.
    std::fs::write(d.join("a.rss"), fixture("azure-status.rss")).unwrap();
    std::fs::write(d.join("b.rss"), fixture("azure-status-mitigated.rss")).unwrap();
    for doc in ["a.rss", "b.rss"] {
        let (code, _, err) = common::run(&["feeds", "import", "--feed", "azure", doc], d);
        assert_eq!(code, 0, "{err}");
    }

    // The audit recomputes every leaf from the rows, and finds an edited one.
    let (code, out, err) = common::run(&["evidence", "audit"], d);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.trim_end().ends_with(": ok"), "{out}");
    let (code, out, err) = common::run(&["store", "stats", "--json"], d);
    assert_eq!(code, 0, "{err}");
    let stats: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(stats["rows"]["results"].as_u64().unwrap() >= n_results as u64);
    assert!(
        stats["rows"]["provider_revisions"].as_u64().unwrap() >= 1,
        "{stats}"
    );
    assert!(stats["database_bytes"].as_u64().unwrap() > 0);

    // Restarted, the server has it all: the incident, resolved and acknowledged, the
    // provider's incidents, the results.
    let probity = common::Running::start(&cfg);
    let inc = common::get_json(probity.addr, &format!("/api/v1/incidents/{id}"));
    assert!(inc["resolved_at"].is_string(), "{inc}");
    assert_eq!(inc["acknowledged"]["by"], "oncall", "{inc}");
    let declared = common::get_json(probity.addr, "/api/v1/provider-incidents");
    assert!(!declared.as_array().unwrap().is_empty(), "{declared}");
    probity.stop();

    let mut c = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    let down: i64 = c
        .query_one(
            "SELECT id FROM results WHERE health = 'down' ORDER BY id LIMIT 1",
            &[],
        )
        .unwrap()
        .get(0);
    c.execute("UPDATE results SET health = 'up' WHERE id = $1", &[&down])
        .unwrap();
    let (code, out, _) = common::run(&["evidence", "audit"], d);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "result {down}: `health` is \"up\" in the database but \"down\" in the log"
        )),
        "{out}"
    );
}

/// A database that cannot be reached, or a URL with a password in it: a clear error that
/// shows no secret.
#[test]
fn a_bad_store_url_is_refused_clearly_without_its_secret() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    common::write_config(
        d,
        "",
        "[store]\nurl = \"postgres://probity:hunter2@127.0.0.1:9/probity\"\n",
    );
    let (code, _, err) = common::run(&["check"], d);
    assert_eq!(code, 2);
    assert!(
        err.contains("[store] `url` must not hold a password"),
        "{err}"
    );

    std::fs::write(d.join("pw"), "s3cret-pw\n").unwrap();
    common::write_config(
        d,
        "",
        "[store]\nurl = \"postgres://probity@127.0.0.1:9/probity?connect_timeout=2\"\npassword = \"${file:pw}\"\n",
    );
    let (code, _, err) = common::run(&["check"], d);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = common::run(&["store", "stats"], d);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("opening the store (postgres://probity@127.0.0.1:9/probity"),
        "{err}"
    );
    assert!(!err.contains("s3cret-pw"), "{err}");
}

/// `probity store migrate`: the demo's SQLite store copied into PostgreSQL; the evidence
/// root is unchanged, the audit is clean on the copy, and the figures computed from either
/// store over the same bounds are byte for byte the same. A database not empty is refused.
#[test]
fn store_migrate_copies_the_demo_and_its_figures_stay_the_same() {
    use probity_engine::store::traits::*;
    let Some(db) = common::pg::database(
        "postgres::store_migrate_copies_the_demo_and_its_figures_stay_the_same",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let status = common::bin()
        .args([
            "demo",
            "--fast",
            "--duration",
            "12s",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(&data)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let (size, root) = {
        let s = probity_engine::store::SqliteStore::open(&data).unwrap();
        let size = s.evidence_size().unwrap();
        (size, hex::encode(s.evidence_root(size).unwrap()))
    };
    assert!(size > 10, "the demo wrote {size} leaves");

    let (code, _, err) = common::run(
        &[
            "store",
            "migrate",
            "--from",
            "sqlite:nowhere",
            "--to",
            &db.url,
        ],
        dir.path(),
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("--from sqlite:nowhere: no probity.db there"),
        "{err}"
    );
    let from = format!("sqlite:{}", data.join("probity.db").display());
    // A password in the URL, in its authority or its settings: refused, and not shown.
    for to in [
        "postgres://u:hunter2@127.0.0.1:9/x",
        "postgres://u@127.0.0.1:9/x?password=hunter2",
    ] {
        let (code, _, err) = common::run(
            &["store", "migrate", "--from", &from, "--to", to],
            dir.path(),
        );
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("no password in the URL"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
    let (code, out, err) = common::run(
        &[
            "store", "migrate", "--from", &from, "--to", &db.url, "--json",
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["evidence_size"], size);
    assert_eq!(v["evidence_root"], root.as_str());
    assert!(v["tables"]["results"].as_u64().unwrap() > 0, "{v}");
    // Into a database that is not empty: refused, nothing changed.
    let (code, _, err) = common::run(
        &["store", "migrate", "--from", &from, "--to", &db.url],
        dir.path(),
    );
    assert_eq!(code, 1);
    assert!(err.contains("is not empty"), "{err}");

    // The demo's configuration, and the same on the copy.
    let sqlite_cfg = data.join("demo.toml");
    let pg_cfg = data.join("pg.toml");
    let mut text = std::fs::read_to_string(&sqlite_cfg).unwrap();
    text.push_str(&format!("\n[store]\nurl = \"{}\"\n", db.url));
    std::fs::write(&pg_cfg, text).unwrap();
    let (code, out, err) = common::run(
        &["evidence", "audit", "-c", pg_cfg.to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.trim_end().ends_with(": ok"), "{out}");
    // Stated bounds, in whole minutes (as the SLA report wants), past the demo's end.
    let minute = jiff::Timestamp::now().as_millisecond().div_euclid(60_000) * 60_000;
    let at = |ms: i64| jiff::Timestamp::from_millisecond(ms).unwrap().to_string();
    let (from_t, to_t) = (at(minute - 86_400_000), at(minute + 120_000));
    for args in [
        vec!["scorecard", "--json", "--from", &from_t, "--to", &to_t],
        vec!["sla", "report", "--json", "--from", &from_t, "--to", &to_t],
    ] {
        let on = |cfg: &std::path::Path| {
            let mut a = args.clone();
            a.extend(["-c", cfg.to_str().unwrap()]);
            let (code, out, err) = common::run(&a, dir.path());
            assert_eq!(code, 0, "{args:?}: {err}");
            out
        };
        let (a, b) = (on(&sqlite_cfg), on(&pg_cfg));
        assert!(a.len() > 100, "{a}");
        assert_eq!(a, b, "{args:?} differs between the stores");
    }
}

/// A server on a database of the test's own, once it has stored results of `web`; then
/// the database stops (as a crash would) and `web` starts failing: (database, server,
/// its directory, the alerts received, when the database stopped).
struct Outage {
    pg: common::pg::PrivateServer,
    probity: common::Running,
    dir: tempfile::TempDir,
    got: common::Received,
    down_at: i64,
}

/// Waits until the server has opened `web`'s incident while the database is away (its live
/// state, which /metrics shows without the database): waiting for that rather than a fixed
/// time, a slow machine does not see the incident open only after the database is back.
fn incident_opens_while_down(addr: std::net::SocketAddr) {
    common::wait_for(Duration::from_secs(30), || {
        let (status, body) = common::get(addr, "/metrics");
        (status == 200 && body.contains("probity_incident_open{target=\"web\"} 1")).then_some(())
    });
}

/// The results of an API answer measured strictly between two instants (Unix ms).
fn between(results: &serde_json::Value, after: i64, before: i64) -> Vec<&serde_json::Value> {
    results
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            let at = jiff::Timestamp::from_str(r["at"].as_str().unwrap())
                .unwrap()
                .as_millisecond();
            at > after && at < before
        })
        .collect()
}

fn start_then_lose_the_database(test: &str) -> Option<Outage> {
    let pg = common::pg::PrivateServer::start(test)?;
    let (target, up) = common::switchable_server();
    let (hook, got) = common::webhook_receiver();
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), &pg.url(), target, hook);
    let probity = common::Running::start(&dir.path().join("probity.toml"));
    let addr = probity.addr;
    common::wait_for(Duration::from_secs(20), || {
        let r = common::get_json(addr, "/api/v1/targets/web/results?limit=5");
        (r.as_array()?.len() >= 2).then_some(())
    });
    // The outage is taken to begin as the database starts going down: a probe that starts
    // while it is being stopped and is answered once the target fails is measured during
    // the outage, and so is the incident it opens.
    let down_at = jiff::Timestamp::now().as_millisecond();
    pg.down();
    up.store(false, Ordering::SeqCst);
    Some(Outage {
        pg,
        probity,
        dir,
        got,
        down_at,
    })
}

/// The database goes away (stopped as by a crash) while the server probes, and the target
/// fails meanwhile; when the database is back, what was measured during the outage is
/// written, the incident it opened is there and its alert is delivered, and the server
/// stops cleanly.
#[test]
fn a_database_outage_loses_nothing_measured_meanwhile() {
    let Some(Outage {
        pg,
        probity,
        dir: _dir,
        got,
        down_at,
    }) = start_then_lose_the_database(
        "postgres::a_database_outage_loses_nothing_measured_meanwhile",
    )
    else {
        return;
    };
    let addr = probity.addr;
    incident_opens_while_down(addr);
    std::thread::sleep(Duration::from_secs(2));
    let back_at = jiff::Timestamp::now().as_millisecond();
    pg.up();
    let inc = common::wait_for(Duration::from_secs(40), || {
        let open = common::get_json(addr, "/api/v1/incidents?state=open");
        open.as_array()?.first().cloned()
    });
    common::wait_for(Duration::from_secs(30), || {
        got.lock()
            .unwrap()
            .iter()
            .any(|(_, e)| e == "incident_opened")
            .then_some(())
    });
    // The spool is written batch by batch once the database is back: read until the
    // outage's results are there (or the wait ends, and the assertion says what was).
    let count_during = |results: &serde_json::Value| between(results, down_at, back_at).len();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let (results, during) = loop {
        let results = common::get_json(addr, "/api/v1/targets/web/results?limit=1000");
        let during = count_during(&results);
        if during >= 3 || std::time::Instant::now() > deadline {
            break (results, during);
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        during >= 3,
        "{during} results measured during the outage were stored: {results}"
    );
    let started = jiff::Timestamp::from_str(inc["started_at"].as_str().unwrap())
        .unwrap()
        .as_millisecond();
    assert!(
        started > down_at && started < back_at,
        "the incident started during the outage: {inc}"
    );
    let log = probity.log.clone();
    let status = probity.stop();
    assert_eq!(status.code(), Some(0), "{}", log.lock().unwrap());
}

/// TLS to the database: a server that takes TLS connections only, its certificate from a
/// private CA. With `ca_file` naming the CA (and `sslmode=require`), commands work; without
/// it the certificate is refused (verified, not just encrypted); with TLS off the server
/// turns the connection away.
#[test]
fn tls_to_the_database_is_verified() {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let Some(pg) = common::pg::PrivateServer::start_tls(
        "postgres::tls_to_the_database_is_verified",
        &leaf.pem(),
        &key.serialize_pem(),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("ca.pem"), ca_cert.pem()).unwrap();
    let url = pg.url();
    let stats = |store: &str| {
        common::write_config(d, "", store);
        common::run(&["store", "stats", "--json"], d)
    };
    let (code, out, err) = stats(&format!(
        "[store]\nurl = \"{url}?sslmode=require\"\nca_file = \"ca.pem\"\n"
    ));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("\"rows\""), "{out}");
    let (code, _, err) = stats(&format!("[store]\nurl = \"{url}?sslmode=require\"\n"));
    assert_ne!(code, 0);
    assert!(err.contains("opening the store"), "{err}");
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    let (code, _, err) = stats(&format!(
        "[store]\nurl = \"{url}?sslmode=disable\"\nca_file = \"ca.pem\"\n"
    ));
    assert_ne!(code, 0);
    assert!(err.contains("no pg_hba.conf entry"), "{err}");
}

#[test]
fn import_benchmark_runs_on_postgres() {
    // The same with `PROBITY_BENCH_STORE`: a PostgreSQL store, the figures BENCHMARKS.md
    // compares with SQLite's.
    let Some(db) = common::pg::database("postgres::import_benchmark_runs_on_postgres") else {
        return;
    };
    let Some(text) = crate::benchmarks::run_benchmark_with(
        "postgres::import_benchmark_runs_on_postgres",
        "bench/import.sh",
        &["2000"],
        &[("PROBITY_BENCH_STORE", &db.url)],
    ) else {
        return;
    };
    crate::benchmarks::check_import_figures(&text);
    let mut c = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    // Counted in the hourly totals: the server the script starts prunes raw results older
    // than raw_retention, and the imported ones (1 January 2026) are.
    let n: i64 = c
        .query_one(
            "SELECT COALESCE(SUM(count), 0)::BIGINT FROM hourly WHERE hour_ms < 1767312000000",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(n, 2000, "the results went to PostgreSQL");
}

/// Killed while its database is down, a server loses nothing it measured meanwhile: the
/// batches the database refused wait in the spool on local disk, and the next start
/// writes them before anything else (the incident opened during the outage among them).
#[test]
fn a_server_killed_during_a_database_outage_loses_nothing() {
    let Some(Outage {
        pg,
        probity,
        dir,
        got,
        down_at,
    }) = start_then_lose_the_database(
        "postgres::a_server_killed_during_a_database_outage_loses_nothing",
    )
    else {
        return;
    };
    let cfg = dir.path().join("probity.toml");
    // The incident opens while the database is away (failure_threshold 2 at 200 ms);
    // the API's reads fail meanwhile, the spool grows.
    incident_opens_while_down(probity.addr);
    std::thread::sleep(Duration::from_secs(2));
    let spooled = std::fs::read_dir(dir.path().join("data/spool"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".json")
        })
        .count();
    assert!(spooled >= 3, "{spooled} batches in the spool");
    probity.kill();
    let killed_at = jiff::Timestamp::now().as_millisecond();
    pg.up();
    let probity = common::Running::start(&cfg);
    let addr = probity.addr;
    let results = common::get_json(addr, "/api/v1/targets/web/results?limit=1000");
    let during = between(&results, down_at, killed_at);
    assert!(
        during.len() >= 8,
        "{} results measured during the outage were stored: {results}",
        during.len()
    );
    assert!(during.iter().all(|r| r["status"] == "down"), "{results}");
    let open = common::get_json(addr, "/api/v1/incidents?state=open");
    let inc = open
        .as_array()
        .unwrap()
        .first()
        .cloned()
        .expect("the incident");
    let started = jiff::Timestamp::from_str(inc["started_at"].as_str().unwrap())
        .unwrap()
        .as_millisecond();
    assert!(started > down_at && started < killed_at, "{inc}");
    // Its alert, written with it, is delivered.
    common::wait_for(Duration::from_secs(30), || {
        got.lock()
            .unwrap()
            .iter()
            .any(|(_, e)| e == "incident_opened")
            .then_some(())
    });
    let left = std::fs::read_dir(dir.path().join("data/spool"))
        .unwrap()
        .count();
    assert_eq!(left, 0, "the spool is empty once written");
    let log = probity.log.clone();
    let status = probity.stop();
    assert_eq!(status.code(), Some(0), "{}", log.lock().unwrap());
    let (code, out, err) = common::run(&["evidence", "audit"], dir.path());
    assert_eq!(code, 0, "{out}{err}");
}
