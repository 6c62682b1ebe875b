//! Push heartbeats: pings are results, a missing ping opens an incident, a ping closes it,
//! a job can report failure, and tokens are checked.

use crate::common;

use std::time::Duration;

const TOKEN: &str = "nightly-backup-7f3a9c2e41b8d6f0";

#[test]
fn a_missing_ping_opens_an_incident_and_a_ping_resolves_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hb.token"), format!("{TOKEN}\n")).unwrap();
    let config = dir.path().join("probity.toml");
    common::write_config_at(
        &config,
        r#"
[[target]]
name = "nightly-backup"
kind = "heartbeat"
interval = "1s"
grace = "500ms"
token = "${file:hb.token}"
"#,
    )
    .unwrap();
    let probity = common::Running::start(&config);
    let addr = probity.addr;
    // A ping (GET, for the simplest clients) makes it up.
    let (status, body) = common::get(addr, &format!("/api/v1/heartbeat/{TOKEN}"));
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (v["target"].as_str(), v["status"].as_str()),
        (Some("nightly-backup"), Some("up"))
    );
    common::wait_for(Duration::from_secs(5), || {
        (common::get_json(addr, "/api/v1/targets")[0]["status"] == "up").then_some(())
    });
    // The target never shows its token.
    let t = common::get_json(addr, "/api/v1/targets/nightly-backup");
    assert!(!t.to_string().contains(TOKEN), "{t}");
    // Silence past interval + grace: down, with an incident that says since when.
    let inc = common::wait_for(Duration::from_secs(10), || {
        let i = common::get_json(addr, "/api/v1/incidents?status=open");
        i.as_array()?.first().cloned()
    });
    assert_eq!(inc["target"], "nightly-backup");
    let cause = inc["cause"].as_str().unwrap();
    assert!(cause.starts_with("timeout: no ping since "), "{cause}");
    assert!(
        cause.ends_with("(expected every 1s, grace 500ms)"),
        "{cause}"
    );
    // A ping resolves it.
    let (status, _) = common::get(addr, &format!("/api/v1/heartbeat/{TOKEN}"));
    assert_eq!(status, 200);
    common::wait_for(Duration::from_secs(5), || {
        let i = common::get_json(addr, "/api/v1/incidents?status=open");
        i.as_array()?.is_empty().then_some(())
    });
    // A job that reports failure, with what it said.
    let (status, body) = post(
        addr,
        &format!("/api/v1/heartbeat/{TOKEN}?status=fail"),
        "disk full",
    );
    assert_eq!(status, 200, "{body}");
    let inc = common::wait_for(Duration::from_secs(5), || {
        let i = common::get_json(addr, "/api/v1/incidents?status=open");
        i.as_array()?.first().cloned()
    });
    assert_eq!(inc["cause"], "unknown: the job reported failure: disk full");
    // Wrong tokens and statuses.
    let (status, body) = common::get(addr, "/api/v1/heartbeat/nightly-backup-7f3a9c2e41b8d6f1");
    assert_eq!(status, 404);
    assert!(!body.contains("7f3a9c2e41b8d6f"), "{body}");
    let (status, _) = common::get(addr, &format!("/api/v1/heartbeat/{TOKEN}?status=maybe"));
    assert_eq!(status, 400);
    probity.stop();
}

fn post(addr: std::net::SocketAddr, path: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    (
        head.split_whitespace().nth(1).unwrap().parse().unwrap(),
        body.to_string(),
    )
}

#[test]
fn heartbeat_tokens_must_be_unguessable() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.toml"),
        "[[target]]\nname = \"job\"\nkind = \"heartbeat\"\ninterval = \"1h\"\ntoken = \"short\"\nurl = \"http://x/\"\n",
    )
    .unwrap();
    let (code, _, err) = common::run(&["check", "--config", "p.toml"], dir.path());
    assert_eq!(code, 2);
    assert!(
        err.contains("p.toml:5:9: target `job`: a heartbeat `token` is at least 16 letters"),
        "{err}"
    );
    assert!(
        err.contains("p.toml:6:7: target `job`: `url` is not used by kind `heartbeat`"),
        "{err}"
    );
}
