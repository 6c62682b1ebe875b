//! Agents as separate processes on loopback: quorum across three vantages, controls that
//! make a vantage unmeasured, a server killed and restarted while an agent pushes, the
//! agent cut off (through a proxy the test switches) and restored, the agent killed and
//! restarted, and pushes that must be refused.
//!
//! Each agent expands `${env:…}` in its assigned targets from its own environment, so one
//! target can point each vantage at its own loopback server: that is how one vantage sees
//! a failure the others do not.

use crate::common;

use common::{Running, get_json, post_json, run, wait_for};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn agent_token(config: &Path, name: &str) -> String {
    common::agent_token(config, name, &[])
}

/// Writes `dir/probity.toml`: the test server's `[server]` lines, then `text`.
fn write(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("probity.toml");
    common::write_config_at(&path, text).unwrap();
    path
}

fn vantage_states(addr: SocketAddr, target: &str) -> BTreeMap<String, String> {
    let t = get_json(addr, &format!("/api/v1/targets/{target}"));
    t["vantages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["vantage"].as_str().unwrap().to_string(),
                v["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn incidents(addr: SocketAddr) -> Vec<serde_json::Value> {
    get_json(addr, "/api/v1/incidents?status=all")
        .as_array()
        .unwrap()
        .clone()
}

fn states(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn one_failing_vantage_of_three_is_regional_and_two_open_an_incident() {
    let dir = tempfile::tempdir().unwrap();
    let (local_web, _local_up) = common::switchable_server();
    let (a_web, a_up) = common::switchable_server();
    let (b_web, b_up) = common::switchable_server();
    let config = write(
        dir.path(),
        r#"quorum = 2

[[target]]
name = "web"
provider = "test"
kind = "http"
url = "http://${env:WEB_ADDR}/"
interval = "200ms"
timeout = "1s"
failure_threshold = 2
success_threshold = 2

[[vantage]]
name = "a"
region = "eu-west"

[[vantage]]
name = "b"
region = "us-east"
"#,
    );
    let server_env = [("WEB_ADDR", local_web.to_string())];
    let (ta, tb) = (
        common::agent_token(&config, "a", &server_env),
        common::agent_token(&config, "b", &server_env),
    );
    let server = Running::start_with_env(&config, &[("WEB_ADDR", local_web.to_string())]);
    let addr = server.addr;
    let _a = common::Agent::start(
        addr,
        &ta,
        "a",
        &dir.path().join("spool-a"),
        &[("WEB_ADDR", a_web.to_string())],
    );
    let _b = common::Agent::start(
        addr,
        &tb,
        "b",
        &dir.path().join("spool-b"),
        &[("WEB_ADDR", b_web.to_string())],
    );
    let all_up = states(&[("a", "up"), ("b", "up"), ("local", "up")]);
    wait_for(Duration::from_secs(20), || {
        (vantage_states(addr, "web") == all_up).then_some(())
    });

    // One vantage fails: a regional degradation, not an incident.
    a_up.store(false, Ordering::SeqCst);
    wait_for(Duration::from_secs(10), || {
        let t = get_json(addr, "/api/v1/targets/web");
        (t["regional"] == serde_json::json!(["a"])).then_some(t)
    });
    let t = get_json(addr, "/api/v1/targets/web");
    assert_eq!(t["status"], "degraded", "{t}");
    assert_eq!(t["quorum"], "2");
    // Let it fail for a while longer: still no incident.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(incidents(addr).is_empty(), "{:?}", incidents(addr));
    assert_eq!(vantage_states(addr, "web")["a"], "down");

    // A second vantage fails: the quorum is met.
    b_up.store(false, Ordering::SeqCst);
    let incident = wait_for(Duration::from_secs(10), || incidents(addr).first().cloned());
    let one = get_json(addr, &format!("/api/v1/incidents/{}", incident["id"]));
    let seen = one["vantages"]
        .as_array()
        .expect("vantages on the incident");
    let failing: BTreeSet<&str> = seen
        .iter()
        .filter(|v| v["change"] == "opened" && v["failing_since"].is_string())
        .map(|v| v["vantage"].as_str().unwrap())
        .collect();
    assert_eq!(failing, BTreeSet::from(["a", "b"]), "{one}");
    let local = seen
        .iter()
        .find(|v| v["change"] == "opened" && v["vantage"] == "local")
        .unwrap();
    assert_eq!(local["status"], "up");
    // It started when the second vantage began failing, not the first.
    let since = |v: &str| {
        seen.iter()
            .find(|s| s["change"] == "opened" && s["vantage"] == v)
            .unwrap()["failing_since"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(one["started_at"].as_str().unwrap(), since("b"));
    assert!(since("a") < since("b"));
    assert_eq!(get_json(addr, "/api/v1/targets/web")["status"], "down");

    // Both recover: resolved.
    a_up.store(true, Ordering::SeqCst);
    b_up.store(true, Ordering::SeqCst);
    wait_for(Duration::from_secs(10), || {
        let i = get_json(addr, &format!("/api/v1/incidents/{}", incident["id"]));
        i["resolved_at"].is_string().then_some(())
    });

    // Every result says where it was taken; the agents are known with their clocks.
    let rs = common::results(addr, "web");
    let vantages: BTreeSet<&str> = rs.iter().map(|r| r["vantage"].as_str().unwrap()).collect();
    assert_eq!(vantages, BTreeSet::from(["a", "b", "local"]));
    let v = get_json(addr, "/api/v1/vantages");
    let by: BTreeMap<&str, &serde_json::Value> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["name"].as_str().unwrap(), x))
        .collect();
    assert_eq!(
        by.keys().copied().collect::<Vec<_>>(),
        vec!["a", "b", "local"]
    );
    for name in ["a", "b"] {
        let x = by[name];
        assert_eq!(x["health"], "ok", "{x}");
        assert_eq!(x["clock"], "ok", "{x}");
        assert!(x["clock_offset_ms"].as_i64().unwrap().abs() < 1000, "{x}");
        assert!(x["seconds_since_contact"].as_f64().unwrap() < 15.0, "{x}");
        assert!(x["results"].as_u64().unwrap() > 5, "{x}");
    }
    assert_eq!(by["a"]["region"], "eu-west");

    // Per-vantage state and the agents' figures in the metrics, which promtool accepts
    // (once both failing vantages have seen the recovery too).
    let metrics = wait_for(Duration::from_secs(10), || {
        let (_, m) = common::get(addr, "/metrics");
        (m.contains("probity_target_vantage_up{target=\"web\",vantage=\"a\"} 1")
            && m.contains("probity_target_vantage_up{target=\"web\",vantage=\"b\"} 1"))
        .then_some(m)
    });
    for needle in [
        "probity_target_vantage_up{target=\"web\",vantage=\"a\"} 1",
        "probity_target_vantage_up{target=\"web\",vantage=\"local\"} 1",
        "probity_vantage_backlog{vantage=\"b\"}",
        "probity_vantage_clock_offset_seconds{vantage=\"a\"}",
    ] {
        assert!(metrics.contains(needle), "missing {needle}:\n{metrics}");
    }
    common::promtool_check("agents", &metrics);
}

#[test]
fn a_vantage_whose_controls_fail_is_unmeasured_not_down() {
    let dir = tempfile::tempdir().unwrap();
    let (web, web_up) = common::switchable_server();
    let (ctl, ctl_up) = common::switchable_server();
    let config = write(
        dir.path(),
        r#"
[[target]]
name = "web"
kind = "http"
url = "http://${env:WEB_ADDR}/"
interval = "200ms"
timeout = "1s"
failure_threshold = 2

[[target]]
name = "control"
kind = "http"
url = "http://${env:CTL_ADDR}/"
interval = "200ms"
timeout = "1s"

# The server probes only the control; the agent probes web, judged by the control.
[[vantage]]
name = "local"
targets = ["control"]

[[vantage]]
name = "edge"
targets = ["web"]
controls = ["control"]
"#,
    );
    // The agent's view of the network; the server's own control is another server that
    // stays up (the server's network is fine).
    let env = [("WEB_ADDR", web.to_string()), ("CTL_ADDR", ctl.to_string())];
    let (server_ctl, _) = common::switchable_server();
    let server_env = [
        ("WEB_ADDR", web.to_string()),
        ("CTL_ADDR", server_ctl.to_string()),
    ];
    let token = common::agent_token(&config, "edge", &server_env);
    let server = Running::start_with_env(&config, &server_env);
    let addr = server.addr;
    let _agent = common::Agent::start(addr, &token, "edge", &dir.path().join("spool"), &env);
    wait_for(Duration::from_secs(20), || {
        (vantage_states(addr, "web").get("edge").map(String::as_str) == Some("up")).then_some(())
    });

    // The agent's whole network goes: the target and its control both fail.
    web_up.store(false, Ordering::SeqCst);
    ctl_up.store(false, Ordering::SeqCst);
    let unmeasured = wait_for(Duration::from_secs(10), || {
        let n = common::results(addr, "web")
            .iter()
            .filter(|r| r["vantage"] == "edge" && r["unmeasured"] == true)
            .count();
        (n >= 5).then_some(n)
    });
    assert!(unmeasured >= 5);
    assert!(incidents(addr).is_empty(), "{:?}", incidents(addr));
    assert_eq!(vantage_states(addr, "web")["edge"], "unmeasured");
    let v = get_json(addr, "/api/v1/vantages");
    let edge = v
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "edge")
        .unwrap()
        .clone();
    assert_eq!(edge["health"], "impaired", "{edge}");
    assert_eq!(edge["controls"], serde_json::json!(["control"]));
    // Unmeasured minutes are not downtime: the rollups count only measured results.
    let measured_down: u64 = get_json(addr, "/api/v1/targets/web/rollups")
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["failures"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(measured_down, 0);

    // The control comes back while the target stays down: now it is the target.
    ctl_up.store(true, Ordering::SeqCst);
    let incident = wait_for(Duration::from_secs(10), || incidents(addr).first().cloned());
    assert_eq!(incident["target"], "web");
    let down = common::results(addr, "web")
        .iter()
        .filter(|r| r["vantage"] == "edge" && r["status"] == "down" && r["unmeasured"] == false)
        .count();
    assert!(down >= 2, "{down}");
}

/// A TCP forwarder the test can cut and whose upstream it can move.
struct Proxy {
    addr: SocketAddr,
    open: Arc<AtomicBool>,
    upstream: Arc<Mutex<SocketAddr>>,
}

impl Proxy {
    fn start(upstream: SocketAddr) -> Proxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let open = Arc::new(AtomicBool::new(true));
        let up = Arc::new(Mutex::new(upstream));
        let (o, u) = (open.clone(), up.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(client) = conn else { continue };
                if !o.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let target = *u.lock().unwrap();
                let Ok(server) = std::net::TcpStream::connect(target) else {
                    continue;
                };
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    let o = o.clone();
                    std::thread::spawn(move || {
                        use std::io::{Read, Write};
                        from.set_read_timeout(Some(Duration::from_millis(50)))
                            .unwrap();
                        let mut buf = [0u8; 16384];
                        loop {
                            if !o.load(Ordering::SeqCst) {
                                break;
                            }
                            match from.read(&mut buf) {
                                Ok(0) => break,
                                Ok(n) => {
                                    if to.write_all(&buf[..n]).is_err() {
                                        break;
                                    }
                                }
                                Err(e)
                                    if e.kind() == std::io::ErrorKind::WouldBlock
                                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                                Err(_) => break,
                            }
                        }
                        let _ = to.shutdown(std::net::Shutdown::Both);
                        let _ = from.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Proxy {
            addr,
            open,
            upstream: up,
        }
    }
}

#[test]
fn server_restarts_cutoffs_and_agent_kills_lose_and_double_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (web, _up) = common::switchable_server();
    let config = write(
        dir.path(),
        &format!(
            r#"
[[target]]
name = "web"
kind = "http"
url = "http://{web}/"
interval = "100ms"
timeout = "1s"
"#
        ),
    );
    let token = agent_token(&config, "far");
    let spool = dir.path().join("spool");
    let server = Running::start(&config);
    let proxy = Proxy::start(server.addr);
    let agent = common::Agent::start(proxy.addr, &token, "far", &spool, &[]);
    let count = |addr| {
        common::results(addr, "web")
            .iter()
            .filter(|r| r["vantage"] == "far")
            .count()
    };
    wait_for(Duration::from_secs(20), || {
        (count(server.addr) >= 10).then_some(())
    });

    // The server is killed while the agent pushes every few hundred milliseconds, and
    // comes back on another port behind the same address.
    server.kill();
    std::thread::sleep(Duration::from_millis(800));
    let server = Running::start(&config);
    *proxy.upstream.lock().unwrap() = server.addr;
    let before = count(server.addr);
    wait_for(Duration::from_secs(20), || {
        (count(server.addr) > before + 10).then_some(())
    });

    // Cut off for two seconds: the agent keeps measuring into its spool.
    proxy.open.store(false, Ordering::SeqCst);
    // A push already through may still commit; after that, nothing gets through.
    std::thread::sleep(Duration::from_millis(300));
    let cut = count(server.addr);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(count(server.addr), cut, "nothing gets through a cut link");
    proxy.open.store(true, Ordering::SeqCst);
    // The backlog arrives: more than 2 s worth at 10 per second.
    wait_for(Duration::from_secs(20), || {
        (count(server.addr) >= cut + 20).then_some(())
    });

    // The agent is killed outright, and starts again on the same spool.
    agent.kill();
    let agent = common::Agent::start(proxy.addr, &token, "far", &spool, &[]);
    let again = count(server.addr);
    wait_for(Duration::from_secs(20), || {
        (count(server.addr) >= again + 10).then_some(())
    });
    agent.stop();

    let rs = common::results(server.addr, "web");
    let origins: Vec<&str> = rs
        .iter()
        .filter(|r| r["vantage"] == "far")
        .map(|r| r["origin"].as_str().unwrap())
        .collect();
    let unique: BTreeSet<&str> = origins.iter().copied().collect();
    assert_eq!(unique.len(), origins.len(), "a result was stored twice");
    let seqs = common::sequences(&rs, "far");
    assert_eq!(seqs.len(), 2, "two boots of the agent");
    // Numbered as spooled: every spooled result of each boot reached the server.
    common::assert_no_gaps(&seqs);
    // Rollups counted each result once.
    let rolled: u64 = get_json(server.addr, "/api/v1/targets/web/rollups")
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["vantage"] == "far")
        .map(|r| r["count"].as_u64().unwrap())
        .sum();
    assert_eq!(rolled as usize, origins.len());
    let v = get_json(server.addr, "/api/v1/vantages");
    let far = v
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "far")
        .unwrap()
        .clone();
    assert_eq!(far["backlog"], 0, "{far}");
    assert_eq!(far["dropped"], 0, "{far}");
    assert_eq!(far["declared"], false);
}

#[test]
fn forged_tokens_foreign_targets_and_bad_pushes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (web, _up) = common::switchable_server();
    let config = write(
        dir.path(),
        &format!(
            r#"api_token = "an-api-token-0123456789"
max_clock_offset = "2s"

[[target]]
name = "web"
kind = "http"
url = "http://{web}/"
interval = "1h"

[[target]]
name = "secret-db"
kind = "tcp"
address = "127.0.0.1:9"
interval = "1h"

[[vantage]]
name = "edge"
targets = ["web"]
"#
        ),
    );
    let token = agent_token(&config, "edge");
    let server = Running::start(&config);
    let addr = server.addr;
    let now = jiff::Timestamp::now().as_millisecond();
    let push = |vantage: &str, target: &str, id: &str, offset: Option<i64>| {
        serde_json::json!({
            "vantage": vantage, "sent_at_ms": now - offset.unwrap_or(0), "clock_offset_ms": offset,
            // An agent whose clock is `offset` slow stamps its results that much earlier.
            "results": [{"id": id, "target": target, "at_ms": now - 1000 - offset.unwrap_or(0), "health": "up",
                         "phases": {"total_ms": 12.5}}]
        })
        .to_string()
    };
    let path = "/api/v1/agent/results";

    // No token, a forged one, and the API's own token: 401, nothing stored.
    for t in [
        None,
        Some("pba_forged0000000000000000"),
        Some("an-api-token-0123456789"),
    ] {
        let (status, body) = post_json(addr, path, t, &push("edge", "web", "edge:x:1", None));
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"]["code"], "unauthorized");
    }
    // The agent's token cannot write elsewhere either.
    let (status, _) = post_json(
        addr,
        "/api/v1/status/incidents",
        Some(&token),
        r#"{"name":"x","status":"investigating","message":"x"}"#,
    );
    assert_eq!(status, 401);
    // Posing as another vantage.
    let (status, body) = post_json(addr, path, Some(&token), &push("other", "web", "o:1", None));
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`edge`")
    );
    // A target not assigned to it, and one that does not exist.
    for (target, says) in [
        ("secret-db", "not assigned to vantage `edge`"),
        ("nope", "no target named"),
    ] {
        let (status, body) = post_json(
            addr,
            path,
            Some(&token),
            &push("edge", target, "edge:x:2", None),
        );
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["accepted"], 0);
        let err = body["rejected"][0]["error"].as_str().unwrap();
        assert!(err.contains(says), "{err}");
    }
    // Malformed bodies: where and what.
    let (status, body) = post_json(
        addr,
        path,
        Some(&token),
        r#"{"vantage":"edge","sent_at_ms":1,"results":[{"id":"x","target":"web","at_ms":1,"health":"sideways"}]}"#,
    );
    assert_eq!(status, 400);
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(msg.contains("sideways") && msg.contains("column"), "{msg}");
    let too_many: Vec<serde_json::Value> = (0..5001)
        .map(|i| serde_json::json!({"id": format!("edge:x:{i}"), "target": "web", "at_ms": now, "health": "up"}))
        .collect();
    let (status, body) = post_json(
        addr,
        path,
        Some(&token),
        &serde_json::json!({"vantage": "edge", "sent_at_ms": now, "results": too_many}).to_string(),
    );
    assert_eq!(status, 413, "{body}");
    assert!(
        common::results(addr, "web").is_empty(),
        "nothing refused was stored"
    );

    // A good push is stored once, however often it is sent.
    for round in 0..2 {
        let (status, body) = post_json(
            addr,
            path,
            Some(&token),
            &push("edge", "web", "edge:b1:1", None),
        );
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["accepted"], if round == 0 { 1 } else { 0 });
        assert_eq!(body["duplicates"], if round == 0 { 0 } else { 1 });
    }
    assert_eq!(common::results(addr, "web").len(), 1);
    // An agent whose clock is a minute slow: its results' times are corrected, and say so.
    let (status, body) = post_json(
        addr,
        path,
        Some(&token),
        &push("edge", "web", "edge:b1:2", Some(60_000)),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["clock_corrected"], true);
    let rs = common::results(addr, "web");
    let fixed = rs.iter().find(|r| r["origin"] == "edge:b1:2").unwrap();
    assert_eq!(fixed["clock_offset_ms"], 60_000);
    let at = fixed["at"]
        .as_str()
        .unwrap()
        .parse::<jiff::Timestamp>()
        .unwrap();
    assert_eq!(at.as_millisecond(), now - 1000);
    // Its times are put right on the server's clock; one that would land in the future
    // (an agent claiming to be slow that is not) is refused on its own.
    let (status, body) = post_json(
        addr,
        path,
        Some(&token),
        &push("edge", "web", "edge:b1:3", Some(60_000)).replace(
            &format!("\"at_ms\":{}", now - 1000 - 60_000),
            &format!("\"at_ms\":{}", now - 1000),
        ),
    );
    assert_eq!(status, 422, "{body}");
    assert!(
        body["rejected"][0]["error"]
            .as_str()
            .unwrap()
            .contains("ahead of the server's clock"),
        "{body}"
    );
    let v = get_json(addr, "/api/v1/vantages");
    let edge = v
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "edge")
        .unwrap()
        .clone();
    assert_eq!(edge["clock"], "corrected", "{edge}");
    // Every authenticated push is a contact, the partly rejected ones too.
    assert_eq!(edge["pushes"], 6, "{edge}");

    // Revoked: refused from then on.
    let (code, out, err) = run(
        &[
            "token",
            "revoke",
            "--config",
            config.to_str().unwrap(),
            "--agent",
            "edge",
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("revoked 1 token"), "{out}");
    let (status, _) = post_json(
        addr,
        path,
        Some(&token),
        &push("edge", "web", "edge:b1:3", None),
    );
    assert_eq!(status, 401);
    let (status, _) = common::get_with_token(addr, "/api/v1/agent/targets", &token);
    assert_eq!(status, 401);
}

/// Whether this machine lets the test make a network namespace (root or user namespaces).
fn can_unshare_net() -> bool {
    std::process::Command::new("unshare")
        .args(["-n", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn an_agent_in_a_network_namespace_of_its_own_is_unmeasured_and_delivers_later() {
    if !can_unshare_net() {
        common::skipped(
            "an_agent_in_a_network_namespace_of_its_own_is_unmeasured_and_delivers_later: this machine does not allow `unshare -n`",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (web, _web_up) = common::switchable_server();
    let (ctl, _ctl_up) = common::switchable_server();
    let config = write(
        dir.path(),
        &format!(
            r#"
[[target]]
name = "web"
kind = "http"
url = "http://{web}/"
interval = "200ms"
timeout = "1s"
failure_threshold = 2

[[target]]
name = "control"
kind = "http"
url = "http://{ctl}/"
interval = "200ms"
timeout = "1s"

[[vantage]]
name = "island"
controls = ["control"]
"#
        ),
    );
    let token = agent_token(&config, "island");
    let spool = dir.path().join("spool");
    let server = Running::start(&config);
    let addr = server.addr;
    let island = |r: &serde_json::Value| r["vantage"] == "island";
    // First on the host's network: it gets its assignment and delivers.
    let agent = common::Agent::start(addr, &token, "island", &spool, &[]);
    wait_for(Duration::from_secs(20), || {
        (common::results(addr, "web")
            .iter()
            .filter(|r| island(r))
            .count()
            >= 3)
            .then_some(())
    });
    agent.stop();

    // Then in a network namespace of its own: nothing reaches out, the server included.
    let mut child = std::process::Command::new("unshare")
        .args(["-n", "--"])
        .arg(env!("CARGO_BIN_EXE_probity"))
        .args(common::agent_args(
            &format!("http://{addr}"),
            "island",
            &spool,
        ))
        .env("PROBITY_AGENT_TOKEN", &token)
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let delivered = common::results(addr, "web")
        .iter()
        .filter(|r| island(r))
        .count();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        common::results(addr, "web")
            .iter()
            .filter(|r| island(r))
            .count(),
        delivered,
        "an isolated agent delivers nothing"
    );
    common::signal(&child, "TERM");
    assert!(child.wait().unwrap().success());

    // Back on the network: the backlog arrives, every result of the isolated spell
    // unmeasured, and no incident.
    let agent = common::Agent::start(addr, &token, "island", &spool, &[]);
    let rs = wait_for(Duration::from_secs(20), || {
        let rs = common::results(addr, "web");
        (common::sequences(&rs, "island").len() == 3
            && rs.iter().filter(|r| island(r)).count() >= delivered + 15)
            .then_some(rs)
    });
    agent.stop();
    // The agent numbers its results across all its targets: the control's count too.
    let mut all = common::results(addr, "web");
    all.extend(common::results(addr, "control"));
    let seqs = common::sequences(&all, "island");
    common::assert_no_gaps(&seqs);
    let isolated_boot = rs
        .iter()
        .filter(|r| island(r) && r["unmeasured"] == true)
        .map(|r| {
            r["origin"]
                .as_str()
                .unwrap()
                .split(':')
                .nth(1)
                .unwrap()
                .to_string()
        })
        .collect::<BTreeSet<_>>();
    assert_eq!(
        isolated_boot.len(),
        1,
        "unmeasured results come from the isolated spell only"
    );
    let boot = isolated_boot.into_iter().next().unwrap();
    let spell: Vec<&serde_json::Value> = rs
        .iter()
        .filter(|r| island(r) && r["origin"].as_str().unwrap().contains(&format!(":{boot}:")))
        .collect();
    assert!(spell.len() >= 10, "{}", spell.len());
    assert!(
        spell
            .iter()
            .all(|r| r["status"] == "down" && r["unmeasured"] == true),
        "every result taken in isolation is down and unmeasured"
    );
    assert!(incidents(addr).is_empty(), "{:?}", incidents(addr));
}

/// A TLS front for `upstream` (as a reverse proxy would be), with a certificate from a
/// fresh CA; returns its port and the CA's PEM.
fn tls_front(upstream: SocketAddr) -> (u16, String) {
    let (ca_pem, mut config) = probity::demo::cloud::make_certs(30, &["localhost"]).unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let Ok(mut up) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
                });
            }
        });
    });
    (port, ca_pem)
}

#[test]
fn an_agent_pushes_over_tls_and_trusts_only_what_it_is_told_to() {
    let dir = tempfile::tempdir().unwrap();
    let (web, _up) = common::switchable_server();
    let config = write(
        dir.path(),
        &format!(
            r#"
[[target]]
name = "web"
kind = "http"
url = "http://{web}/"
interval = "200ms"
"#
        ),
    );
    let token = agent_token(&config, "tls");
    let server = Running::start(&config);
    let addr = server.addr;
    let (port, ca_pem) = tls_front(addr);
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &ca_pem).unwrap();
    let count = || {
        common::results(addr, "web")
            .iter()
            .filter(|r| r["vantage"] == "tls")
            .count()
    };
    // Without the CA, the server's certificate is not trusted: nothing is pushed.
    let server_url = format!("https://localhost:{port}");
    let mut untrusting =
        common::agent_command(&server_url, &token, "tls", &dir.path().join("spool-a"))
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(count(), 0, "an untrusted server gets nothing");
    untrusting.kill().unwrap();
    let out = untrusting.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("waiting for the server"), "{log}");
    // With it, over TLS.
    let mut with_ca =
        common::agent_command(&server_url, &token, "tls", &dir.path().join("spool-b"));
    with_ca.arg("--ca-file").arg(&ca);
    let trusting = common::Agent::spawn(with_ca);
    wait_for(Duration::from_secs(20), || (count() >= 3).then_some(()));
    trusting.stop();
}
