//! `probity run` end to end, as a real process against a real HTTP server that goes down
//! and comes back: exactly one incident with the right start and end, open incidents
//! surviving a kill, a clean stop on SIGTERM, and metrics promtool accepts.

use crate::common;

use common::{Running, get, get_json, wait_for};
use std::net::SocketAddr;

use std::sync::atomic::Ordering;
use std::time::Duration;

fn write_config(dir: &std::path::Path, server: SocketAddr) -> std::path::PathBuf {
    let path = dir.join("probity.toml");
    common::write_config_at(
        &path,
        format!(
            r#"
[[target]]
name = "web"
provider = "test"
service = "web"
region = "local-1"
kind = "http"
url = "http://{server}/"
interval = "200ms"
timeout = "1s"
failure_threshold = 3
success_threshold = 2
"#
        ),
    )
    .unwrap();
    path
}

fn incidents(addr: SocketAddr) -> Vec<serde_json::Value> {
    get_json(addr, "/api/v1/incidents?status=all")
        .as_array()
        .unwrap()
        .clone()
}

fn ms(rfc3339: &str) -> i64 {
    rfc3339.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

#[test]
fn an_outage_yields_exactly_one_incident_with_the_right_start_and_end() {
    let dir = tempfile::tempdir().unwrap();
    let (server, up) = common::switchable_server();
    let probity = Running::start(&write_config(dir.path(), server));
    let addr = probity.addr;
    // Healthy first.
    wait_for(Duration::from_secs(10), || {
        let t = get_json(addr, "/api/v1/targets");
        (t[0]["status"] == "up").then_some(())
    });
    up.store(false, Ordering::SeqCst);
    wait_for(Duration::from_secs(10), || {
        (!incidents(addr).is_empty()).then_some(())
    });
    let t = get_json(addr, "/api/v1/targets");
    assert_eq!(t[0]["status"], "down");
    assert_eq!(t[0]["last_result"]["ok"], false);
    std::thread::sleep(Duration::from_millis(600));
    up.store(true, Ordering::SeqCst);
    let incident = wait_for(Duration::from_secs(10), || {
        let all = incidents(addr);
        all[0]["resolved_at"].is_string().then(|| all[0].clone())
    });
    // Let a few more healthy results arrive: still exactly one incident.
    std::thread::sleep(Duration::from_millis(600));
    let all = incidents(addr);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(incident["target"], "web");
    assert_eq!(incident["cause"], "http_status: [STATUS] < 400 (got 503)");

    // Start = the first failing result; end = the first success after the outage.
    let results = get_json(addr, "/api/v1/targets/web/results?limit=1000");
    let mut results: Vec<_> = results.as_array().unwrap().clone();
    results.reverse(); // oldest first
    assert!(results.iter().all(|r| r["vantage"] == "local"));
    let first_fail = results.iter().position(|r| r["ok"] == false).unwrap();
    let recovery = first_fail
        + results[first_fail..]
            .iter()
            .position(|r| r["ok"] == true)
            .unwrap();
    assert_eq!(incident["started_at"], results[first_fail]["at"]);
    assert_eq!(incident["resolved_at"], results[recovery]["at"]);
    assert_eq!(results[first_fail]["error_class"], "http_status");
    assert_eq!(
        ms(incident["resolved_at"].as_str().unwrap())
            - ms(incident["started_at"].as_str().unwrap()),
        (incident["duration_s"].as_f64().unwrap() * 1000.0).round() as i64
    );
    // The incident lists the results that proved it (3 to open, 2 to resolve).
    assert_eq!(incident["evidence"].as_array().unwrap().len(), 5);
    let one = get_json(addr, &format!("/api/v1/incidents/{}", incident["id"]));
    assert_eq!(one["id"], incident["id"]);

    // Uptime reflects the failures and is a fraction.
    let t = get_json(addr, "/api/v1/targets");
    let uptime = t[0]["uptime"]["24h"].as_f64().unwrap();
    assert!(uptime > 0.0 && uptime < 1.0, "{uptime}");

    let status = probity.stop();
    assert!(status.success(), "{status:?}");
}

#[test]
fn open_incidents_survive_a_kill_and_resolve_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (server, up) = common::switchable_server();
    let config = write_config(dir.path(), server);
    up.store(false, Ordering::SeqCst);
    let probity = Running::start(&config);
    let first = wait_for(Duration::from_secs(10), || {
        incidents(probity.addr).first().cloned()
    });
    probity.kill();

    let probity = Running::start(&config);
    let addr = probity.addr;
    // Right after restart, before any new result, the incident is still open and the target down.
    let open = get_json(addr, "/api/v1/incidents?status=open");
    assert_eq!(open.as_array().unwrap().len(), 1);
    assert_eq!(open[0]["id"], first["id"]);
    assert_eq!(open[0]["started_at"], first["started_at"]);
    assert_eq!(get_json(addr, "/api/v1/targets")[0]["status"], "down");
    up.store(true, Ordering::SeqCst);
    let resolved = wait_for(Duration::from_secs(10), || {
        let r = get_json(addr, "/api/v1/incidents?status=resolved");
        r.as_array().unwrap().first().cloned()
    });
    assert_eq!(resolved["id"], first["id"]);
    assert_eq!(incidents(addr).len(), 1);
    assert!(probity.stop().success());
}

#[test]
fn sigterm_stops_cleanly_and_keeps_every_result_it_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _up) = common::switchable_server();
    let config = write_config(dir.path(), server);
    let probity = Running::start(&config);
    let addr = probity.addr;
    let seen = wait_for(Duration::from_secs(10), || {
        let r = get_json(addr, "/api/v1/targets/web/results?limit=1000");
        let n = r.as_array().unwrap().len();
        (n >= 5).then_some(n)
    });
    assert!(probity.stop().success());
    // Everything the API showed, and whatever finished during shutdown, is in the store.
    let store = probity_engine::store::SqliteStore::open(&dir.path().join("data")).unwrap();
    use probity_engine::store::traits::*;
    let stored = store.results("web", None, None, 10_000).unwrap();
    assert!(
        stored.len() >= seen,
        "stored {} < seen {seen}",
        stored.len()
    );
    let ids: std::collections::HashSet<_> = stored.iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), stored.len(), "duplicate result ids");
}

#[test]
fn api_answers_bad_requests_with_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _up) = common::switchable_server();
    let probity = Running::start(&write_config(dir.path(), server));
    let addr = probity.addr;
    for (path, status, code) in [
        ("/api/v1/incidents?status=maybe", 400, "bad_request"),
        (
            "/api/v1/targets/web/results?since=yesterday",
            400,
            "bad_request",
        ),
        ("/api/v1/targets/web/results?limit=0", 400, "bad_request"),
        ("/api/v1/targets/nope/results", 404, "not_found"),
        ("/api/v1/incidents/abc", 400, "bad_request"),
        ("/api/v1/incidents/999", 404, "not_found"),
        ("/api/v1/nothing", 404, "not_found"),
    ] {
        let (got, body) = get(addr, path);
        assert_eq!(got, status, "{path}: {body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["error"]["code"], code, "{path}");
        assert!(v["error"]["message"].as_str().unwrap().len() > 5);
    }
    let (status, body) = get(addr, "/healthz");
    assert_eq!((status, body.trim()), (200, "ok"));
    // A time window on results.
    wait_for(Duration::from_secs(10), || {
        let r = get_json(addr, "/api/v1/targets/web/results");
        (r.as_array().unwrap().len() >= 3).then_some(())
    });
    let r = get_json(
        addr,
        "/api/v1/targets/web/results?until=2000-01-01T00:00:00Z",
    );
    assert_eq!(r.as_array().unwrap().len(), 0);
    let r = get_json(
        addr,
        "/api/v1/targets/web/results?limit=2&since=2000-01-01T00:00:00Z",
    );
    assert_eq!(r.as_array().unwrap().len(), 2);
}

#[test]
fn metrics_pass_promtool() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _up) = common::switchable_server();
    // The store two days ago, as a server noted it then: the growth per day is read from
    // that note to the one the server makes at start.
    let two_days_ago = jiff::Timestamp::now().as_millisecond() - 2 * 86_400_000;
    {
        use probity_engine::store::ResultStore;
        let store = probity_engine::store::SqliteStore::open(&dir.path().join("data")).unwrap();
        store.note_size(two_days_ago, 1000).unwrap();
    }
    let probity = Running::start(&write_config(dir.path(), server));
    let addr = probity.addr;
    wait_for(Duration::from_secs(10), || {
        let (_, m) = get(addr, "/metrics");
        m.contains("probity_probe_success{target=\"web\",kind=\"http\"} 1")
            .then_some(())
    });
    let (status, metrics) = get(addr, "/metrics");
    assert_eq!(status, 200);
    for needle in [
        "probity_probe_duration_seconds{target=\"web\",phase=\"connect\"}",
        "probity_probes_total{target=\"web\",result=\"up\"}",
        "probity_target_status{target=\"web\",status=\"up\"} 1",
        "probity_incident_open{target=\"web\"} 0",
        "probity_schedule_lateness_seconds_bucket{le=\"+Inf\"}",
    ] {
        assert!(metrics.contains(needle), "missing {needle}:\n{metrics}");
    }
    // The store's size is what its files take on disk.
    let bytes: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("probity_store_bytes "))
        .expect("probity_store_bytes")
        .parse()
        .unwrap();
    let db = std::fs::metadata(dir.path().join("data/probity.db"))
        .unwrap()
        .len();
    assert!(bytes >= db && db > 0, "{bytes} < {db}");
    // The server noted the size at start; the growth is the same figure `store stats`
    // reads from the same notes.
    let growth: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("probity_store_growth_bytes_per_day "))
        .expect("probity_store_growth_bytes_per_day")
        .parse()
        .unwrap();
    let (code, out, err) = common::run(&["store", "stats", "--json"], dir.path());
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let days = v["size_per_day"].as_array().unwrap();
    assert_eq!(days.len(), 2, "{v}");
    assert_eq!(days[0]["bytes"], 1000, "{v}");
    let noted = days[1]["bytes"].as_f64().unwrap();
    let at = |d: &serde_json::Value| {
        d["sampled_at"]
            .as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .unwrap()
            .as_millisecond()
    };
    assert_eq!(at(&days[0]), two_days_ago);
    let span_days = (at(&days[1]) - two_days_ago) as f64 / 86_400_000.0;
    assert!(noted > 1000.0 && span_days >= 2.0, "{v}");
    assert_eq!(v["growth_bytes_per_day"].as_f64().unwrap(), growth, "{v}");
    assert!(
        (growth - (noted - 1000.0) / span_days).abs() < 1e-6 * growth,
        "{growth} {v}"
    );
    common::promtool_check("metrics_pass_promtool", &metrics);
}

#[test]
fn rollups_hold_counts_and_percentiles_per_minute() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _up) = common::switchable_server();
    let probity = Running::start(&write_config(dir.path(), server));
    let addr = probity.addr;
    let results = wait_for(Duration::from_secs(10), || {
        let r = get_json(addr, "/api/v1/targets/web/results?limit=1000");
        (r.as_array().unwrap().len() >= 5).then_some(r)
    });
    let rollups = get_json(addr, "/api/v1/targets/web/rollups");
    let rows = rollups.as_array().unwrap();
    assert!(!rows.is_empty() && rows.len() <= 2, "{rollups}");
    let total: u64 = rows.iter().map(|r| r["count"].as_u64().unwrap()).sum();
    // The rollups were written with (or before) the results the API showed us.
    assert!(
        total >= results.as_array().unwrap().len() as u64,
        "{total} < results"
    );
    let l = &rows[0]["latency_ms"];
    let (min, p50, max) = (
        l["min"].as_f64().unwrap(),
        l["p50"].as_f64().unwrap(),
        l["max"].as_f64().unwrap(),
    );
    assert!(min <= p50 * 1.03 && p50 <= max * 1.03, "{l}");
    let (status, _) = get(
        addr,
        "/api/v1/targets/web/rollups?since=2026-01-01T00:00:00Z",
    );
    assert_eq!(status, 400, "more than 31 days");
}
