//! Alerts against real receivers on loopback: a webhook receiver that checks signatures and
//! fails the first attempts, Slack- and PagerDuty-shaped receivers, and a receiver that is
//! down while probity is killed and restarted. Every alert arrives, with one idempotency
//! key per logical alert.

use crate::common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request a receiver got.
#[derive(Clone, Debug)]
struct Got {
    path: String,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

/// A receiver on `listener` that records every POST and answers 503 to the first
/// `fail_first` of those to `/hook`.
fn receiver(listener: std::net::TcpListener, fail_first: usize) -> Arc<Mutex<Vec<Got>>> {
    let got = Arc::new(Mutex::new(Vec::new()));
    let seen = got.clone();
    let count = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new().fallback(
        move |uri: axum::http::Uri, headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let (seen, count) = (seen.clone(), count.clone());
            async move {
                seen.lock().unwrap().push(Got {
                    path: uri.path().to_string(),
                    headers,
                    body: body.to_vec(),
                });
                if uri.path() == "/hook" && count.fetch_add(1, Ordering::SeqCst) < fail_first {
                    axum::http::StatusCode::SERVICE_UNAVAILABLE
                } else {
                    axum::http::StatusCode::ACCEPTED
                }
            }
        },
    );
    common::serve_on(listener, app);
    got
}

fn config(
    dir: &std::path::Path,
    target: SocketAddr,
    hook: SocketAddr,
    extra: &str,
) -> std::path::PathBuf {
    let path = dir.join("probity.toml");
    common::write_config_at(
        &path,
        format!(
            r#"
[alerting]
max_backoff = "300ms"
public_url = "https://probity.example.com"

[[target]]
name = "web"
provider = "acme"
kind = "http"
url = "http://{target}/"
interval = "200ms"
timeout = "1s"
failure_threshold = 2
success_threshold = 2

[[channel]]
name = "ops-hook"
type = "webhook"
url = "http://{hook}/hook"
secret = "${{file:hook.secret}}"

[[alert]]
name = "web-down"
on = ["incident_opened", "incident_resolved"]
providers = ["acme"]
channels = ["ops-hook"{extra_channels}]
{extra}"#,
            extra_channels = if extra.is_empty() {
                ""
            } else {
                ", \"chat\", \"pager\""
            },
        ),
    )
    .unwrap();
    std::fs::write(dir.join("hook.secret"), "s3cret\n").unwrap();
    path
}

fn start(config: &std::path::Path) -> common::Running {
    common::Running::start(config)
}

fn hmac_hex(secret: &str, body: &[u8]) -> String {
    probity_engine::alert::signature(secret, body)
}

fn bodies(got: &Mutex<Vec<Got>>, path: &str) -> Vec<(String, serde_json::Value, Got)> {
    got.lock()
        .unwrap()
        .iter()
        .filter(|g| g.path == path)
        .map(|g| {
            (
                g.headers["idempotency-key"].to_str().unwrap().to_string(),
                serde_json::from_slice(&g.body).unwrap(),
                g.clone(),
            )
        })
        .collect()
}

#[test]
fn alerts_are_signed_retried_and_delivered_to_every_channel() {
    let (target, up) = common::switchable_server();
    let hook_l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hook = hook_l.local_addr().unwrap();
    let got = receiver(hook_l, 2);
    let dir = tempfile::tempdir().unwrap();
    let extra = format!(
        r#"
[[channel]]
name = "chat"
type = "slack"
url = "http://{hook}/slack"

[[channel]]
name = "pager"
type = "pagerduty"
routing_key = "R0UT1NGKEY"
url = "http://{hook}/pagerduty"
"#
    );
    let cfg = config(dir.path(), target, hook, &extra);
    let probity = start(&cfg);
    let addr = probity.addr;
    up.store(false, Ordering::SeqCst);
    // The webhook fails twice (503) and is retried with the same key until it takes it.
    let opened = common::wait_for(Duration::from_secs(20), || {
        let b = bodies(&got, "/hook");
        let ok: Vec<_> = b
            .iter()
            .filter(|(_, v, _)| v["event"] == "incident_opened")
            .cloned()
            .collect();
        (ok.len() >= 3).then_some(ok)
    });
    let keys: std::collections::BTreeSet<&String> = opened.iter().map(|(k, _, _)| k).collect();
    assert_eq!(keys.len(), 1, "one idempotency key for every retry");
    let (key, body, raw) = &opened[0];
    assert_eq!(body["target"], "web");
    assert_eq!(body["event"], "incident_opened");
    assert!(body["incident_id"].is_i64());
    assert!(body["at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(body["rule"], "web-down");
    assert_eq!(&body["idempotency_key"], key.as_str());
    assert!(
        body["url"]
            .as_str()
            .unwrap()
            .starts_with("https://probity.example.com/api/v1/incidents/")
    );
    assert_eq!(
        raw.headers["x-probity-signature"].to_str().unwrap(),
        hmac_hex("s3cret", &raw.body),
        "the signature is HMAC-SHA256 of the raw body"
    );
    assert_ne!(hmac_hex("wrong", &raw.body), hmac_hex("s3cret", &raw.body));
    // Slack gets a sentence; PagerDuty a trigger with a stable dedup key.
    let slack = common::wait_for(Duration::from_secs(10), || {
        bodies(&got, "/slack").into_iter().next()
    });
    let text = slack.1["text"].as_str().unwrap();
    assert!(text.starts_with("probity: web is down since "), "{text}");
    assert!(
        text.contains("http_status: [STATUS] < 400 (got 503)"),
        "{text}"
    );
    let pd = common::wait_for(Duration::from_secs(10), || {
        bodies(&got, "/pagerduty").into_iter().next()
    });
    assert_eq!(pd.1["routing_key"], "R0UT1NGKEY");
    assert_eq!(pd.1["event_action"], "trigger");
    let dedup = pd.1["dedup_key"].as_str().unwrap().to_string();
    assert_eq!(dedup, format!("probity-incident-{}", body["incident_id"]));
    assert_eq!(pd.1["payload"]["severity"], "critical");
    // Every delivery names itself as alert delivery (it once borrowed the feed poller's).
    for (_, _, g) in [&opened[0], &slack, &pd] {
        let ua = g.headers["user-agent"].to_str().unwrap();
        assert!(
            ua.starts_with("probity/") && ua.ends_with("(alert delivery)"),
            "{ua}"
        );
    }

    // Recovery: a resolve everywhere, PagerDuty's on the same dedup key.
    up.store(true, Ordering::SeqCst);
    common::wait_for(Duration::from_secs(20), || {
        let pd = bodies(&got, "/pagerduty");
        pd.iter()
            .any(|(_, v, _)| v["event_action"] == "resolve" && v["dedup_key"] == dedup.as_str())
            .then_some(())
    });
    common::wait_for(Duration::from_secs(10), || {
        bodies(&got, "/hook")
            .iter()
            .any(|(_, v, _)| v["event"] == "incident_resolved")
            .then_some(())
    });

    // The API shows each alert with its attempts.
    let alerts = common::wait_for(Duration::from_secs(10), || {
        let a = common::get_json(addr, "/api/v1/alerts");
        (a.as_array()?.len() == 6 && a.as_array()?.iter().all(|x| x["state"] == "delivered"))
            .then_some(a)
    });
    let hook_open = alerts
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["channel"] == "ops-hook" && a["event"] == "incident_opened")
        .unwrap();
    let attempts = hook_open["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 3, "{hook_open}");
    assert_eq!(
        (
            attempts[0]["ok"].as_bool(),
            attempts[0]["http_status"].as_u64()
        ),
        (Some(false), Some(503))
    );
    assert_eq!(
        (
            attempts[2]["ok"].as_bool(),
            attempts[2]["http_status"].as_u64()
        ),
        (Some(true), Some(202))
    );
    assert_eq!(hook_open["idempotency_key"], key.as_str());
    probity.stop();
}

#[test]
fn a_kill_before_delivery_loses_nothing() {
    let (target, up) = common::switchable_server();
    // The receiver's port, closed for now: the receiver is down.
    let port = common::ClosedPort::new();
    let hook = port.addr;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), target, hook, "");
    let probity = start(&cfg);
    let addr = probity.addr;
    up.store(false, Ordering::SeqCst);
    // The incident opens; its alert waits in the outbox, failing to connect.
    let pending = common::wait_for(Duration::from_secs(60), || {
        let a = common::get_json(addr, "/api/v1/alerts");
        let a = a.as_array()?.first()?.clone();
        (a["state"] == "pending" && !a["attempts"].as_array()?.is_empty()).then_some(a)
    });
    assert!(
        pending["last_error"].as_str().unwrap().contains("onnect"),
        "{pending}"
    );
    probity.kill();

    // The receiver comes back; probity restarts and delivers what the outbox holds.
    let got = receiver(port.open(), 0);
    let probity = start(&cfg);
    let opened = common::wait_for(Duration::from_secs(60), || {
        let b = bodies(&got, "/hook");
        let o: Vec<_> = b
            .into_iter()
            .filter(|(_, v, _)| v["event"] == "incident_opened")
            .collect();
        (!o.is_empty()).then_some(o)
    });
    let keys: std::collections::BTreeSet<String> =
        opened.iter().map(|(k, _, _)| k.clone()).collect();
    assert_eq!(keys.len(), 1, "exactly one logical alert");
    assert_eq!(
        keys.into_iter().next().unwrap(),
        pending["idempotency_key"].as_str().unwrap()
    );
    let after = common::wait_for(Duration::from_secs(30), || {
        let a = common::get_json(probity.addr, "/api/v1/alerts");
        let a = a
            .as_array()?
            .iter()
            .find(|x| x["id"] == pending["id"])?
            .clone();
        (a["state"] == "delivered").then_some(a)
    });
    assert!(after["attempts"].as_array().unwrap().len() >= 2, "{after}");
    probity.stop();
}

#[test]
fn a_missed_heartbeat_alerts_as_such() {
    let hook_l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hook = hook_l.local_addr().unwrap();
    let got = receiver(hook_l, 0);
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("probity.toml");
    common::write_config_at(
        &cfg,
        format!(
            r#"
[[target]]
name = "cron"
kind = "heartbeat"
interval = "500ms"
grace = "200ms"
token = "cron-token-0123456789abcdef"

[[channel]]
name = "ops-hook"
type = "webhook"
url = "http://{hook}/hook"

[[alert]]
name = "jobs"
on = ["heartbeat_missed"]
channels = ["ops-hook"]
"#
        ),
    )
    .unwrap();
    let probity = start(&cfg);
    let missed = common::wait_for(Duration::from_secs(10), || {
        bodies(&got, "/hook").into_iter().next()
    });
    assert_eq!(missed.1["event"], "heartbeat_missed");
    assert_eq!(missed.1["target"], "cron");
    assert!(
        missed.1["cause"]
            .as_str()
            .unwrap()
            .contains("no ping since"),
        "{}",
        missed.1
    );
    assert!(
        missed.0.contains("-heartbeat_missed-jobs-ops-hook"),
        "{}",
        missed.0
    );
    assert!(
        missed.2.headers.get("x-probity-signature").is_none(),
        "no secret, no signature"
    );
    probity.stop();
}

#[test]
fn unacknowledged_incidents_escalate_and_remind_until_acknowledged() {
    let (target, up) = common::switchable_server();
    let hook_l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hook = hook_l.local_addr().unwrap();
    let got = receiver(hook_l, 0);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("api.token"), "writer-token-0123456789\n").unwrap();
    let cfg = dir.path().join("probity.toml");
    common::write_config_at(
        &cfg,
        format!(
            r#"api_token = "${{file:api.token}}"

[alerting]
max_backoff = "300ms"

[[target]]
name = "web"
kind = "http"
url = "http://{target}/"
interval = "200ms"
failure_threshold = 2

[[channel]]
name = "first"
type = "webhook"
url = "http://{hook}/first"

[[channel]]
name = "second"
type = "webhook"
url = "http://{hook}/second"

[[alert]]
name = "web"
on = ["incident_opened"]
channels = ["first"]
escalate_after = "1s"
escalate_to = ["second"]
remind_every = "1s"
"#
        ),
    )
    .unwrap();
    let probity = start(&cfg);
    let addr = probity.addr;
    up.store(false, Ordering::SeqCst);
    // Opened to the first channel; escalated to the second; reminded on the first.
    let escalated = common::wait_for(Duration::from_secs(15), || {
        bodies(&got, "/second").into_iter().next()
    });
    assert_eq!(escalated.1["event"], "incident_escalated");
    assert!(
        escalated.0.ends_with("-escalated-web-second"),
        "{}",
        escalated.0
    );
    let id = escalated.1["incident_id"].as_i64().unwrap();
    common::wait_for(Duration::from_secs(10), || {
        bodies(&got, "/first")
            .iter()
            .any(|(_, v, _)| v["event"] == "incident_reminder")
            .then_some(())
    });
    // Writes need the token.
    let (status, body) = common::post_json(addr, &format!("/api/v1/incidents/{id}/ack"), None, "");
    assert_eq!(status, 401, "{body}");
    let (status, body) = common::post_json(
        addr,
        &format!("/api/v1/incidents/{id}/ack"),
        Some("wrong-token-0123456789"),
        "",
    );
    assert_eq!(status, 401, "{body}");
    let (status, body) = common::post_json(
        addr,
        &format!("/api/v1/incidents/{id}/ack"),
        Some("writer-token-0123456789"),
        r#"{"by": "alice", "note": "looking"}"#,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["by"].as_str(), body["already"].as_bool()),
        (Some("alice"), Some(false))
    );
    let inc = common::get_json(addr, &format!("/api/v1/incidents/{id}"));
    assert_eq!(inc["acknowledged"]["by"], "alice");
    // No reminder is written after the acknowledgment (one in flight may still land).
    std::thread::sleep(Duration::from_millis(1500));
    let before = bodies(&got, "/first").len();
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(bodies(&got, "/first").len(), before, "reminders stopped");
    assert_eq!(bodies(&got, "/second").len(), 1, "one escalation");
    probity.stop();
    // The CLI sees the acknowledgment; an unknown incident is an error.
    let (code, out, err) = common::run(
        &["ack", "-c", "probity.toml", &id.to_string(), "--by", "bob"],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!(
            "incident {id} on web was already acknowledged by alice"
        )),
        "{out}"
    );
    let (code, _, err) = common::run(&["ack", "-c", "probity.toml", "9999"], dir.path());
    assert_eq!(code, 2);
    assert!(err.contains("no incident 9999"), "{err}");
}

#[test]
fn writes_are_off_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("probity.toml");
    common::write_config_at(&cfg, "").unwrap();
    let probity = start(&cfg);
    let (status, body) = common::post_json(
        probity.addr,
        "/api/v1/incidents/1/ack",
        Some("anything-at-all-0123"),
        "",
    );
    assert_eq!(status, 401);
    assert!(
        body["error"]["message"].as_str().unwrap().contains(
            "none exists: set [server] api_token or make one with `probity token create`"
        ),
        "{body}"
    );
    probity.stop();
}

/// A real SMTP server on loopback (Python's aiosmtpd, installed by `.ci/run`), writing what
/// it receives into a maildir. `None` (the test says it skipped) where it is not installed,
/// unless `PROBITY_REQUIRE_SMTP` is set, as in CI.
fn smtp_server(maildir: &std::path::Path) -> Option<(std::process::Child, u16)> {
    let available = std::process::Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .status()
        .is_ok_and(|s| s.success());
    if !available {
        assert!(
            std::env::var_os("PROBITY_REQUIRE_SMTP").is_none(),
            "aiosmtpd is required (pip install aiosmtpd==1.4.6)"
        );
        common::skipped("the email delivery test: aiosmtpd is not installed");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new("python3")
        .args([
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            &format!("127.0.0.1:{port}"),
            "-c",
            "aiosmtpd.handlers.Mailbox",
        ])
        .arg(maildir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    common::wait_for(Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", port))
            .ok()
            .map(|_| ())
    });
    Some((child, port))
}

#[test]
fn email_alerts_reach_a_real_smtp_server() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("mail");
    let Some((mut smtp, port)) = smtp_server(&maildir) else {
        return;
    };
    let (target, up) = common::switchable_server();
    let cfg = dir.path().join("probity.toml");
    common::write_config_at(
        &cfg,
        format!(
            r#"
[[target]]
name = "web"
kind = "http"
url = "http://{target}/"
interval = "200ms"
failure_threshold = 2

[[channel]]
name = "mail"
type = "email"
smtp_host = "127.0.0.1"
smtp_port = {port}
tls = "none"
from = "probity@example.com"
to = ["oncall@example.com", "sre@example.com"]

[[alert]]
name = "web"
on = ["incident_opened"]
channels = ["mail"]
"#
        ),
    )
    .unwrap();
    let probity = start(&cfg);
    up.store(false, Ordering::SeqCst);
    let mail = common::wait_for(Duration::from_secs(15), || {
        let new = std::fs::read_dir(maildir.join("new")).ok()?;
        let files: Vec<_> = new.filter_map(|e| e.ok()).collect();
        let f = files.first()?;
        std::fs::read_to_string(f.path()).ok()
    });
    probity.stop();
    let _ = smtp.kill();
    let _ = smtp.wait();
    assert!(mail.contains("From: probity@example.com"), "{mail}");
    assert!(
        mail.contains("oncall@example.com") && mail.contains("sre@example.com"),
        "{mail}"
    );
    assert!(
        mail.contains("Subject: probity: web is down since "),
        "{mail}"
    );
    assert!(
        mail.contains("-incident_opened-web-mail@probity>"),
        "the Message-ID carries the key: {mail}"
    );
    assert!(mail.contains("\"event\": \"incident_opened\""), "{mail}");
}

#[test]
fn maintenance_silences_alerts_and_shows_on_the_incident() {
    let (target, up) = common::switchable_server();
    let hook_l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hook = hook_l.local_addr().unwrap();
    let got = receiver(hook_l, 0);
    let dir = tempfile::tempdir().unwrap();
    let now = jiff::Timestamp::now();
    let start = now - jiff::SignedDuration::from_hours(1);
    let cfg = config(dir.path(), target, hook, "");
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str(&format!(
        "\n[[maintenance]]\nname = \"deploy\"\nstart = \"{start}\"\nduration = \"2h\"\ntargets = [\"web\"]\n"
    ));
    std::fs::write(&cfg, text).unwrap();
    let probity = start_probity(&cfg);
    let addr = probity.addr;
    up.store(false, Ordering::SeqCst);
    let inc = common::wait_for(Duration::from_secs(15), || {
        let i = common::get_json(addr, "/api/v1/incidents?status=open");
        i.as_array()?.first().cloned()
    });
    let one = common::get_json(addr, &format!("/api/v1/incidents/{}", inc["id"]));
    assert_eq!(one["maintenance"], serde_json::json!(["deploy"]));
    std::thread::sleep(Duration::from_secs(2));
    assert!(bodies(&got, "/hook").is_empty(), "silenced");
    assert_eq!(
        common::get_json(addr, "/api/v1/alerts"),
        serde_json::json!([])
    );
    probity.stop();
}

fn start_probity(cfg: &std::path::Path) -> common::Running {
    start(cfg)
}

#[test]
fn provider_declarations_and_expiring_certificates_alert_once() {
    let hook_l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hook = hook_l.local_addr().unwrap();
    let got = receiver(hook_l, 0);
    let dir = tempfile::tempdir().unwrap();
    // A local cloud whose HTTPS certificate expires in 10 days.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let cloud = rt
        .block_on(probity::demo::cloud::Cloud::start(
            probity::demo::cloud::Script {
                cert_days: 10,
                ..probity::demo::cloud::Script::healthy()
            },
            dir.path(),
        ))
        .unwrap();
    // A status page declaring an open incident on the API.
    let now = jiff::Timestamp::now();
    let page = format!(
        r#"{{"page":{{"id":"acme","name":"Acme","url":"https://status.acme.test"}},"incidents":[{{"id":"inc-1","name":"Elevated API errors","status":"investigating","impact":"major","created_at":"{now}","updated_at":"{now}","started_at":"{now}","shortlink":"https://stspg.io/x","components":[{{"name":"API"}}],"incident_updates":[]}}]}}"#
    );
    let feed_l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let feed = feed_l.local_addr().unwrap();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for conn in feed_l.incoming() {
            let Ok(mut c) = conn else { continue };
            let mut buf = [0u8; 2048];
            let _ = c.read(&mut buf);
            let _ = write!(
                c,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                page.len()
            );
        }
    });
    let cfg = dir.path().join("probity.toml");
    common::write_config_at(
        &cfg,
        format!(
            r#"
[[target]]
name = "api"
provider = "acme"
service = "API"
kind = "http"
url = "https://localhost:{https}/health"
ca_file = "demo-ca.pem"
interval = "300ms"

[[feed]]
name = "acme-status"
provider = "acme"
format = "statuspage"
url = "http://{feed}/api/v2/incidents.json"
interval = "1s"

[[channel]]
name = "ops-hook"
type = "webhook"
url = "http://{hook}/hook"

[[alert]]
name = "early-warning"
on = ["provider_declared", "cert_expiry"]
cert_expiry_within = "14d"
channels = ["ops-hook"]
"#,
            https = cloud.https.port()
        ),
    )
    .unwrap();
    let probity = start(&cfg);
    let both = common::wait_for(Duration::from_secs(15), || {
        let b = bodies(&got, "/hook");
        let d = b
            .iter()
            .find(|(_, v, _)| v["event"] == "provider_declared")?
            .clone();
        let c = b
            .iter()
            .find(|(_, v, _)| v["event"] == "cert_expiry")?
            .clone();
        Some((d, c))
    });
    let (d, c) = both;
    assert_eq!(d.1["title"], "Elevated API errors");
    // Every body has event, target, incident_id and at (null where it does not apply).
    for (_, v, _) in [&d, &c] {
        for k in ["event", "target", "incident_id", "at"] {
            assert!(v.get(k).is_some(), "{k} missing: {v}");
        }
    }
    assert_eq!(d.1["targets"], serde_json::json!(["api"]));
    assert_eq!(
        d.0,
        "provider-acme-status-inc-1-provider_declared-early-warning-ops-hook"
    );
    assert_eq!(c.1["target"], "api");
    let days = c.1["days_left"].as_f64().unwrap();
    assert!((9.0..=10.1).contains(&days), "{days}");
    // Still true a few seconds later, but each was sent once.
    std::thread::sleep(Duration::from_secs(3));
    let b = bodies(&got, "/hook");
    assert_eq!(
        b.iter()
            .filter(|(_, v, _)| v["event"] == "provider_declared")
            .count(),
        1
    );
    assert_eq!(
        b.iter()
            .filter(|(_, v, _)| v["event"] == "cert_expiry")
            .count(),
        1
    );
    probity.stop();
    drop(cloud);
    drop(rt);
}

#[test]
fn unacknowledged_outages_and_slo_burn_alert() {
    let (target, up) = common::switchable_server();
    let hook_l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hook = hook_l.local_addr().unwrap();
    let got = receiver(hook_l, 0);
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("probity.toml");
    common::write_config_at(
        &cfg,
        format!(
            r#"
[reconcile]
min_duration = "1s"
grace = "1s"
tolerance = "1s"

[[target]]
name = "web"
provider = "acme"
kind = "http"
url = "http://{target}/"
interval = "200ms"
failure_threshold = 2

[[slo]]
name = "web-availability"
targets = ["web"]
objective = 99.0

[[channel]]
name = "ops-hook"
type = "webhook"
url = "http://{hook}/hook"

[[alert]]
name = "word-and-budget"
on = ["unacknowledged", "slo_burn"]
channels = ["ops-hook"]
"#
        ),
    )
    .unwrap();
    let probity = start(&cfg);
    up.store(false, Ordering::SeqCst);
    let (u, b) = common::wait_for(Duration::from_secs(30), || {
        let all = bodies(&got, "/hook");
        let u = all
            .iter()
            .find(|(_, v, _)| v["event"] == "unacknowledged")?
            .clone();
        let b = all
            .iter()
            .find(|(_, v, _)| v["event"] == "slo_burn")?
            .clone();
        Some((u, b))
    });
    assert_eq!(u.1["target"], "web");
    assert!(
        u.0.starts_with(&format!("incident-{}-unacknowledged-", u.1["incident_id"])),
        "{}",
        u.0
    );
    assert_eq!(b.1["slo"], "web-availability");
    assert_eq!(b.1["severity"], "page");
    assert!(b.1["long_burn_rate"].as_f64().unwrap() >= 14.4, "{}", b.1);
    std::thread::sleep(Duration::from_secs(2));
    let all = bodies(&got, "/hook");
    assert_eq!(
        all.iter()
            .filter(|(_, v, _)| v["event"] == "unacknowledged")
            .count(),
        1,
        "once per incident"
    );
    probity.stop();
}

#[test]
fn an_unknown_alert_event_is_refused_with_a_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.toml"),
        "[[channel]]\nname = \"c\"\ntype = \"webhook\"\nurl = \"http://x/\"\n\n[[alert]]\nname = \"a\"\non = [\"incident_opend\"]\nchannels = [\"c\", \"d\"]\n",
    )
    .unwrap();
    let (code, _, err) = common::run(&["check", "--config", "p.toml"], dir.path());
    assert_eq!(code, 2);
    assert!(
        err.contains(
            "p.toml:8:7: alert `a`: unknown event `incident_opend`; did you mean `incident_opened`?"
        ),
        "{err}"
    );
    assert!(err.contains("alert `a`: no [[channel]] named `d`"), "{err}");
}
