//! Several `probity run` servers on one PostgreSQL database: they share the targets (each
//! probed by one server at a time), take over a killed server's targets and its open
//! incident, give a returning server its share back without probing anything twice, run
//! each one-at-a-time job on one server, and sign one log with one key.

use crate::common;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const TARGETS: usize = 300;
const NAMES: [&str; 3] = ["a", "b", "c"];

/// Writes `root/NAME/probity.toml` for each server, `[server] name = NAME` then `body`.
fn server_configs(root: &Path, names: &[&str], body: &str) -> Vec<PathBuf> {
    names
        .iter()
        .map(|name| {
            let dir = root.join(name);
            std::fs::create_dir_all(dir.join("data")).unwrap();
            common::write_config(&dir, &format!("name = \"{name}\"\n"), body)
        })
        .collect()
}

/// Starts the servers of `cfgs` (each `root/NAME/probity.toml`), the first alone, then the
/// others with its evidence key: servers sharing a store sign one log with one key.
fn start_sharing_key(root: &Path, cfgs: &[PathBuf]) -> Vec<common::Running> {
    let first = common::Running::start(&cfgs[0]);
    let key = cfgs[0].parent().unwrap().join("data/evidence.key");
    let mut all = vec![first];
    for cfg in &cfgs[1..] {
        let dir = cfg.parent().unwrap();
        assert!(dir.starts_with(root));
        std::fs::copy(&key, dir.join("data/evidence.key")).unwrap();
        all.push(common::Running::start(cfg));
    }
    all
}

/// A target name that `probity_core::cluster` gives to `server` among all three.
fn a_target_of(server: &str) -> String {
    let all: Vec<String> = NAMES.iter().map(|s| s.to_string()).collect();
    (0..)
        .map(|i| format!("flaky-{i}"))
        .find(|t| probity_core::cluster::owner(t, &all) == Some(server))
        .unwrap()
}

/// `n` HTTP targets `t0`… on `web`, every `interval`.
fn http_targets(web: SocketAddr, n: usize, interval: &str, timeout: &str) -> String {
    (0..n)
        .map(|i| {
            format!(
                "[[target]]\nname = \"t{i}\"\nkind = \"http\"\nurl = \"http://{web}/t{i}\"\ninterval = \"{interval}\"\ntimeout = \"{timeout}\"\n\n"
            )
        })
        .collect()
}

fn write_configs(
    root: &Path,
    db: &str,
    web: SocketAddr,
    flaky: (&str, SocketAddr),
    hook: SocketAddr,
) -> Vec<PathBuf> {
    let targets = http_targets(web, TARGETS, "1s", "900ms");
    server_configs(
        root,
        &NAMES,
        &format!(
            r#"
[store]
url = "{db}"
pool_size = 4

[evidence]
checkpoint_interval = "1s"

[alerting]
max_backoff = "300ms"

[[target]]
name = "{flaky_name}"
kind = "http"
url = "http://{flaky_addr}/"
interval = "1s"
timeout = "900ms"
failure_threshold = 2
success_threshold = 2

{targets}
[[channel]]
name = "hook"
type = "webhook"
url = "http://{hook}/hook"

[[alert]]
name = "all"
on = ["incident_opened", "incident_resolved"]
channels = ["hook"]
"#,
            flaky_name = flaky.0,
            flaky_addr = flaky.1,
        ),
    )
}

/// The cluster as server `addr` sees it, once it lists `n` members, each probing some
/// targets, that probe every target between them.
fn settled(addr: SocketAddr, n: usize) -> serde_json::Value {
    common::wait_for(Duration::from_secs(40), || {
        let c = common::try_get_json(addr, "/api/v1/cluster")?;
        let members = c["members"].as_array()?;
        let counts: Vec<u64> = members
            .iter()
            .filter_map(|m| m["targets"].as_u64())
            .collect();
        let total: u64 = counts.iter().sum();
        (members.len() == n && total == TARGETS as u64 + 1 && counts.iter().all(|n| *n > 0))
            .then_some(c)
    })
}

#[test]
fn three_servers_share_the_targets_and_take_over_from_a_killed_one() {
    let Some(db) = common::pg::database(
        "cluster::three_servers_share_the_targets_and_take_over_from_a_killed_one",
    ) else {
        return;
    };
    let web = common::serve(axum::Router::new().fallback(|| async { "ok" }));
    let (flaky_addr, flaky_up) = common::switchable_server();
    flaky_up.store(false, Ordering::SeqCst);
    let (hook, got) = common::webhook_receiver();
    // Down from the start, and probed by c: c opens its incident.
    let flaky = a_target_of("c");
    let root = tempfile::tempdir().unwrap();
    let cfgs = write_configs(root.path(), &db.url, web, (&flaky, flaky_addr), hook);

    let mut servers = start_sharing_key(root.path(), &cfgs).into_iter();
    let (a, b, c) = (
        servers.next().unwrap(),
        servers.next().unwrap(),
        servers.next().unwrap(),
    );
    let view = settled(a.addr, 3);
    let shares: BTreeMap<String, u64> = view["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_string(),
                m["targets"].as_u64().unwrap(),
            )
        })
        .collect();
    for (name, n) in &shares {
        assert!(
            (60..=150).contains(n),
            "{name} probes {n} of {TARGETS}: {view}"
        );
    }
    // Every server answers for every target and knows the whole cluster.
    let by_b = settled(b.addr, 3);
    assert_eq!(by_b["server"], "b");
    assert_eq!(by_b["shared_store"], true);

    // c opens the incident of its target.
    let incident = common::wait_for(Duration::from_secs(20), || {
        let open = common::get_json(a.addr, "/api/v1/incidents?state=open");
        open.as_array()?
            .iter()
            .find(|i| i["target"] == flaky.as_str())
            .and_then(|i| i["id"].as_i64())
    });
    // Each job runs on one server.
    let jobs = common::wait_for(Duration::from_secs(20), || {
        let c = common::get_json(a.addr, "/api/v1/cluster");
        let jobs = c["jobs"].as_array()?.clone();
        (jobs.len() >= 4).then_some(jobs)
    });
    for j in &jobs {
        assert!(NAMES.contains(&j["leader"].as_str().unwrap()), "{j}");
    }
    std::thread::sleep(Duration::from_secs(3));

    // c dies without a word; a and b take its targets, its incident among them.
    let killed = Instant::now();
    c.kill();
    let view = settled(a.addr, 2);
    let took = killed.elapsed();
    assert!(
        view["members"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["name"] != "c"),
        "{view}"
    );
    std::thread::sleep(Duration::from_secs(4));
    // Recovered: resolved by whichever server took it, as the same incident.
    flaky_up.store(true, Ordering::SeqCst);
    common::wait_for(Duration::from_secs(20), || {
        let inc = common::get_json(a.addr, &format!("/api/v1/incidents/{incident}"));
        inc["resolved_at"].is_string().then_some(())
    });

    // c comes back and takes its share again.
    let c = common::Running::start(&cfgs[2]);
    settled(a.addr, 3);
    std::thread::sleep(Duration::from_secs(5));
    for s in [a, b, c] {
        let log = s.log.clone();
        let status = s.stop();
        assert_eq!(status.code(), Some(0), "{}", log.lock().unwrap());
    }

    // Every target was probed by one server at a time: results of one target are at least
    // half an interval apart (two servers would probe the same slot), and no gap is longer
    // than the takeover bound: a dead server is seen gone within MEMBER_TTL (5 s) and a
    // heartbeat (1 s); its targets are probed at their next slot (1 s).
    let mut conn = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    let rows = conn
        .query(
            "SELECT target, at_ms FROM results ORDER BY target, at_ms",
            &[],
        )
        .unwrap();
    let mut times: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for r in &rows {
        times.entry(r.get(0)).or_default().push(r.get(1));
    }
    assert_eq!(times.len(), TARGETS + 1, "every target has results");
    let mut widest = (0, String::new());
    for (t, ts) in &times {
        for w in ts.windows(2) {
            let gap = w[1] - w[0];
            assert!(gap >= 500, "{t}: two results {gap} ms apart: probed twice");
            if gap > widest.0 {
                widest = (gap, t.clone());
            }
        }
    }
    println!(
        "cluster: {} results; c seen gone {} ms after its kill; widest gap {} ms ({})",
        rows.len(),
        took.as_millis(),
        widest.0,
        widest.1
    );
    assert!(
        widest.0 <= 9_000,
        "{}: a gap of {} ms (c was seen gone {} ms after its kill)",
        widest.1,
        widest.0,
        took.as_millis()
    );
    // One incident for the flaky target, opened by one server and resolved by another.
    let n: i64 = conn
        .query_one(
            "SELECT COUNT(*) FROM incidents WHERE target = $1",
            &[&flaky],
        )
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
    // Its two alerts, each delivered once.
    let got = got.lock().unwrap().clone();
    let mut events: Vec<&str> = got.iter().map(|(_, e)| e.as_str()).collect();
    events.sort();
    assert_eq!(events, ["incident_opened", "incident_resolved"], "{got:?}");
    assert_ne!(got[0].0, got[1].0);
    // One log, appended by three servers: checkpoints that extend each other, every leaf
    // recomputed from its rows.
    let (code, out, err) = common::run(&["evidence", "audit"], &root.path().join("a"));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.trim_end().ends_with(": ok"), "{out}");
}

/// A server whose evidence key did not sign the store's log is refused: servers sharing a
/// store sign one log.
#[test]
fn a_server_with_another_key_is_refused() {
    let Some(db) = common::pg::database("cluster::a_server_with_another_key_is_refused") else {
        return;
    };
    let web = common::serve(axum::Router::new().fallback(|| async { "ok" }));
    let (hook, _) = common::webhook_receiver();
    let root = tempfile::tempdir().unwrap();
    let cfgs = write_configs(root.path(), &db.url, web, ("flaky", web), hook);
    let a = common::Running::start(&cfgs[0]);
    common::wait_for(Duration::from_secs(20), || {
        (common::get(a.addr, "/api/v1/evidence/checkpoint").0 == 200).then_some(())
    });
    let (code, _, err) = common::run(&["run"], &root.path().join("b"));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("latest evidence checkpoint is not signed by the key"),
        "{err}"
    );
    a.stop();
}

fn pg_store(url: &str) -> probity_engine::store::PgStore {
    probity_engine::store::PgStore::open(&probity_engine::store::PgOptions {
        url: url.to_string(),
        password: None,
        pool_size: 2,
        ca_file: None,
    })
    .unwrap()
}

fn member(name: &str, instance: &str) -> probity_engine::store::Member {
    probity_engine::store::Member {
        name: name.into(),
        instance: instance.into(),
        address: format!("http://{name}.example:8080"),
        started_at_ms: 1,
        heartbeat_at_ms: 0,
        targets: 3,
    }
}

/// The store's side of it: two stores (two servers) on one database hand out ids that
/// never meet, see each other's heartbeats, refuse a live name to another process, and
/// give a lease to one holder at a time, counting hand-overs.
#[test]
fn servers_on_one_database_get_their_own_ids_names_and_leases() {
    use probity_engine::store::traits::*;
    let Some(db) =
        common::pg::database("cluster::servers_on_one_database_get_their_own_ids_names_and_leases")
    else {
        return;
    };
    let (x, y) = (pg_store(&db.url), pg_store(&db.url));
    let mut ids = std::collections::HashSet::new();
    for _ in 0..1000 {
        assert!(ids.insert(x.next_result_id().unwrap()));
        assert!(ids.insert(y.next_result_id().unwrap()));
        assert!(ids.insert(-x.next_incident_id().unwrap()));
        assert!(ids.insert(-y.next_incident_id().unwrap()));
    }

    // Heartbeats: each sees both, by name; a second process under a live name is refused.
    let seen = x.heartbeat(&member("x", "1"), 5_000).unwrap();
    assert_eq!(seen.len(), 1);
    let seen = y.heartbeat(&member("y", "2"), 5_000).unwrap();
    let names: Vec<&str> = seen.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["x", "y"]);
    assert_eq!(seen[0].address, "http://x.example:8080");
    let err = y
        .heartbeat(&member("x", "3"), 5_000)
        .unwrap_err()
        .to_string();
    assert!(err.contains("another server named \"x\""), "{err}");
    // Gone once its heartbeat is older than the time to live (here 300 ms, after 600 ms).
    std::thread::sleep(Duration::from_millis(600));
    let seen = y.heartbeat(&member("y", "2"), 300).unwrap();
    assert_eq!(
        seen.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
        ["y"]
    );
    // And then its name may be taken by another process.
    assert!(y.heartbeat(&member("x", "3"), 1).is_ok());
    // Leaving removes it at once.
    y.leave("x", "3").unwrap();
    let seen = y.heartbeat(&member("y", "2"), 60_000).unwrap();
    assert!(seen.iter().all(|m| m.name != "x"), "{seen:?}");

    // Leases: one holder; renewing keeps the epoch; a lapsed lease taken by another adds one.
    assert_eq!(x.lease("feeds", "x", "1", 60_000).unwrap(), Some(1));
    assert_eq!(y.lease("feeds", "y", "2", 60_000).unwrap(), None);
    assert_eq!(x.lease("feeds", "x", "1", 60_000).unwrap(), Some(1));
    x.release("feeds", "1").unwrap();
    assert_eq!(y.lease("feeds", "y", "2", 1).unwrap(), Some(2));
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(x.lease("feeds", "x", "1", 60_000).unwrap(), Some(3));
    let leases = y.leases().unwrap();
    assert_eq!(leases.len(), 1);
    assert_eq!((leases[0].holder.as_str(), leases[0].epoch), ("x", 3));
    // A server that leaves gives its leases up.
    x.leave("x", "1").unwrap();
    assert_eq!(y.lease("feeds", "y", "2", 60_000).unwrap(), Some(4));
}

/// A ping (or an agent's result) for a target another server records is refused with 421,
/// naming that server; sent there, it is taken. Two servers tracking one target would
/// open two incidents for one outage.
#[test]
fn a_ping_to_a_server_that_does_not_record_the_target_names_the_one_that_does() {
    let Some(db) = common::pg::database(
        "cluster::a_ping_to_a_server_that_does_not_record_the_target_names_the_one_that_does",
    ) else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let two: Vec<String> = vec!["a".into(), "b".into()];
    // A heartbeat that b watches.
    let job = (0..)
        .map(|i| format!("job-{i}"))
        .find(|t| probity_core::cluster::owner(t, &two) == Some("b"))
        .unwrap();
    let cfgs = server_configs(
        root.path(),
        &["a", "b"],
        &format!(
            "[store]\nurl = \"{}\"\npool_size = 2\n\n[[target]]\nname = \"{job}\"\nkind = \"heartbeat\"\ninterval = \"1h\"\ngrace = \"1h\"\ntoken = \"job-token-0123456789\"\n",
            db.url
        ),
    );
    let mut servers = start_sharing_key(root.path(), &cfgs).into_iter();
    let (a, b) = (servers.next().unwrap(), servers.next().unwrap());
    common::wait_for(Duration::from_secs(30), || {
        let c = common::try_get_json(a.addr, "/api/v1/cluster")?;
        let m = c["members"].as_array()?;
        (m.len() == 2 && m.iter().any(|m| m["name"] == "b" && m["targets"] == 1)).then_some(())
    });
    // a's own view settles within a heartbeat of b's.
    let (status, body) = common::wait_for(Duration::from_secs(10), || {
        let r = common::get(a.addr, "/api/v1/heartbeat/job-token-0123456789");
        (r.0 == 421).then_some(r)
    });
    assert_eq!(status, 421);
    assert!(body.contains("is recorded by server \\\"b\\\""), "{body}");
    assert!(body.contains(&format!("http://{}", b.addr)), "{body}");
    let (status, body) = common::get(b.addr, "/api/v1/heartbeat/job-token-0123456789");
    assert_eq!(status, 200, "{body}");
    // What b recorded, a shows (from the store).
    common::wait_for(Duration::from_secs(10), || {
        let t = common::get_json(a.addr, &format!("/api/v1/targets/{job}"));
        (t["status"] == "up").then_some(())
    });
    a.stop();
    b.stop();
}

/// The database stopped for 10 s under two servers (as a crash would) and started again:
/// both go on probing their shares meanwhile (neither takes the other's targets: neither
/// can see the other go), keep what they measure in their spools, and write it when the
/// database is back. Every target's results run on without a gap or a double.
#[test]
fn two_servers_lose_nothing_while_their_database_is_down() {
    let Some(pg) = common::pg::PrivateServer::start(
        "cluster::two_servers_lose_nothing_while_their_database_is_down",
    ) else {
        return;
    };
    let web = common::serve(axum::Router::new().fallback(|| async { "ok" }));
    let root = tempfile::tempdir().unwrap();
    let targets = http_targets(web, 40, "1s", "900ms");
    let cfgs = server_configs(
        root.path(),
        &["a", "b"],
        &format!(
            "[store]\nurl = \"{}\"\npool_size = 2\n\n{targets}",
            pg.url()
        ),
    );
    let mut servers = start_sharing_key(root.path(), &cfgs).into_iter();
    let (a, b) = (servers.next().unwrap(), servers.next().unwrap());
    common::wait_for(Duration::from_secs(30), || {
        let c = common::try_get_json(a.addr, "/api/v1/cluster")?;
        let m = c["members"].as_array()?;
        let total: u64 = m.iter().filter_map(|m| m["targets"].as_u64()).sum();
        (m.len() == 2 && total == 40 && m.iter().all(|m| m["targets"].as_u64() > Some(0)))
            .then_some(())
    });
    // b's share changed hands when it joined (held 2 s): counted from when that is over.
    std::thread::sleep(Duration::from_secs(4));
    let steady = jiff::Timestamp::now().as_millisecond();
    pg.down();
    let down_at = jiff::Timestamp::now().as_millisecond();
    std::thread::sleep(Duration::from_secs(10));
    let up_at = jiff::Timestamp::now().as_millisecond();
    pg.up();
    // Written once the database answers: the spools empty.
    common::wait_for(Duration::from_secs(40), || {
        ["a", "b"]
            .iter()
            .all(|n| {
                std::fs::read_dir(root.path().join(n).join("data/spool"))
                    .map(|d| d.count() == 0)
                    .unwrap_or(true)
            })
            .then_some(())
    });
    std::thread::sleep(Duration::from_secs(2));
    for s in [a, b] {
        let log = s.log.clone();
        let status = s.stop();
        assert_eq!(status.code(), Some(0), "{}", log.lock().unwrap());
    }
    let mut conn = postgres::Client::connect(&pg.url(), postgres::NoTls).unwrap();
    let rows = conn
        .query(
            "SELECT target, at_ms FROM results ORDER BY target, at_ms",
            &[],
        )
        .unwrap();
    let mut times: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for r in &rows {
        times.entry(r.get(0)).or_default().push(r.get(1));
    }
    assert_eq!(times.len(), 40);
    for (t, ts) in &times {
        let during = ts
            .iter()
            .filter(|at| **at > down_at && **at < up_at)
            .count();
        assert!(
            during >= 8,
            "{t}: {during} results of the 10 s outage stored"
        );
        for w in ts.windows(2).filter(|w| w[0] >= steady) {
            let gap = w[1] - w[0];
            assert!(
                (500..=2_500).contains(&gap),
                "{t}: results {gap} ms apart at {}",
                w[0]
            );
        }
    }
    let (code, out, err) = common::run(&["evidence", "audit"], &root.path().join("a"));
    assert_eq!(code, 0, "{out}{err}");
}

/// An agent pointed at one server of several sends each target's results to the server
/// that records it (it learns the servers from `/api/v1/cluster`): every target's results
/// from the agent's vantage are stored, whichever server records it.
#[test]
fn an_agent_sends_each_result_to_the_server_that_records_its_target() {
    let Some(db) = common::pg::database(
        "cluster::an_agent_sends_each_result_to_the_server_that_records_its_target",
    ) else {
        return;
    };
    let web = common::serve(axum::Router::new().fallback(|| async { "ok" }));
    let root = tempfile::tempdir().unwrap();
    let targets = http_targets(web, 8, "500ms", "400ms");
    let cfgs = server_configs(
        root.path(),
        &["a", "b"],
        &format!(
            "[store]\nurl = \"{}\"\npool_size = 2\n\n{targets}[[vantage]]\nname = \"eu\"\n",
            db.url
        ),
    );
    let token = common::agent_token(&cfgs[0], "eu", &[]);
    let mut servers = start_sharing_key(root.path(), &cfgs).into_iter();
    let (a, b) = (servers.next().unwrap(), servers.next().unwrap());
    let shares = common::wait_for(Duration::from_secs(30), || {
        let c = common::try_get_json(a.addr, "/api/v1/cluster")?;
        let m = c["members"].as_array()?.clone();
        let counts: Vec<u64> = m.iter().filter_map(|m| m["targets"].as_u64()).collect();
        (m.len() == 2 && counts.iter().sum::<u64>() == 8 && counts.iter().all(|n| *n > 0))
            .then_some(counts)
    });
    assert!(shares.iter().all(|n| *n > 0), "{shares:?}");
    let spool = root.path().join("agent-spool");
    let agent = common::Agent::start(a.addr, &token, "eu", &spool, &[]);
    let mut conn = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    let per_target = common::wait_for(Duration::from_secs(40), || {
        let rows = conn
            .query(
                "SELECT target, COUNT(*) FROM results WHERE vantage = 'eu' GROUP BY target",
                &[],
            )
            .unwrap();
        let counts: BTreeMap<String, i64> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        (counts.len() == 8 && counts.values().all(|n| *n >= 4)).then_some(counts)
    });
    assert_eq!(per_target.len(), 8, "{per_target:?}");
    agent.stop();
    a.stop();
    b.stop();
}
