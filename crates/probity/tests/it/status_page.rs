//! The public status page: incidents posted with a token (and refused without one), read
//! back through probity's own Statuspage parser and as Atom, shown without script and
//! without anything private.

use crate::common;

use std::time::Duration;

#[test]
fn incidents_posted_with_a_token_are_published_in_every_form() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("probity.toml");
    common::write_config_at(
        &cfg,
        r#"
[status]
title = "Example Corp status"

[[target]]
name = "api-internal"
kind = "tcp"
address = "127.0.0.1:9"
interval = "1h"

[[component]]
name = "API"
description = "The public REST API"
targets = ["api-internal"]

[[component]]
name = "Website"
"#,
    )
    .unwrap();
    // A token, printed once, alone on the last line.
    let (code, out, err) =
        common::run(&["token", "create", "--config", "probity.toml"], dir.path());
    assert_eq!(code, 0, "{err}");
    let token = out.lines().last().unwrap().to_string();
    assert!(token.starts_with("pbt_") && token.len() > 40, "{token}");
    assert!(
        !std::fs::read(dir.path().join("data/probity.db"))
            .unwrap()
            .windows(token.len())
            .any(|w| w == token.as_bytes()),
        "only the hash is stored"
    );

    let probity = common::Running::start(&cfg);
    let addr = probity.addr;
    // `/` is the public page when there are components.
    assert_eq!(landing(addr), (303, "/status".to_string()));
    let incident = r#"{"name": "Elevated API errors", "status": "investigating", "impact": "major", "message": "We are looking into errors on the API.", "components": ["API"]}"#;
    let (status, body) = common::post_json(addr, "/api/v1/status/incidents", None, incident);
    assert_eq!(status, 401, "{body}");
    let (status, _) = common::post_json(
        addr,
        "/api/v1/status/incidents",
        Some("pbt_wrong"),
        incident,
    );
    assert_eq!(status, 401);
    assert_eq!(
        common::get_json(addr, "/api/v2/incidents.json")["incidents"],
        serde_json::json!([]),
        "nothing changed"
    );
    let (status, created) =
        common::post_json(addr, "/api/v1/status/incidents", Some(&token), incident);
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 12);
    let (status, body) = common::post_json(
        addr,
        &format!("/api/v1/status/incidents/{id}/updates"),
        Some(&token),
        r#"{"status": "identified", "message": "A bad deploy; rolling back."}"#,
    );
    assert_eq!(status, 201, "{body}");
    let (status, body) = common::post_json(
        addr,
        "/api/v1/status/incidents",
        Some(&token),
        r#"{"name": "x", "message": "y", "components": ["Nope"]}"#,
    );
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no component named \"Nope\" (components: API, Website)"),
        "{body}"
    );

    // probity's own Statuspage parser reads it back.
    let (_, json) = common::get(addr, "/api/v2/incidents.json");
    let parsed = probity_engine::feeds::parse(
        probity_engine::feeds::Format::Statuspage,
        json.as_bytes(),
        "self",
    )
    .unwrap();
    assert_eq!(parsed.len(), 1);
    let p = &parsed[0];
    assert_eq!(
        (
            p.provider.as_str(),
            p.external_id.as_str(),
            p.title.as_str()
        ),
        ("Example Corp status", id.as_str(), "Elevated API errors")
    );
    assert_eq!(
        (p.status.as_str(), p.impact),
        ("identified", probity_engine::feeds::Impact::Major)
    );
    let statuses: Vec<&str> = p.updates.iter().map(|u| u.status.as_str()).collect();
    assert_eq!(statuses, ["investigating", "identified"]);
    assert_eq!(p.services, ["API"]);
    // summary.json: the API component is degraded by the open incident.
    let summary = common::get_json(addr, "/api/v2/summary.json");
    assert_eq!(summary["status"]["indicator"], "major");
    assert_eq!(summary["components"][0]["name"], "API");
    assert_eq!(summary["components"][0]["status"], "partial_outage");
    assert_eq!(
        summary["components"][1]["status"], "unknown",
        "no targets, no claim of health"
    );
    assert_eq!(summary["incidents"].as_array().unwrap().len(), 1);
    for path in [
        "status.json",
        "components.json",
        "incidents/unresolved.json",
        "scheduled-maintenances.json",
    ] {
        let (status, _) = common::get(addr, &format!("/api/v2/{path}"));
        assert_eq!(status, 200, "{path}");
    }
    assert_eq!(common::get(addr, "/api/v2/nothing.json").0, 404);

    // A valid Atom feed, with the incident and its updates.
    let (_, atom) = common::get(addr, "/status/feed.atom");
    let feed = feed_rs::parser::parse(atom.as_bytes()).unwrap();
    assert_eq!(feed.feed_type, feed_rs::model::FeedType::Atom);
    assert_eq!(feed.entries.len(), 1);
    assert_eq!(
        feed.entries[0].title.as_ref().unwrap().content,
        "Elevated API errors"
    );
    let content = feed.entries[0]
        .content
        .as_ref()
        .unwrap()
        .body
        .clone()
        .unwrap();
    assert!(content.contains("A bad deploy; rolling back."), "{content}");
    // probity's generic reader splits those updates back out.
    let back =
        probity_engine::feeds::parse(probity_engine::feeds::Format::Rss, atom.as_bytes(), "atom")
            .unwrap();
    assert_eq!(back[0].updates.len(), 2, "{:?}", back[0].updates);

    // The page: complete without script (its one script, the server's own, only keeps
    // it current), the incident and its update, 90 bars per component, nothing private.
    let (status, html) = common::get(addr, "/status");
    assert_eq!(status, 200);
    assert_eq!(html.matches("<script").count(), 1, "{html}");
    assert!(
        html.contains("<script src=\"/assets/live.js\" defer></script>"),
        "{html}"
    );
    assert!(html.contains("Elevated API errors") && html.contains("A bad deploy; rolling back."));
    assert!(html.contains("Partial System Outage"));
    assert_eq!(html.matches("class=\"bar ").count(), 180);
    assert!(
        !html.contains("127.0.0.1:9") && !html.contains("api-internal"),
        "targets stay private"
    );
    // What an operator writes is text on the page, never markup: the template escapes it.
    let (status, body) = common::post_json(
        addr,
        &format!("/api/v1/status/incidents/{id}/updates"),
        Some(&token),
        r#"{"status": "identified", "message": "<img src=x onerror=alert(1)> & \"quoted\" 'too'"}"#,
    );
    assert_eq!(status, 201, "{body}");
    let (_, html) = common::get(addr, "/status");
    assert!(!html.contains("<img src=x"), "{html}");
    assert!(
        html.contains("&#60;img src=x onerror=alert(1)&#62; &#38; &#34;quoted&#34; &#39;too&#39;"),
        "{html}"
    );

    // The CLI posts and updates too; resolving closes it.
    let (code, out, err) = common::run(
        &[
            "status-page",
            "post",
            "-c",
            "probity.toml",
            "--name",
            "Website maintenance",
            "--message",
            "Planned work.",
            "--impact",
            "none",
            "--component",
            "Website",
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    let second = out.trim().to_string();
    let (code, _, _) = common::run(
        &[
            "status",
            "update",
            "-c",
            "probity.toml",
            &second,
            "--status",
            "resolved",
            "--message",
            "Done.",
        ],
        dir.path(),
    );
    assert_eq!(code, 0);
    let all = common::wait_for(Duration::from_secs(5), || {
        let v = common::get_json(addr, "/api/v2/incidents.json");
        (v["incidents"].as_array()?.len() == 2).then_some(v)
    });
    let done = all["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == second.as_str())
        .unwrap();
    assert_eq!(done["status"], "resolved");
    assert!(done["resolved_at"].is_string());
    probity.stop();
}

#[test]
fn without_any_token_writes_are_off() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("probity.toml");
    common::write_config_at(&cfg, "").unwrap();
    let probity = common::Running::start(&cfg);
    let (status, body) = common::post_json(
        probity.addr,
        "/api/v1/status/incidents",
        Some("pbt_x"),
        r#"{"name":"a","message":"b"}"#,
    );
    assert_eq!(status, 401, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("none exists"),
        "{body}"
    );
    // No components: `/` is the dashboard, and the public page claims nothing.
    assert_eq!(landing(probity.addr), (303, "/dashboard".to_string()));
    let (status, html) = common::get(probity.addr, "/status");
    assert_eq!(status, 200);
    assert!(html.contains("No components configured"), "{html}");
    assert!(!html.contains("All Systems Operational"), "{html}");
    probity.stop();
}

/// `GET /`: its status and where it sends the reader.
fn landing(addr: std::net::SocketAddr) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text[9..12].parse().unwrap();
    let location = text
        .lines()
        .find_map(|l| l.strip_prefix("location: "))
        .unwrap_or_default()
        .trim()
        .to_string();
    (status, location)
}

#[test]
fn observed_incidents_post_and_resolve_themselves_when_asked() {
    let (target, up) = common::switchable_server();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("probity.toml");
    common::write_config_at(
        &cfg,
        format!(
            r#"
[status]
auto_incidents = true

[[target]]
name = "web"
kind = "http"
url = "http://{target}/"
interval = "200ms"
failure_threshold = 2
success_threshold = 2

[[component]]
name = "Website"
targets = ["web"]
"#
        ),
    )
    .unwrap();
    let probity = common::Running::start(&cfg);
    let addr = probity.addr;
    common::wait_for(Duration::from_secs(5), || {
        (common::get_json(addr, "/api/v2/components.json")["components"][0]["status"]
            == "operational")
            .then_some(())
    });
    up.store(false, std::sync::atomic::Ordering::SeqCst);
    let open = common::wait_for(Duration::from_secs(15), || {
        let v = common::get_json(addr, "/api/v2/incidents/unresolved.json");
        v["incidents"].as_array()?.first().cloned()
    });
    assert_eq!(open["name"], "Problems with Website");
    assert_eq!(open["impact"], "major");
    assert!(open["id"].as_str().unwrap().starts_with("auto"));
    let body = open["incident_updates"][0]["body"].as_str().unwrap();
    assert!(
        !body.contains("503") && !body.contains("127.0.0.1"),
        "no internals: {body}"
    );
    assert_eq!(
        common::get_json(addr, "/api/v2/components.json")["components"][0]["status"],
        "major_outage"
    );
    up.store(true, std::sync::atomic::Ordering::SeqCst);
    let done = common::wait_for(Duration::from_secs(15), || {
        let v = common::get_json(addr, "/api/v2/incidents.json");
        let i = v["incidents"].as_array()?.first()?.clone();
        (i["status"] == "resolved").then_some(i)
    });
    assert_eq!(done["id"], open["id"]);
    assert_eq!(done["incident_updates"].as_array().unwrap().len(), 2);
    assert_eq!(
        common::get_json(addr, "/api/v2/incidents.json")["incidents"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "one, not one per round"
    );
    probity.stop();
}
