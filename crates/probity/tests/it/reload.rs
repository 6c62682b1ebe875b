//! Live reload against a running server while an agent pushes: targets added, changed and
//! removed with history and open incidents kept, a broken file refused with `probity
//! check`'s words, SIGHUP, and not one pushed result lost or doubled.

use crate::common;

use common::{Running, get_json, post_json, wait_for};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

const TOKEN: &str = "reload-test-token-0123456789";

fn write(path: &Path, targets: &[(&str, SocketAddr, &str)], extra: &str) {
    let mut text = format!("{}api_token = \"{TOKEN}\"\n{extra}\n", common::SERVER);
    for (name, addr, interval) in targets {
        text.push_str(&format!(
            "\n[[target]]\nname = \"{name}\"\nkind = \"http\"\nurl = \"http://{addr}/\"\ninterval = \"{interval}\"\nfailure_threshold = 2\n"
        ));
    }
    std::fs::write(path, text).unwrap();
}

/// A GET's status, or `None` when the connection failed (refused, reset, cut short).
fn status_of(addr: SocketAddr, path: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    raw.split_whitespace().nth(1)?.parse().ok()
}

fn names(addr: SocketAddr) -> Vec<String> {
    get_json(addr, "/api/v1/targets")
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn reloads_keep_history_and_incidents_refuse_broken_files_and_lose_no_push() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("probity.toml");
    let (a, a_up) = common::switchable_server();
    let (b, _) = common::switchable_server();
    let (c, _) = common::switchable_server();
    a_up.store(false, Ordering::SeqCst);
    // The agent probes a, which every version of the file keeps.
    let agent_only_a = "\n[[vantage]]\nname = \"far\"\ntargets = [\"a\"]\n";
    write(&cfg, &[("a", a, "200ms"), ("b", b, "200ms")], agent_only_a);
    let agent_token = common::agent_token(&cfg, "far", &[]);
    let server = Running::start(&cfg);
    let addr = server.addr;
    let agent = common::Agent::start(addr, &agent_token, "far", &dir.path().join("spool"), &[]);
    let incident = wait_for(Duration::from_secs(15), || {
        let open = get_json(addr, "/api/v1/incidents?status=open");
        open.as_array()?.first().cloned()
    });
    wait_for(Duration::from_secs(15), || {
        (common::results(addr, "b").len() >= 5).then_some(())
    });
    let a_before = common::results(addr, "a").len();
    // Readers all through the reloads: every request is answered, none is reset.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let failures = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let reader = {
        let (stop, failures, answered) = (stop.clone(), failures.clone(), answered.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                match status_of(addr, "/api/v1/targets") {
                    Some(200) => answered.fetch_add(1, Ordering::SeqCst),
                    _ => failures.fetch_add(1, Ordering::SeqCst),
                };
            }
        })
    };

    // Without a token: refused, nothing changes.
    write(&cfg, &[("a", a, "300ms"), ("c", c, "200ms")], agent_only_a);
    let (status, body) = post_json(addr, "/api/v1/reload", None, "");
    assert_eq!(status, 401, "{body}");
    assert_eq!(names(addr), ["a", "b"]);

    // b removed, c added, a changed.
    let (status, body) = post_json(addr, "/api/v1/reload", Some(TOKEN), "");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["reloaded"], true);
    assert!(
        body["summary"]
            .as_str()
            .unwrap()
            .ends_with("ok, 2 targets (2 http), 1 vantage"),
        "{body}"
    );
    wait_for(Duration::from_secs(10), || {
        (names(addr) == ["a", "c"]).then_some(())
    });
    assert_eq!(
        get_json(addr, "/api/v1/targets/a")["interval"],
        "300ms",
        "a's change is in effect"
    );
    // a's incident is still the same open incident; its history goes on.
    let open = get_json(addr, "/api/v1/incidents?status=open");
    assert_eq!(open[0]["id"], incident["id"], "{open}");
    assert_eq!(open[0]["started_at"], incident["started_at"]);
    wait_for(Duration::from_secs(10), || {
        (common::results(addr, "a").len() > a_before + 5 && common::results(addr, "c").len() >= 3)
            .then_some(())
    });

    // A file that does not load is refused with check's words; the running one stays.
    std::fs::write(
        &cfg,
        std::fs::read_to_string(&cfg).unwrap()
            + "\n[[target]]\nname = \"d\"\nkind = \"http\"\nurll = \"http://x/\"\n",
    )
    .unwrap();
    let check = common::bin()
        .args(["check", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(2));
    let check_text = String::from_utf8(check.stderr).unwrap();
    let (status, body) = post_json(addr, "/api/v1/reload", Some(TOKEN), "");
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid_config");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        check_text.starts_with(message),
        "the API says:\n{message}\ncheck says:\n{check_text}"
    );
    assert!(message.contains("unknown key `urll`"), "{message}");
    assert_eq!(names(addr), ["a", "c"]);

    // SIGHUP reads the file again: b comes back, a recovers and its incident resolves.
    write(
        &cfg,
        &[("a", a, "300ms"), ("b", b, "200ms"), ("c", c, "200ms")],
        agent_only_a,
    );
    common::signal(&server.child, "HUP");
    wait_for(Duration::from_secs(10), || {
        (names(addr) == ["a", "b", "c"]).then_some(())
    });
    a_up.store(true, Ordering::SeqCst);
    wait_for(Duration::from_secs(10), || {
        let i = get_json(addr, &format!("/api/v1/incidents/{}", incident["id"]));
        i["resolved_at"].is_string().then_some(())
    });
    // b's history from before its removal is still there.
    assert!(common::results(addr, "b").len() >= 5);

    stop.store(true, Ordering::SeqCst);
    reader.join().unwrap();
    assert_eq!(
        failures.load(Ordering::SeqCst),
        0,
        "a request failed during a reload"
    );
    assert!(answered.load(Ordering::SeqCst) > 20);

    // The agent pushed through every reload: each of its results is stored exactly once.
    wait_for(Duration::from_secs(10), || {
        (common::results(addr, "a")
            .iter()
            .filter(|r| r["vantage"] == "far")
            .count()
            >= 10)
            .then_some(())
    });
    agent.stop();
    let mut all = Vec::new();
    for t in ["a", "b", "c"] {
        all.extend(common::results(addr, t));
    }
    let origins: Vec<&str> = all
        .iter()
        .filter(|r| r["vantage"] == "far")
        .map(|r| r["origin"].as_str().unwrap())
        .collect();
    let unique: BTreeSet<&str> = origins.iter().copied().collect();
    assert_eq!(unique.len(), origins.len(), "a result stored twice");
    let seqs = common::sequences(&all, "far");
    assert_eq!(seqs.len(), 1);
    common::assert_no_gaps(&seqs);
    assert!(origins.len() >= 10, "{}", origins.len());
    let far = get_json(addr, "/api/v1/vantages")
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "far")
        .unwrap()
        .clone();
    assert_eq!(far["backlog"], 0, "{far}");

    // The evidence log is whole across the reloads.
    let status = server.stop();
    assert!(status.success());
    let out = common::bin()
        .args(["evidence", "audit", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A reload while a target fails below its threshold: the target did not change, so its
/// failure count goes on, and the incident starts at its first failure, with that result in
/// its evidence (not one interval late, as if the counting had begun again).
#[test]
fn a_reload_keeps_an_unchanged_targets_failure_count() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("probity.toml");
    let (a, a_up) = common::switchable_server();
    let (b, _) = common::switchable_server();
    let config = |with_b: bool| {
        let mut text = format!(
            "{}api_token = \"{TOKEN}\"\n\n[[target]]\nname = \"a\"\nkind = \"http\"\nurl = \"http://{a}/\"\ninterval = \"400ms\"\nfailure_threshold = 4\n",
            common::SERVER
        );
        if with_b {
            text.push_str(&format!(
                "\n[[target]]\nname = \"b\"\nkind = \"http\"\nurl = \"http://{b}/\"\ninterval = \"400ms\"\n"
            ));
        }
        std::fs::write(&cfg, text).unwrap();
    };
    config(false);
    let probity = Running::start(&cfg);
    let addr = probity.addr;
    wait_for(Duration::from_secs(10), || {
        let r = common::try_get_json(addr, "/api/v1/targets/a/results?limit=1")?;
        (r[0]["ok"] == true).then_some(())
    });
    a_up.store(false, Ordering::SeqCst);
    // Two failures of the four needed, then a reload that adds b and leaves a as it was.
    let failing = wait_for(Duration::from_secs(10), || {
        let r = common::try_get_json(addr, "/api/v1/targets/a/results?limit=10")?;
        let fails: Vec<serde_json::Value> = r
            .as_array()?
            .iter()
            .take_while(|x| x["ok"] == false)
            .cloned()
            .collect();
        (fails.len() >= 2).then_some(fails)
    });
    let first = failing.last().unwrap().clone();
    config(true);
    let (status, body) = post_json(addr, "/api/v1/reload", Some(TOKEN), "");
    assert_eq!(status, 200, "{body}");
    let incident = wait_for(Duration::from_secs(10), || {
        let v = common::try_get_json(addr, "/api/v1/incidents")?;
        v.as_array()?.iter().find(|i| i["target"] == "a").cloned()
    });
    assert_eq!(
        incident["started_at"], first["at"],
        "the incident starts at the first failure, before the reload: {incident}"
    );
    let evidence: Vec<i64> = incident["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_i64().unwrap())
        .collect();
    assert!(
        evidence.contains(&first["id"].as_i64().unwrap()),
        "the first failure is evidence: {incident}"
    );
    probity.stop();
}
