//! Secrets configured into URLs (a feed's key, a webhook's token, credentials before a
//! host) never leave the process: not in the API, the log, metrics, the store file or an
//! exported evidence bundle, even when every request that carries them fails.

use crate::common;
use std::time::Duration;

const FEED_KEY: &str = "feedkey7Q2x9Wp4";
const HOOK_KEY: &str = "hookkey3Zr8Lm1";
const PASSWORD: &str = "passw0rdK5v6Ty";

#[test]
fn secrets_in_urls_appear_in_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let (target, up) = common::switchable_server();
    up.store(false, std::sync::atomic::Ordering::SeqCst);
    // Nothing listens there: every feed poll and every delivery fails, with an error.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let config = common::write_config(
        dir.path(),
        "",
        &format!(
            r#"[evidence]
checkpoint_interval = "1s"

[alerting]
max_backoff = "300ms"

[[target]]
name = "web"
provider = "acme"
kind = "http"
url = "http://{target}/"
interval = "200ms"
failure_threshold = 2

[[feed]]
name = "acme-status"
provider = "acme"
format = "statuspage"
url = "http://{closed}/api/v2/incidents.json?api_key=${{env:FEED_KEY}}"
interval = "1s"
timeout = "1s"

[[feed]]
name = "acme-private"
provider = "acme"
format = "statuspage"
url = "http://probity:${{env:FEED_PASSWORD}}@{closed}/api/v2/incidents.json"
interval = "1s"
timeout = "1s"

[[channel]]
name = "hook"
type = "webhook"
url = "http://{closed}/hook?token=${{env:HOOK_KEY}}"

[[alert]]
name = "web-down"
on = ["incident_opened"]
channels = ["hook"]
"#
        ),
    );
    let env = [
        ("FEED_KEY", FEED_KEY.to_string()),
        ("HOOK_KEY", HOOK_KEY.to_string()),
        ("FEED_PASSWORD", PASSWORD.to_string()),
        ("RUST_LOG", "debug".to_string()),
    ];
    let probity = common::Running::start_with_env(&config, &env);
    let addr = probity.addr;
    // Wait until the failures have happened: polls failed, a delivery attempt failed.
    common::wait_for(Duration::from_secs(20), || {
        let feeds = common::get_json(addr, "/api/v1/feeds");
        let alerts = common::get_json(addr, "/api/v1/alerts");
        let polled = feeds
            .as_array()?
            .iter()
            .all(|f| f["failures"].as_u64().unwrap_or(0) >= 1);
        let attempted = alerts
            .as_array()?
            .iter()
            .any(|a| a["attempts"].as_array().is_some_and(|t| !t.is_empty()));
        (polled && attempted).then_some(())
    });
    let mut outputs = Vec::new();
    for path in [
        "/api/v1/feeds",
        "/api/v1/alerts",
        "/api/v1/targets",
        "/api/v1/provider-incidents",
        "/metrics",
        "/api/v1/evidence/records?from=0&to=1000",
    ] {
        outputs.push((path.to_string(), common::get(addr, path).1));
    }
    // The errors are there, only without the secrets.
    assert!(outputs[0].1.contains("\"error\""), "{}", outputs[0].1);
    let log = probity.log.clone();
    assert!(probity.stop().success());
    let log = log.lock().unwrap().clone();
    assert!(
        log.contains("acme-status"),
        "the log speaks of the failing feed:\n{log}"
    );
    outputs.push(("the log".into(), log));

    let out = common::bin()
        .args(["evidence", "export", "--config", "probity.toml"])
        .args(["--from", "2000-01-01T00:00:00Z", "--out", "bundle.json"])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    outputs.push((
        "bundle".into(),
        std::fs::read_to_string(dir.path().join("bundle.json")).unwrap(),
    ));
    for f in ["probity.db", "probity.db-wal"] {
        if let Ok(bytes) = std::fs::read(dir.path().join("data").join(f)) {
            outputs.push((f.into(), String::from_utf8_lossy(&bytes).into_owned()));
        }
    }
    for (what, text) in &outputs {
        for secret in [FEED_KEY, HOOK_KEY, PASSWORD] {
            assert!(!text.contains(secret), "{what} shows a secret: {secret}");
        }
    }
}
