//! The public status page in a real browser: Debian's Chromium driven by Playwright
//! (`tests/browser`, installed by `.ci/run`), with JavaScript off, on a desktop and a
//! phone-sized screen. Skipped, saying so, where Chromium or playwright-core is missing,
//! unless `PROBITY_REQUIRE_BROWSER` is set, as in CI.

use crate::common;

use std::path::{Path, PathBuf};

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/browser")
}

fn available() -> bool {
    let ok = Path::new("/usr/bin/chromium").exists()
        && browser_dir().join("node_modules/playwright-core").exists();
    if !ok {
        assert!(
            std::env::var_os("PROBITY_REQUIRE_BROWSER").is_none(),
            "Chromium and playwright-core are required (apt install chromium; npm ci in tests/browser)"
        );
        common::skipped("the browser tests: no Chromium or playwright-core");
    }
    ok
}

fn visit(url: &str, shot: &Path, width: u32) -> serde_json::Value {
    let out = std::process::Command::new("node")
        .arg(browser_dir().join("status.mjs"))
        .arg(url)
        .arg(shot)
        .arg(width.to_string())
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_status_page_reads_well_in_chromium_without_script() {
    if !available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("api.token"), "status-writer-0123456789\n").unwrap();
    let cfg = dir.path().join("probity.toml");
    common::write_config_at(
        &cfg,
        r#"api_token = "${file:api.token}"

[status]
title = "Example Corp status"

[[component]]
name = "API"

[[component]]
name = "Website"
"#,
    )
    .unwrap();
    let probity = common::Running::start(&cfg);
    let addr = probity.addr;
    let (status, created) = common::post_json(
        addr,
        "/api/v1/status/incidents",
        Some("status-writer-0123456789"),
        r#"{"name": "Checkout errors", "impact": "major", "message": "Some payments fail; we are on it.", "components": ["API"]}"#,
    );
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap();
    let (status, _) = common::post_json(
        addr,
        &format!("/api/v1/status/incidents/{id}/updates"),
        Some("status-writer-0123456789"),
        r#"{"status": "monitoring", "message": "A fix is out; watching."}"#,
    );
    assert_eq!(status, 201);

    let url = format!("http://{addr}/status");
    let desktop = visit(&url, &dir.path().join("desktop.png"), 1024);
    assert_eq!(desktop["status"], 200);
    assert_eq!(desktop["title"], "Example Corp status");
    // One script (it keeps the page current); the page reads the same without it.
    assert_eq!(desktop["scripts"], 1);
    assert_eq!(desktop["overall"], "Partial System Outage");
    assert_eq!(desktop["components"][0]["name"], "API");
    assert_eq!(desktop["components"][0]["state"], "partial outage");
    let inc = &desktop["incidents"][0];
    assert_eq!(inc["name"], "Checkout errors");
    let updates: Vec<&str> = inc["updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap())
        .collect();
    assert!(
        updates[0].starts_with("monitoring — A fix is out; watching."),
        "{updates:?}"
    );
    assert!(
        updates[1].starts_with("investigating — Some payments fail"),
        "{updates:?}"
    );
    assert_eq!(
        desktop["bars"], 180,
        "90 bars a component, each with a size"
    );
    let png = std::fs::read(dir.path().join("desktop.png")).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a real screenshot"
    );

    // A phone: the same content, nothing wider than the screen.
    let phone = visit(&url, &dir.path().join("phone.png"), 390);
    assert_eq!(phone["overflowsViewport"], false, "{phone}");
    assert_eq!(phone["incidents"][0]["name"], "Checkout errors");
    probity.stop();
}

#[test]
fn the_dashboard_shows_the_demo_in_chromium() {
    if !available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let demo = common::DemoRun::start("30s", &dir.path().join("demo"));
    let (addr, token) = (demo.addr, demo.token.clone());
    // Wait for the storage outage to be over and the status page's post, and its later edit
    // of the start, to be seen.
    let storage_incident = common::wait_for(std::time::Duration::from_secs(30), || {
        let v = common::try_get_json(addr, "/api/v1/incidents?status=all")?;
        let i = v
            .as_array()?
            .iter()
            .find(|i| i["target"] == "storage-api" && i["status"] == "resolved")?
            .clone();
        let p = common::try_get_json(addr, "/api/v1/provider-incidents")?;
        let edited = p.as_array()?.iter().any(|p| {
            p["edits"]
                .as_array()
                .is_some_and(|e| e.iter().any(|e| e["field"] == "started_at"))
        });
        edited.then_some(i)
    });
    let out = std::process::Command::new("node")
        .arg(browser_dir().join("dashboard.mjs"))
        .arg(format!("http://{addr}"))
        .arg(&token)
        .arg("storage-api")
        .arg(storage_incident["id"].to_string())
        .arg(dir.path().join("shot"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // An outage is drawn in red, a degradation (the certificate close to expiry) in its
    // own colour.
    let (_, page) = common::get_with_token(
        addr,
        &format!("/dashboard/incidents/{}", storage_incident["id"]),
        &token,
    );
    assert!(page.contains("<rect class=\"observed down\""), "{page}");
    assert!(page.contains("fill=\"#b3261e\""), "{page}");
    let incidents = common::get_json(addr, "/api/v1/incidents?status=all");
    let web = incidents
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["target"] == "web-https")
        .unwrap();
    let (_, page) =
        common::get_with_token(addr, &format!("/dashboard/incidents/{}", web["id"]), &token);
    assert!(page.contains("<rect class=\"observed degraded\""), "{page}");
    assert!(page.contains("fill=\"#e37400\""), "{page}");
    assert_eq!(
        v["redirected"], true,
        "unsigned visitors go to the sign-in form"
    );
    assert_eq!(v["refused"], true, "a wrong token is refused");
    let rows = v["overview"]["rows"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    for t in [
        "storage-api",
        "compute-api",
        "web-https",
        "cache-tcp",
        "api-dns",
    ] {
        assert!(names.contains(&t), "{t} missing from {names:?}");
    }
    assert!(
        rows.iter().all(|r| r["days"] == 90),
        "90 days in every bar: {rows:?}"
    );
    assert!(
        v["overview"]["groups"].as_array().unwrap().iter().any(|g| g
            .as_str()
            .unwrap()
            .starts_with("demo-cloud · storage · demo-1")),
        "{}",
        v["overview"]["groups"]
    );
    // A target seconds old has one hour of data: its chart says it is collecting rather
    // than drawing three lone dots (the chart itself is checked with plain values in
    // `latency_chart`'s unit test).
    assert_eq!(v["targetPage"]["points"], 0, "{}", v["targetPage"]);
    assert!(
        v["targetPage"]["collecting"]
            .as_str()
            .is_some_and(|t| t.starts_with("Collecting")),
        "{}",
        v["targetPage"]
    );
    assert!(v["targetPage"]["results"].as_u64().unwrap() > 0);
    assert!(
        v["targetPage"]["phaseRows"].as_u64().unwrap() >= 1,
        "per-phase medians"
    );
    // cdn-edge is probed from three vantages; its page shows each one and the rule.
    let vp = &v["vantagePage"];
    let names: Vec<&str> = vp["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[0].as_str().unwrap())
        .collect();
    assert_eq!(names, ["eu-west", "local", "us-east"], "{vp}");
    assert!(
        vp["rule"]
            .as_str()
            .unwrap()
            .starts_with("An incident opens when 2 vantages see it fail."),
        "{vp}"
    );
    assert!(
        vp["resultVantages"].as_array().unwrap().len() >= 2,
        "recent results name their vantage: {vp}"
    );
    // The open incident (the certificate close to expiry) is linked from the overview.
    assert!(
        rows.iter()
            .any(|r| r["name"] == "web-https" && r["incident"].is_string()),
        "{rows:?}"
    );
    // The incident's timeline: what probity saw, with the status page's declaration over it.
    let inc = &v["incidentPage"];
    assert_eq!(
        (
            inc["observed"].as_u64(),
            inc["declared"].as_u64(),
            inc["disclosed"].as_u64()
        ),
        (Some(1), Some(1), Some(1)),
        "{inc}"
    );
    assert!(
        inc["text"]
            .as_str()
            .unwrap()
            .contains("Acknowledgment by the provider: acknowledged"),
        "{inc}"
    );
    // The status page moved its start later after publishing: both starts are drawn and
    // the edit is said.
    assert_eq!(inc["firstStart"], 1, "{inc}");
    assert!(
        inc["text"]
            .as_str()
            .unwrap()
            .contains("edited after publication: start first "),
        "{inc}"
    );
    assert!(
        inc["updates"].as_u64().unwrap() >= 1,
        "the declaration's updates are marked: {inc}"
    );
    // The scorecard and the SLA report, as pages.
    let rows = v["scorecard"]["rows"].as_array().unwrap();
    assert!(
        rows[0].as_str().unwrap().starts_with("demo-cloud"),
        "{rows:?}"
    );
    assert!(
        v["sla"]["headings"][0]
            .as_str()
            .unwrap()
            .starts_with("demo-storage"),
        "{}",
        v["sla"]
    );
    assert!(
        v["sla"]["plots"].as_u64().unwrap() >= 28,
        "a bar a day: {}",
        v["sla"]
    );
    for page in ["overview", "target", "incident"] {
        let png = std::fs::read(dir.path().join(format!("shot-{page}.png"))).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "{page}");
    }
    drop(demo);
}

/// The demo's first URL, opened in Chromium with script on: a state change (the storage
/// outage the demo stages) arrives on the page without a reload, and the "updated" time
/// moves with it.
#[test]
fn a_state_change_arrives_on_the_open_page_without_a_reload() {
    use std::io::BufRead;
    if !available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut demo = common::bin()
        .args([
            "demo",
            "--fast",
            "--duration",
            "45s",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            "d",
        ])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Read the demo's output to the end (a closed pipe would stop it), passing on its URL.
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = demo.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(rest) = line.trim_start().strip_prefix("open      ") {
                let _ = tx.send(rest.split_whitespace().next().unwrap_or("").to_string());
            }
        }
    });
    let url = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the demo prints a URL to open");
    let out = std::process::Command::new("node")
        .arg(browser_dir().join("live.mjs"))
        .arg(&url)
        .arg("35000")
        .output()
        .expect("node runs");
    let _ = demo.kill();
    let _ = demo.wait();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], 200, "{v}");
    assert!(v["finalUrl"].as_str().unwrap().ends_with("/status"), "{v}");
    assert_ne!(
        (&v["before"]["overall"], &v["before"]["states"]),
        (&v["after"]["overall"], &v["after"]["states"]),
        "a state change arrived: {v}"
    );
    assert_eq!(
        v["after"]["marker"], "still the first document",
        "no reload: {v}"
    );
    assert_eq!(v["navigations"], 1, "{v}");
    assert_ne!(v["before"]["updated"], v["after"]["updated"], "{v}");
}

/// A gate's HTML report in Chromium without script: the verdict, a row per metric, and
/// both latency curves drawn, the slower canary's to the right of the baseline's.
#[test]
fn the_gate_report_draws_both_distributions_in_chromium() {
    if !available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/examples/gate");
    let report = dir.path().join("report.html");
    let (code, out, err) = common::run(
        &[
            "gate",
            "judge",
            "--baseline",
            examples.join("baseline.csv").to_str().unwrap(),
            "--canary",
            examples.join("slow.csv").to_str().unwrap(),
            "--html",
            report.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(code, 1, "{out} {err}");
    let out = std::process::Command::new("node")
        .arg(browser_dir().join("report.mjs"))
        .arg(&report)
        .arg(dir.path().join("report.png"))
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(seen["title"], "Canary judgement", "{seen}");
    assert!(
        seen["verdict"]
            .as_str()
            .unwrap()
            .starts_with("fail, score 33.33"),
        "{seen}"
    );
    assert_eq!(seen["rows"], 3, "{seen}");
    assert_eq!(seen["scripts"], 0);
    for side in ["baseline", "canary"] {
        assert!(seen[side]["width"].as_f64().unwrap() > 100.0, "{seen}");
        assert!(seen[side]["height"].as_f64().unwrap() > 100.0, "{seen}");
    }
    assert!(
        seen["canary"]["median_x"].as_f64().unwrap()
            > seen["baseline"]["median_x"].as_f64().unwrap() + 20.0,
        "the slower canary's curve is not to the right: {seen}"
    );
}
