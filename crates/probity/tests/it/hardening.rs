//! What every answer carries, and what an oversized body gets: the documented JSON error.

use crate::common;
use std::io::{Read, Write};

const TOKEN: &str = "a-hardening-token-0123456789";

/// One raw HTTP/1.1 exchange: status, lower-cased head, body.
fn exchange(addr: std::net::SocketAddr, request: &[u8]) -> (u16, String, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    // The server may answer before it has read a large body; a reset then is fine.
    let _ = s.write_all(request);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_string())
}

#[test]
fn answers_carry_safe_headers_and_oversized_bodies_a_json_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::write_config(
        dir.path(),
        &format!("api_token = \"{TOKEN}\"\n"),
        "[[component]]\nname = \"api\"\n",
    );
    let probity = common::Running::start(&config);
    let addr = probity.addr;

    let (status, head, _) = exchange(
        addr,
        format!("GET /status HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    assert_eq!(status, 200, "{head}");
    assert!(head.contains("x-content-type-options: nosniff"), "{head}");
    assert!(
        head.contains("content-security-policy: default-src 'none'"),
        "{head}"
    );
    let (_, head, _) = exchange(
        addr,
        format!("GET /api/v1/targets HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    );
    assert!(head.contains("x-content-type-options: nosniff"), "{head}");

    // Three megabytes to an endpoint that takes two: the documented error, as JSON.
    let body = format!("{{\"title\": \"{}\"}}", "x".repeat(3 << 20));
    let mut request = format!(
        "POST /api/v1/status/incidents HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body.as_bytes());
    let (status, head, body) = exchange(addr, &request);
    assert_eq!(status, 413, "{head}");
    assert!(head.contains("content-type: application/json"), "{head}");
    let v: serde_json::Value = serde_json::from_str(&body).expect(&body);
    assert_eq!(v["error"]["code"], "too_large");
    probity.stop();
}

/// API tokens are listed by id (never shown again) and revoked from the command line; a
/// revoked token is refused from the next request on.
#[test]
fn api_tokens_are_listed_and_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::write_config(dir.path(), "", "[[component]]\nname = \"API\"\n");
    let make = |name: &str| {
        let (code, out, err) = common::run(
            &[
                "token",
                "create",
                "--config",
                "probity.toml",
                "--name",
                name,
            ],
            dir.path(),
        );
        assert_eq!(code, 0, "{err}");
        out.lines().last().unwrap().to_string()
    };
    let ci = make("ci");
    let ops = make("ops");
    let (code, out, err) = common::run(
        &["token", "list", "--config", "probity.toml", "--json"],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"ci") && names.contains(&"ops"), "{out}");
    assert!(
        !out.contains(&ci) && !out.contains(&ops),
        "a token is never shown again"
    );
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|t| t["revoked_at"].is_null())
    );

    let probity = common::Running::start(&config);
    let addr = probity.addr;
    let incident = r#"{"name": "Errors", "status": "investigating", "impact": "minor", "message": "Looking.", "components": ["API"]}"#;
    let (status, body) = common::post_json(addr, "/api/v1/status/incidents", Some(&ci), incident);
    assert_eq!(status, 201, "{body}");

    // A dashboard sign-in: the cookie holds a session id, never the token.
    let form = format!("token={ci}");
    let (status, head, _) = exchange(
        addr,
        format!(
            "POST /dashboard/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nX-Forwarded-Proto: https\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}",
            form.len()
        )
        .as_bytes(),
    );
    assert_eq!(status, 303, "{head}");
    let cookie = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .expect(&head)
        .to_string();
    assert!(
        !cookie.contains(&ci[4..]),
        "the token is not in the cookie: {cookie}"
    );
    assert!(
        cookie.contains("httponly") && cookie.contains("; secure"),
        "{cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_string();
    let dashboard = |session: &str| {
        exchange(
            addr,
            format!("GET /dashboard HTTP/1.1\r\nHost: {addr}\r\nCookie: {session}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .0
    };
    assert_eq!(dashboard(&session), 200);
    assert_eq!(
        dashboard("probity_session=00ff"),
        303,
        "an unknown session signs nobody in"
    );

    let (code, out, err) = common::run(
        &[
            "token",
            "revoke",
            "--config",
            "probity.toml",
            "--name",
            "ci",
        ],
        dir.path(),
    );
    assert_eq!((code, out.trim()), (0, "revoked 1 token `ci`"), "{err}");
    assert_eq!(
        dashboard(&session),
        303,
        "a revoked token's sign-ins end with it"
    );
    let (status, body) = common::post_json(addr, "/api/v1/status/incidents", Some(&ci), incident);
    assert_eq!(status, 401, "{body}");
    let (status, body) = common::post_json(addr, "/api/v1/status/incidents", Some(&ops), incident);
    assert_eq!(status, 201, "the other token still works: {body}");
    // Revoking again finds nothing live; the list says when it was revoked.
    let (code, _, err) = common::run(
        &[
            "token",
            "revoke",
            "--config",
            "probity.toml",
            "--name",
            "ci",
        ],
        dir.path(),
    );
    assert_eq!(code, 1, "{err}");
    let (_, out, _) = common::run(&["token", "list", "--config", "probity.toml"], dir.path());
    let ci_line = out.lines().find(|l| l.contains(" ci ")).expect(&out);
    assert!(!ci_line.trim_end().ends_with('-'), "{ci_line}");
    probity.stop();
}

/// Idle sockets cannot take the descriptors probes need: with 64 descriptors, 80 idle
/// connections leave the probes measuring (no `local` result), and the API answers once
/// the idle ones are timed out.
#[test]
fn idle_connections_cannot_starve_the_probes() {
    let dir = tempfile::tempdir().unwrap();
    let (target, _up) = common::switchable_server();
    let config = common::write_config(
        dir.path(),
        "idle_timeout = \"1s\"",
        &format!(
            "[[target]]\nname = \"db\"\nkind = \"tcp\"\naddress = \"{target}\"\ninterval = \"100ms\"\nfailure_threshold = 2\n"
        ),
    );
    let probity = common::Running::start_after("ulimit -n 64", &config);
    let addr = probity.addr;
    common::wait_for(std::time::Duration::from_secs(10), || {
        (common::results(addr, "db").len() >= 3).then_some(())
    });
    let hogs: Vec<std::net::TcpStream> = (0..80)
        .filter_map(|_| std::net::TcpStream::connect(addr).ok())
        .collect();
    assert_eq!(hogs.len(), 80, "the backlog takes them all");
    let held = std::time::Instant::now();
    std::thread::sleep(std::time::Duration::from_secs(3));
    // While they are held, and after: the API answers (each idle one is closed after 1 s).
    let (status, _) = common::get(addr, "/healthz");
    assert_eq!(status, 200);
    let results = common::results(addr, "db");
    let during: Vec<_> = results
        .iter()
        .filter(|r| {
            r["at"]
                .as_str()
                .and_then(|a| a.parse::<jiff::Timestamp>().ok())
                .is_some_and(|a| {
                    a >= jiff::Timestamp::now()
                        - jiff::SignedDuration::from_millis(held.elapsed().as_millis() as i64)
                })
        })
        .collect();
    assert!(
        during.len() >= 10,
        "probes went on: {} results",
        during.len()
    );
    for r in &results {
        assert_eq!(r["status"], "up", "no descriptor shortage: {r}");
    }
    drop(hogs);
    assert!(probity.stop().success());
}

/// Out of file descriptors, probity cannot probe; that is its own shortage, not the
/// target's failure: such results are stored unmeasured (class `local`) and open nothing.
/// (Reproduced by setting the connection limit above the descriptors there are.)
#[test]
fn running_out_of_descriptors_is_not_an_outage() {
    let dir = tempfile::tempdir().unwrap();
    let (target, _up) = common::switchable_server();
    let config = common::write_config(
        dir.path(),
        "max_connections = 1000",
        &format!(
            "[[target]]\nname = \"db\"\nkind = \"tcp\"\naddress = \"{target}\"\ninterval = \"100ms\"\nfailure_threshold = 2\n"
        ),
    );
    let probity = common::Running::start_after("ulimit -n 64", &config);
    let addr = probity.addr;
    common::wait_for(std::time::Duration::from_secs(10), || {
        (common::results(addr, "db").len() >= 3).then_some(())
    });
    // Idle connections the server accepts and keeps: each holds one of its descriptors.
    let hogs: Vec<std::net::TcpStream> = (0..80)
        .filter_map(|_| std::net::TcpStream::connect(addr).ok())
        .collect();
    assert!(hogs.len() > 60, "{} connections", hogs.len());
    std::thread::sleep(std::time::Duration::from_secs(2));
    drop(hogs);
    let results = common::wait_for(std::time::Duration::from_secs(10), || {
        let r = common::results(addr, "db");
        r.iter().any(|x| x["error_class"] == "local").then_some(r)
    });
    for r in &results {
        if r["error_class"] == "local" {
            assert_eq!(r["unmeasured"], true, "{r}");
        } else {
            assert_eq!(r["status"], "up", "only this machine failed: {r}");
        }
    }
    let incidents = common::get_json(addr, "/api/v1/incidents?status=all");
    assert_eq!(incidents, serde_json::json!([]), "no outage was recorded");
    assert!(probity.stop().success());
}

/// A soft limit on open files below the hard one (the usual 1024) is raised to the hard
/// limit at start, so a busy server is not starved of descriptors by a default.
#[test]
fn the_open_files_limit_is_raised_to_the_hard_limit() {
    let hard: u64 = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| {
            l.lines()
                .find(|x| x.starts_with("Max open files"))
                .and_then(|x| x.split_whitespace().nth(4).map(str::to_string))
        })
        .and_then(|h| h.parse().ok())
        .unwrap_or(0);
    if hard <= 256 {
        common::skipped("the hard open-files limit here is not above 256");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = common::write_config(dir.path(), "", "");
    let probity = common::Running::start_after("ulimit -S -n 256", &config);
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", probity.child.id())).unwrap();
    let line = limits
        .lines()
        .find(|x| x.starts_with("Max open files"))
        .unwrap()
        .to_string();
    let soft: u64 = line.split_whitespace().nth(3).unwrap().parse().unwrap();
    probity.stop();
    assert_eq!(soft, hard, "raised from 256 to the hard limit: {line}");
}
