//! Bring your own probes: a real blackbox_exporter probes a loopback server, a real
//! Prometheus scrapes it, and probity reads the series from Prometheus's query API into
//! results of an external target: up, then an incident when the server fails, and nothing
//! stored twice across reads and a restart.

use crate::common;

use common::{Daemon, Running, free_port, get_json, wait_for};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::Duration;

fn start_blackbox(dir: &Path) -> (Daemon, SocketAddr) {
    let port = free_port();
    let cfg = dir.join("blackbox.yml");
    std::fs::write(
        &cfg,
        "modules:\n  http_2xx:\n    prober: http\n    timeout: 2s\n    http:\n      preferred_ip_protocol: ip4\n",
    )
    .unwrap();
    let child = Command::new("prometheus-blackbox-exporter")
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (Daemon(child), format!("127.0.0.1:{port}").parse().unwrap())
}

fn start_prometheus(dir: &Path, blackbox: SocketAddr, target: &str) -> (Daemon, SocketAddr) {
    common::start_prometheus(
        dir,
        "1s",
        &format!(
            r#"  - job_name: blackbox
    metrics_path: /probe
    params:
      module: [http_2xx]
    static_configs:
      - targets: ["{target}"]
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: "{blackbox}"
"#
        ),
    )
}

#[test]
fn blackbox_results_read_from_prometheus_become_evidence() {
    if !(common::have("prometheus") && common::have("prometheus-blackbox-exporter")) {
        assert!(
            std::env::var_os("PROBITY_REQUIRE_BLACKBOX").is_none(),
            "prometheus and prometheus-blackbox-exporter are required but missing"
        );
        common::skipped(
            "blackbox_results_read_from_prometheus_become_evidence: prometheus or prometheus-blackbox-exporter is not installed",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (web, up) = common::switchable_server();
    let instance = format!("http://{web}/");
    let (_blackbox, bb) = start_blackbox(dir.path());
    let (_prometheus, prom) = start_prometheus(dir.path(), bb, &instance);
    let cfg = dir.path().join("probity.toml");
    common::write_config_at(
        &cfg,
        format!(
            r#"
[[target]]
name = "web-ext"
provider = "test"
kind = "external"
failure_threshold = 2

[[source]]
name = "blackbox"
kind = "prometheus"
url = "http://{prom}"
interval = "1s"
job = "blackbox"
targets = {{ web-ext = "{instance}" }}
"#
        ),
    )
    .unwrap();
    let (code, out, err) = common::run(&["check", "--config", cfg.to_str().unwrap()], dir.path());
    assert_eq!(code, 0, "{out}{err}");
    let server = Running::start(&cfg);
    let addr = server.addr;
    let results = |addr| {
        get_json(addr, "/api/v1/targets/web-ext/results?limit=10000")
            .as_array()
            .unwrap()
            .clone()
    };
    // Blackbox's measurements arrive as results from the `blackbox` vantage, with phases.
    let first = wait_for(Duration::from_secs(45), || {
        let rs = results(addr);
        (rs.len() >= 3).then_some(rs)
    });
    let r = &first[0];
    assert_eq!(r["vantage"], "blackbox");
    assert_eq!(r["status"], "up", "{r}");
    assert!(r["phases"]["connect_ms"].as_f64().unwrap() >= 0.0, "{r}");
    assert!(r["phases"]["total_ms"].as_f64().unwrap() > 0.0, "{r}");
    assert!(
        r["origin"]
            .as_str()
            .unwrap()
            .starts_with(&format!("blackbox:{instance}:"))
    );
    // The server fails: blackbox says 503, probity opens an incident on the external target.
    up.store(false, Ordering::SeqCst);
    let incident = wait_for(Duration::from_secs(30), || {
        get_json(addr, "/api/v1/incidents?status=open")
            .as_array()?
            .first()
            .cloned()
    });
    assert_eq!(incident["target"], "web-ext");
    assert_eq!(incident["cause"], "http_status: HTTP 503");
    // Reads overlap and a restart reads the same window again: each sample is stored once.
    drop(server);
    let server = Running::start(&cfg);
    let addr = server.addr;
    std::thread::sleep(Duration::from_secs(3));
    let rs = results(addr);
    let origins: std::collections::BTreeSet<&str> =
        rs.iter().map(|r| r["origin"].as_str().unwrap()).collect();
    assert_eq!(origins.len(), rs.len(), "a sample was stored twice");
    assert!(rs.len() > first.len());
    // probity never probed it itself.
    assert!(rs.iter().all(|r| r["vantage"] == "blackbox"));
}
