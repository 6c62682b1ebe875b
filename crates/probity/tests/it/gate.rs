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
}
