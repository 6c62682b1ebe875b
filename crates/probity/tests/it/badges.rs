//! Badges against a running server: a component's state and uptime as SVG that parses as
//! XML, figures computed from stored results, and targets kept private unless allowed.

use crate::common;

use common::{Running, get, wait_for};
use std::sync::atomic::Ordering;
use std::time::Duration;

fn config(
    dir: &std::path::Path,
    web: std::net::SocketAddr,
    target_badges: bool,
) -> std::path::PathBuf {
    let path = dir.join("probity.toml");
    common::write_config_at(
        &path,
        format!(
            r#"
[status]
title = "Example"
target_badges = {target_badges}

[[target]]
name = "web"
kind = "http"
url = "http://{web}/"
interval = "200ms"
failure_threshold = 2

[[target]]
name = "nightly-job"
kind = "heartbeat"
token = "nightly-0123456789abcdef"
grace = "30d"

[[component]]
name = "Web site"
targets = ["web"]

[[component]]
name = "Jobs"
targets = ["nightly-job"]
"#
        ),
    )
    .unwrap();
    path
}

/// Checks that `svg` is well-formed XML with an `svg` root (Python's parser, not ours),
/// and returns its accessible label.
fn label(svg: &str) -> String {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys, xml.dom.minidom as m; d = m.parseString(sys.stdin.read()); r = d.documentElement; assert r.tagName == 'svg', r.tagName; print(r.getAttribute('aria-label'))",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(svg.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(
        out.status.success(),
        "not well-formed SVG: {}\n{svg}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn badge(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    get(addr, path)
}

#[test]
fn component_badges_show_state_and_uptime_and_targets_stay_private() {
    let dir = tempfile::tempdir().unwrap();
    let (web, up) = common::switchable_server();
    let cfg = config(dir.path(), web, false);
    // A month of the nightly job: 400 runs, 3 failed.
    let now = jiff::Timestamp::now().as_millisecond();
    let mut lines = String::new();
    for i in 0..400i64 {
        let at = jiff::Timestamp::from_millisecond(now - 20 * 86_400_000 + i * 3_600_000).unwrap();
        let ok = !matches!(i, 10 | 200 | 300);
        lines.push_str(&format!(
            "{{\"target\":\"nightly-job\",\"at\":\"{at}\",\"ok\":{ok}}}\n"
        ));
    }
    std::fs::write(dir.path().join("history.jsonl"), lines).unwrap();
    let (code, out, err) = common::run(
        &[
            "results",
            "import",
            "--config",
            cfg.to_str().unwrap(),
            "history.jsonl",
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{out}{err}");

    let server = Running::start(&cfg);
    let addr = server.addr;
    // 397 of 400 up: 99.25%, shown without rounding up.
    let (status, svg) = badge(addr, "/badge/Jobs/uptime.svg");
    assert_eq!(status, 200, "{svg}");
    assert_eq!(label(&svg), "uptime 30d: 99.25%");
    assert!(svg.contains("#97ca00"), "99% to 99.9% is light green");
    // A window before the history began has no data.
    let (_, svg) = badge(addr, "/badge/Jobs/uptime.svg?window=1h");
    assert_eq!(label(&svg), "uptime 1h: no data");
    let (status, body) = badge(addr, "/badge/Jobs/uptime.svg?window=forever");
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("`window` is a duration from 1h to 400d"),
        "{body}"
    );

    // The web component's state follows its target; names with spaces are URL-encoded.
    wait_for(Duration::from_secs(10), || {
        let (_, svg) = badge(addr, "/badge/Web%20site/status.svg");
        (label(&svg) == "Web site: up").then_some(())
    });
    let (_, svg) = badge(addr, "/badge/Web%20site/status.svg");
    assert!(svg.contains("#3fa535"));
    up.store(false, Ordering::SeqCst);
    wait_for(Duration::from_secs(10), || {
        let (_, svg) = badge(addr, "/badge/Web%20site/status.svg");
        (label(&svg) == "Web site: down").then_some(())
    });
    let (status, _) = get(addr, "/badge/Web%20site/status.svg");
    assert_eq!(status, 200);

    // Targets are private unless `target_badges`: the same 404 as for no such name.
    let (status, body) = badge(addr, "/badge/web/status.svg");
    assert_eq!(status, 404);
    assert_eq!(
        body,
        r#"{"error":{"code":"not_found","message":"no badge named \"web\""}}"#
    );
    let (status, body) = badge(addr, "/badge/nothing/status.svg");
    assert_eq!(status, 404);
    assert!(body.contains("no badge named \\\"nothing\\\""), "{body}");
    drop(server);

    // With `target_badges = true`, targets have badges too.
    let cfg = config(dir.path(), web, true);
    let server = Running::start(&cfg);
    let (status, svg) = badge(server.addr, "/badge/nightly-job/uptime.svg?window=30d");
    assert_eq!(status, 200, "{svg}");
    assert_eq!(label(&svg), "uptime 30d: 99.25%");
    wait_for(Duration::from_secs(10), || {
        let (_, svg) = badge(server.addr, "/badge/web/status.svg");
        (label(&svg) == "web: down").then_some(())
    });
}
