//! `probity gate judge`: files of samples in both formats, bad input, and two real loopback
//! servers probed side by side, one of them slower.

use crate::common;
use std::fmt::Write;

/// Samples like a service answering around `median` ms, deterministic.
fn csv(n: usize, median: f64, errors_every: usize) -> String {
    let mut out = "latency_ms,ok\n".to_string();
    for i in 0..n {
        // A spread of ±30% around the median, in a fixed order.
        let l = median * (0.7 + 0.6 * ((i * 37) % 101) as f64 / 100.0);
        let ok = errors_every == 0 || i % errors_every != 0;
        writeln!(out, "{l:.2},{ok}").unwrap();
    }
    out
}

fn jsonl(n: usize, median: f64) -> String {
    let mut out = String::new();
    for i in 0..n {
        let l = median * (0.7 + 0.6 * ((i * 53) % 97) as f64 / 96.0);
        writeln!(out, "{{\"latency_ms\": {l:.2}, \"ok\": true}}").unwrap();
    }
    out
}

#[test]
fn files_of_samples_are_judged() {
    let dir = tempfile::tempdir().unwrap();
    let w = |name: &str, text: String| std::fs::write(dir.path().join(name), text).unwrap();
    w("base.csv", csv(300, 100.0, 0));
    w("same.jsonl", jsonl(300, 100.0));
    w("slow.csv", csv(300, 140.0, 0));
    w("failing.csv", csv(300, 100.0, 10));
    w("few.csv", csv(5, 100.0, 0));
    w("bad.csv", "latency_ms,ok\n12.5,true\nfast,true\n".into());
    let judge = |b: &str, c: &str| {
        let (code, out, err) = common::run(
            &["gate", "judge", "--baseline", b, "--canary", c, "--json"],
            dir.path(),
        );
        let v = serde_json::from_str::<serde_json::Value>(&out).unwrap_or(serde_json::Value::Null);
        (code, v, err)
    };
    let (code, v, err) = judge("base.csv", "same.jsonl");
    assert_eq!(code, 0, "{v} {err}");
    assert_eq!(v["verdict"], "pass");
    let (code, v, _) = judge("base.csv", "slow.csv");
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["decided_by"], "latency", "{v}");
    let lat = v["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["metric"] == "latency")
        .unwrap()
        .clone();
    assert_eq!(lat["class"], "high");
    // The shift is about 40 ms (140 against 100 ms medians).
    let shift = lat["shift"].as_f64().unwrap();
    assert!((30.0..50.0).contains(&shift), "{lat}");
    let (code, v, _) = judge("base.csv", "failing.csv");
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["decided_by"], "error_rate", "{v}");
    let (code, v, _) = judge("base.csv", "few.csv");
    assert_eq!(code, 2, "{v}");
    assert_eq!(v["verdict"], "inconclusive");
    let (code, _, err) = judge("base.csv", "bad.csv");
    assert_eq!(code, 3);
    assert!(
        err.contains("bad.csv:3: `latency_ms` \"fast\" is not a number of milliseconds"),
        "{err}"
    );
    // The table says which metric decided and why.
    let (code, out, _) = common::run(
        &[
            "gate",
            "judge",
            "--baseline",
            "base.csv",
            "--canary",
            "slow.csv",
        ],
        dir.path(),
    );
    assert_eq!(code, 1);
    assert!(out.contains("roll back"), "{out}");
    // A usage error is 3 here (2 means inconclusive).
    let (code, _, _) = common::run(&["gate", "judge", "--baseline", "base.csv"], dir.path());
    assert_eq!(code, 3);
}

/// Two loopback HTTP servers, the canary 40 ms slower: probed side by side, rolled back.
#[test]
fn urls_are_probed_side_by_side() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let serve = |delay_ms: u64| {
        let app = axum::Router::new().route(
            "/",
            axum::routing::get(move || async move {
                tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
                "ok"
            }),
        );
        let l = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = l.local_addr().unwrap();
        rt.spawn(async move { axum::serve(l, app).await });
        addr
    };
    let (b, c) = (serve(5), serve(45));
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = common::run(
        &[
            "gate",
            "judge",
            "--baseline",
            &format!("http://{b}/"),
            "--canary",
            &format!("http://{c}/"),
            "--duration",
            "3s",
            "--every",
            "50ms",
            "--json",
        ],
        dir.path(),
    );
    assert_eq!(code, 1, "{out} {err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let lat = v["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["metric"] == "latency")
        .unwrap()
        .clone();
    assert!(lat["baseline_n"].as_u64().unwrap() >= 20, "{lat}");
    assert_eq!(lat["class"], "high", "{lat}");
}

/// `gate weather`: clear while nothing is open on the deployment's targets; not now while
/// their provider declares an open incident on them or one of them has an open observed
/// incident; other services' trouble does not count.
#[test]
fn weather_says_not_now_while_a_dependency_is_in_trouble() {
    let dir = tempfile::tempdir().unwrap();
    common::write_config(
        dir.path(),
        "",
        r#"[[feed]]
name = "acme"
provider = "acme"
format = "statuspage"
url = "http://127.0.0.1:9/"

[[target]]
name = "blob"
kind = "tcp"
address = "127.0.0.1:9"
provider = "acme"
service = "Blob Storage"
failure_threshold = 2

[[target]]
name = "dns"
kind = "tcp"
address = "127.0.0.1:9"
provider = "acme"
service = "DNS"
"#,
    );
    // No store yet: a usage error under `gate`.
    let (code, _, err) = common::run(&["gate", "weather"], dir.path());
    assert_eq!(code, 3, "{err}");
    // History: dns fine; blob failing at the end (an incident opens and stays open).
    let mut lines = String::new();
    for i in 0..10 {
        let at = format!("2026-11-01T00:{i:02}:00Z");
        lines.push_str(&format!(
            "{{\"target\":\"dns\",\"at\":\"{at}\",\"ok\":true,\"latency_ms\":3}}\n"
        ));
        let ok = i < 7;
        lines.push_str(&format!(
            "{{\"target\":\"blob\",\"at\":\"{at}\",\"ok\":{ok},\"latency_ms\":3}}\n"
        ));
    }
    std::fs::write(dir.path().join("h.jsonl"), lines).unwrap();
    let (code, _, err) = common::run(&["results", "import", "h.jsonl"], dir.path());
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = common::run(&["gate", "weather", "--services", "dns"], dir.path());
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("clear: 1 targets"), "{out}");
    let (code, out, _) = common::run(&["gate", "weather", "--json"], dir.path());
    assert_eq!(code, 1, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["blockers"][0]["kind"], "observed", "{v}");
    assert!(
        v["blockers"][0]["what"]
            .as_str()
            .unwrap()
            .contains("on blob open since"),
        "{v}"
    );
    // The provider declares an incident on DNS: the dns-only deployment waits too.
    std::fs::write(
        dir.path().join("summary.json"),
        r#"{"page":{"id":"a","name":"Acme","url":"https://status.acme.example"},
            "incidents":[{"id":"i1","name":"DNS resolution failures","status":"identified","impact":"major",
            "created_at":"2026-11-01T00:05:00Z","updated_at":"2026-11-01T00:06:00Z","started_at":"2026-11-01T00:05:00Z",
            "resolved_at":null,"shortlink":null,"incident_updates":[],"components":[{"name":"DNS"}]}],
            "scheduled_maintenances":[]}"#,
    )
    .unwrap();
    let (code, _, err) = common::run(
        &["feeds", "import", "--feed", "acme", "summary.json"],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = common::run(&["gate", "weather", "--services", "dns"], dir.path());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("declared  acme declares \"DNS resolution failures\" (identified, impact major) affecting dns"),
        "{out}"
    );
    // A plan that requires the weather stops before its first step; its traffic webhook
    // is called only for the rollback (weight 0).
    let (hook, calls) = webhook();
    std::fs::write(
        dir.path().join("plan.toml"),
        format!(
            "name = \"dns-v2\"\nrequire_weather = true\n\n[weather]\nservices = [\"dns\"]\n\n[traffic]\nwebhook = \"http://{hook}/weight\"\n\n[rollback]\nwebhook = \"http://{hook}/weight\"\n\n[[step]]\nset_weight = 10\n"
        ),
    )
    .unwrap();
    let (code, out, err) = common::run(
        &["gate", "run", "--plan", "plan.toml", "--json"],
        dir.path(),
    );
    assert_eq!(code, 2, "{out} {err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["steps"][0]["kind"], "weather", "{v}");
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .contains("DNS resolution failures"),
        "{v}"
    );
    let seen = calls.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["weight"], 0);
    assert_eq!(seen[0]["plan"], "dns-v2");
    // Without the weather requirement, the same plan shifts traffic through the webhook.
    let text = std::fs::read_to_string(dir.path().join("plan.toml")).unwrap();
    std::fs::write(
        dir.path().join("plan.toml"),
        text.replace("require_weather = true", ""),
    )
    .unwrap();
    let (code, out, err) = common::run(&["gate", "run", "--plan", "plan.toml"], dir.path());
    assert_eq!(code, 0, "{out} {err}");
    let seen = calls.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(
        (seen[1]["weight"].as_u64(), seen[1]["step"].as_u64()),
        (Some(10), Some(1))
    );
}

/// A webhook receiver that keeps every JSON body posted to `/weight`.
fn webhook() -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
) {
    let calls = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = calls.clone();
    let app = axum::Router::new().route(
        "/weight",
        axum::routing::post(move |body: axum::Json<serde_json::Value>| {
            let keep = keep.clone();
            async move {
                keep.lock().unwrap().push(body.0);
                "ok"
            }
        }),
    );
    (common::serve(app), calls)
}

/// A loopback service answering after `delay_ms`; while `marker` exists it fails one
/// request in three with a 500 (a regression switched on by the rollout itself).
fn service(delay_ms: u64, marker: Option<std::path::PathBuf>) -> std::net::SocketAddr {
    let n = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let (n, marker) = (n.clone(), marker.clone());
            async move {
                tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
                let i = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if marker.is_some_and(|m| m.exists()) && i % 3 == 0 {
                    (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "regressed")
                } else {
                    (axum::http::StatusCode::OK, "ok")
                }
            }
        }),
    );
    common::serve(app)
}

/// A plan whose traffic command appends each weight to `weights` (and, at 50% or more,
/// creates `regress`, which the canary below reads), and whose rollback appends
/// `rollback`.
fn plan(
    dir: &std::path::Path,
    base: std::net::SocketAddr,
    canary: std::net::SocketAddr,
    extra: &str,
    steps: &str,
) {
    let text = format!(
        r#"name = "checkout-v2"
{extra}
[traffic]
command = ["sh", "-c", "echo {{weight}} >> weights; if [ {{weight}} -ge 50 ]; then touch regress; fi"]

[rollback]
command = ["sh", "-c", "echo rollback >> weights"]

[analysis]
source = "probes"
baseline = "http://{base}/"
canary = "http://{canary}/"
every = "40ms"

{steps}"#
    );
    std::fs::write(dir.join("plan.toml"), text).unwrap();
}

const STEPS: &str = r#"[[step]]
set_weight = 20

[[step]]
analysis = "2s"

[[step]]
set_weight = 50

[[step]]
analysis = "2s"

[[step]]
set_weight = 100
"#;

fn weights(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join("weights")).unwrap_or_default()
}

/// A healthy canary goes through every step, each analysis a pass recorded in the log;
/// one that regresses once it takes half the traffic is rolled back after the second
/// analysis, and the rollback command ran.
#[test]
fn a_plan_promotes_a_healthy_canary_and_rolls_back_a_regression() {
    let dir = tempfile::tempdir().unwrap();
    common::write_config(dir.path(), "", "");
    // 20 ms of service time: against it, the scheduling noise of a loaded machine is small
    // enough that 50 samples have the power to see a 20% slowdown (with 2 ms they did not
    // always, and a healthy canary came out inconclusive).
    let base = service(20, None);
    // Healthy: the marker is never looked at.
    plan(dir.path(), base, service(20, None), "", STEPS);
    let (code, out, err) = common::run(
        &[
            "gate",
            "run",
            "--plan",
            "plan.toml",
            "--json",
            "--html",
            "report.html",
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(weights(dir.path()), "20\n50\n100\n");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["outcome"], "promoted", "{v}");
    assert_eq!(v["rollback"], serde_json::Value::Null);
    let analyses: Vec<&serde_json::Value> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == "analysis")
        .collect();
    assert_eq!(analyses.len(), 2);
    for a in &analyses {
        assert_eq!(a["judgement"]["verdict"], "pass", "{a}");
        assert!(
            a["judgement"]["metrics"][1]["baseline_n"].as_u64().unwrap() >= 20,
            "{a}"
        );
    }
    // Each verdict is a leaf of the evidence log, and the audit reads it.
    let leaves: Vec<u64> = analyses
        .iter()
        .map(|a| a["evidence_leaf"].as_u64().unwrap())
        .collect();
    assert_eq!(leaves[1], leaves[0] + 1);
    let (code, out, err) = common::run(&["evidence", "audit", "--json"], dir.path());
    assert_eq!(code, 0, "{out} {err}");
    let audit: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(audit["findings"].as_array().unwrap().len(), 0, "{audit}");
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.contains("Rollout checkout-v2: promoted"), "{html}");
    assert_eq!(html.matches("<path class=baseline").count(), 2);
    assert_eq!(html.matches("<path class=canary").count(), 2);

    // The canary fails one request in three from 50% on.
    let dir = tempfile::tempdir().unwrap();
    common::write_config(dir.path(), "", "");
    let canary = service(20, Some(dir.path().join("regress")));
    plan(dir.path(), base, canary, "", STEPS);
    let (code, out, err) = common::run(
        &["gate", "run", "--plan", "plan.toml", "--json"],
        dir.path(),
    );
    assert_eq!(code, 1, "{out}\n{err}");
    assert_eq!(
        weights(dir.path()),
        "20\n50\nrollback\n",
        "the canary never reached 100%"
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["outcome"], "rolled_back", "{v}");
    assert_eq!(v["rollback"], "ran");
    let last = v["steps"].as_array().unwrap().last().unwrap();
    assert_eq!(
        (last["step"].as_u64(), last["ok"].as_bool()),
        (Some(4), Some(false)),
        "{v}"
    );
    assert_eq!(last["judgement"]["decided_by"], "error_rate", "{last}");
    assert!(
        v["reason"].as_str().unwrap().starts_with("roll back"),
        "{v}"
    );
    // The table form says the same.
    std::fs::remove_file(dir.path().join("regress")).unwrap();
    std::fs::remove_file(dir.path().join("weights")).unwrap();
    let (code, out, _) = common::run(&["gate", "run", "--plan", "plan.toml"], dir.path());
    assert_eq!(code, 1);
    assert!(out.contains("rollback: ran"), "{out}");
    assert!(out.contains("rolled back: roll back"), "{out}");
}

/// SIGTERM during a pause rolls back; a plan that does not read is a usage error that
/// names the line; too little data is inconclusive and rolls back (or holds, when the
/// plan says so).
#[test]
fn interruptions_bad_plans_and_inconclusive_analyses() {
    let dir = tempfile::tempdir().unwrap();
    common::write_config(dir.path(), "", "");
    let (b, c) = (service(1, None), service(1, None));
    plan(
        dir.path(),
        b,
        c,
        "",
        "[[step]]\nset_weight = 10\n\n[[step]]\npause = \"60s\"\n",
    );
    let child = common::bin()
        .args(["gate", "run", "--plan", "plan.toml", "--json"])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while weights(dir.path()) != "10\n" {
        assert!(started.elapsed().as_secs() < 20, "the first step never ran");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    common::signal(&child, "TERM");
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        started.elapsed().as_secs() < 30,
        "the pause was not cut short"
    );
    assert_eq!(weights(dir.path()), "10\nrollback\n");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["reason"].as_str().unwrap().contains("interrupted"), "{v}");

    // A plan with a step that is two things at once, and an unknown source.
    std::fs::write(
        dir.path().join("bad.toml"),
        "name = \"x\"\n[analysis]\nsource = \"tea-leaves\"\nbaseline = \"a\"\ncanary = \"b\"\n[[step]]\npause = \"1s\"\nanalysis = \"1s\"\n",
    )
    .unwrap();
    let (code, _, err) = common::run(&["gate", "run", "--plan", "bad.toml"], dir.path());
    assert_eq!(code, 3);
    assert!(err.contains("bad.toml:3:10: [analysis] `source` is `probes`, `prometheus` or `files`, not `tea-leaves`"), "{err}");
    assert!(err.contains("bad.toml:6:"), "{err}");

    // Files with too few samples: inconclusive, rolled back by default...
    std::fs::write(dir.path().join("b.csv"), csv(5, 100.0, 0)).unwrap();
    std::fs::write(dir.path().join("c.csv"), csv(5, 100.0, 0)).unwrap();
    let files = |hold: &str| {
        format!(
            "name = \"few\"\n{hold}\n[rollback]\ncommand = [\"sh\", \"-c\", \"echo rollback >> weights\"]\n\n[analysis]\nsource = \"files\"\nbaseline = \"b.csv\"\ncanary = \"c.csv\"\n\n[[step]]\nanalysis = \"10ms\"\n"
        )
    };
    std::fs::write(dir.path().join("weights"), "").unwrap();
    std::fs::write(dir.path().join("few.toml"), files("")).unwrap();
    let (code, out, _) = common::run(&["gate", "run", "--plan", "few.toml", "--json"], dir.path());
    assert_eq!(code, 2, "{out}");
    assert_eq!(weights(dir.path()), "rollback\n");
    // ... or held.
    std::fs::write(dir.path().join("weights"), "").unwrap();
    std::fs::write(
        dir.path().join("few.toml"),
        files("on_inconclusive = \"hold\""),
    )
    .unwrap();
    let (code, out, _) = common::run(&["gate", "run", "--plan", "few.toml", "--json"], dir.path());
    assert_eq!(code, 2, "{out}");
    assert_eq!(weights(dir.path()), "");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["outcome"], "inconclusive");
    assert!(v["rollback"].as_str().unwrap().starts_with("held"), "{v}");
}

/// `POST /api/v1/gate/judge` as the rollout tools call it: Argo Rollouts' `web` provider
/// with the body it is given (always 200, the verdict in a field its `successCondition`
/// reads), Flagger's webhook payload (200 to proceed, 412 to halt), no token (401), an
/// unknown gate (404). Each verdict is a leaf of the evidence log.
#[test]
fn the_gate_endpoint_answers_argo_rollouts_and_flagger() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("regress");
    let (b, c) = (service(1, None), service(1, Some(marker.clone())));
    let token = "a-gate-token-0123456789";
    let config = common::write_config(
        dir.path(),
        &format!("api_token = \"{token}\""),
        &format!(
            r#"[[target]]
name = "checkout-stable"
kind = "http"
url = "http://{b}/"
interval = "100ms"

[[target]]
name = "checkout-canary"
kind = "http"
url = "http://{c}/"
interval = "100ms"

[[gate]]
name = "checkout"
baseline = "checkout-stable"
canary = "checkout-canary"
window = "10s"

[gate.judge]
min_samples = 20
"#
        ),
    );
    let server = common::Running::start(&config);
    let addr = server.addr;
    let argo = r#"{"gate": "checkout"}"#;
    // Wait for enough results on both sides (20 a side at 10 a second).
    let started = std::time::Instant::now();
    let v = loop {
        let (status, v) = common::post_json(addr, "/api/v1/gate/judge", Some(token), argo);
        assert_eq!(status, 200, "{v}");
        if v["verdict"] != "inconclusive" || started.elapsed().as_secs() > 20 {
            break v;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    assert_eq!(v["verdict"], "pass", "{v}");
    assert_eq!(v["gate"], "checkout");
    assert_eq!(v["baseline"], "target:checkout-stable");
    assert!(v["metrics"][0]["canary_n"].as_u64().unwrap() >= 20, "{v}");
    let leaf = v["evidence_leaf"].as_u64().unwrap();
    // The record is in the log, as the verdict said.
    let records = common::get_json(
        addr,
        &format!("/api/v1/evidence/records?from={leaf}&to={}", leaf + 1),
    );
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(records[0]["record"].as_str().unwrap())
        .unwrap();
    let record: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(record["type"], "verdict");
    assert_eq!(record["gate"], "checkout");
    assert_eq!(record["verdict"], "pass");
    assert_eq!(record["canary"], "target:checkout-canary");

    // Flagger's payload: the gate is the canary's name; a pass proceeds (200).
    let flagger = r#"{"name":"checkout","namespace":"test","phase":"Progressing","checksum":"85d557f47b","metadata":{}}"#;
    let (status, v) = common::post_json(addr, "/api/v1/gate/judge", Some(token), flagger);
    assert_eq!((status, v["verdict"].as_str()), (200, Some("pass")), "{v}");
    // The canary regresses: after a window of it, Flagger is told to halt (412) and Argo
    // reads "fail" from a 200.
    std::fs::write(&marker, "").unwrap();
    std::thread::sleep(std::time::Duration::from_secs(11));
    let (status, v) = common::post_json(addr, "/api/v1/gate/judge", Some(token), flagger);
    assert_eq!(status, 412, "{v}");
    assert_eq!(
        (v["verdict"].as_str(), v["decided_by"].as_str()),
        (Some("fail"), Some("error_rate")),
        "{v}"
    );
    let (status, v) = common::post_json(
        addr,
        "/api/v1/gate/judge?strict=false",
        Some(token),
        flagger,
    );
    assert_eq!((status, v["verdict"].as_str()), (200, Some("fail")), "{v}");
    let (status, v) = common::post_json(addr, "/api/v1/gate/judge", Some(token), argo);
    assert_eq!((status, v["verdict"].as_str()), (200, Some("fail")), "{v}");
    // Flagger's metadata may name the gate instead.
    let by_metadata = r#"{"name":"podinfo","namespace":"test","phase":"Progressing","metadata":{"gate":"checkout"}}"#;
    let (status, _) = common::post_json(addr, "/api/v1/gate/judge", Some(token), by_metadata);
    assert_eq!(status, 412);
    // Flagger sends no headers: the token may ride in its metadata (a wrong one is 401).
    let with_token = format!(
        r#"{{"name":"checkout","namespace":"test","phase":"Progressing","metadata":{{"token":"{token}"}}}}"#
    );
    let (status, v) = common::post_json(addr, "/api/v1/gate/judge", None, &with_token);
    assert_eq!(status, 412, "{v}");
    assert!(!v.to_string().contains(token), "the token was echoed: {v}");
    let wrong = r#"{"name":"checkout","phase":"Progressing","metadata":{"token":"not-the-token-0123456789"}}"#;
    let (status, _) = common::post_json(addr, "/api/v1/gate/judge", None, wrong);
    assert_eq!(status, 401);
    // No token, an unknown gate, a bad body, a window out of bounds.
    let (status, _) = common::post_json(addr, "/api/v1/gate/judge", None, argo);
    assert_eq!(status, 401);
    let (status, v) = common::post_json(
        addr,
        "/api/v1/gate/judge",
        Some(token),
        r#"{"gate":"nope"}"#,
    );
    assert_eq!(status, 404);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("configured: checkout"),
        "{v}"
    );
    let (status, _) = common::post_json(addr, "/api/v1/gate/judge", Some(token), "{\"gate\": ");
    assert_eq!(status, 400);
    let (status, v) = common::post_json(
        addr,
        "/api/v1/gate/judge",
        Some(token),
        r#"{"gate":"checkout","window":"2d"}"#,
    );
    assert_eq!(status, 400, "{v}");
    server.stop();
    // Every verdict recorded reads in the audit.
    let (code, out, err) = common::run(&["evidence", "audit", "--json"], dir.path());
    assert_eq!(code, 0, "{out} {err}");
    let audit: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(audit["findings"].as_array().unwrap().len(), 0, "{audit}");
    // No record holds the token.
    for entry in std::fs::read_dir(dir.path().join("data")).unwrap() {
        let path = entry.unwrap().path();
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        assert!(
            !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
            "the token is in {}",
            path.display()
        );
    }
}

/// An analysis read from a real Prometheus: an exporter on loopback serves a latency
/// gauge for three sides (the baseline, a like canary, a canary 50% slower) that changes
/// on every scrape; Prometheus scrapes it; two plans query it. The like canary is promoted,
/// the slow one rolled back on latency; the error rate, which a query does not give, is
/// `no_data` rather than a pass.
#[test]
fn an_analysis_reads_each_side_from_prometheus() {
    if !common::have("prometheus") {
        assert!(
            std::env::var_os("PROBITY_REQUIRE_BLACKBOX").is_none(),
            "prometheus is required but missing"
        );
        common::skipped("an_analysis_reads_each_side_from_prometheus: prometheus is not installed");
        return;
    }
    let scrapes = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let i = scrapes.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move {
                let v = |median: f64, salt: u64| median * (0.8 + 0.4 * ((i * salt) % 97) as f64 / 96.0);
                format!(
                    "# TYPE checkout_latency_ms gauge\ncheckout_latency_ms{{side=\"baseline\"}} {}\ncheckout_latency_ms{{side=\"canary\"}} {}\ncheckout_latency_ms{{side=\"slow\"}} {}\n",
                    v(100.0, 37),
                    v(100.0, 53),
                    v(150.0, 41)
                )
            }
        }),
    );
    let exporter = common::serve(app);
    let dir = tempfile::tempdir().unwrap();
    let (_prometheus, prom) = common::start_prometheus(
        dir.path(),
        "250ms",
        &format!(
            "  - job_name: checkout\n    static_configs:\n      - targets: [\"{exporter}\"]\n"
        ),
    );
    // Wait until Prometheus has scraped.
    let started = std::time::Instant::now();
    loop {
        assert!(started.elapsed().as_secs() < 30, "Prometheus never scraped");
        if std::net::TcpStream::connect(prom).is_err() {
            std::thread::sleep(std::time::Duration::from_millis(200));
            continue;
        }
        let (status, body) = common::get(prom, "/api/v1/query?query=checkout_latency_ms");
        if status == 200 && body.contains("\"side\":\"slow\"") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    common::write_config(dir.path(), "", "");
    let write_plan = |file: &str, canary: &str| {
        std::fs::write(
            dir.path().join(file),
            format!(
                r#"name = "{canary}"

[analysis]
source = "prometheus"
prometheus = "http://{prom}"
baseline = 'checkout_latency_ms{{side="baseline"}}'
canary = 'checkout_latency_ms{{side="{canary}"}}'
every = "250ms"

[judge]
min_samples = 15

[[step]]
analysis = "6s"
"#
            ),
        )
        .unwrap();
    };
    write_plan("like.toml", "canary");
    write_plan("slow.toml", "slow");
    let spawn = |plan: &str| {
        common::bin()
            .args(["gate", "run", "--plan", plan, "--json"])
            .current_dir(dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (like, slow) = (spawn("like.toml"), spawn("slow.toml"));
    let report = |c: std::process::Child| {
        let out = c.wait_with_output().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
        (out.status.code(), v)
    };
    let (code, v) = report(like);
    assert_eq!(code, Some(0), "{v}");
    let j = &v["steps"][0]["judgement"];
    let metric = |j: &serde_json::Value, name: &str| {
        j["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["metric"] == name)
            .unwrap()
            .clone()
    };
    assert!(
        metric(j, "latency")["baseline_n"].as_u64().unwrap() >= 15,
        "{j}"
    );
    assert_eq!(metric(j, "error_rate")["class"], "no_data", "{j}");
    let (code, v) = report(slow);
    assert_eq!(code, Some(1), "{v}");
    let j = &v["steps"][0]["judgement"];
    assert_eq!(j["decided_by"], "latency", "{j}");
    let shift = metric(j, "latency")["shift"].as_f64().unwrap();
    assert!((30.0..70.0).contains(&shift), "{j}");
}
