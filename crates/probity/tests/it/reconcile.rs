//! Reconciliation end to end, on the demo's local cloud: its status page posts the storage
//! outage late and edits it afterwards, and never mentions the cache outage. The API, the
//! metrics and `probity scorecard` must all say so.

use crate::common;

use std::time::Duration;

#[test]
fn the_demo_cloud_gets_the_scorecard_it_deserves() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let demo = common::bin()
        .args(["demo", "--fast", "--duration", "14s", "--listen"])
        .arg(addr.to_string())
        .arg("--data-dir")
        .arg(&data)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();

    // Wait until the cache outage is past its grace and the edit has been seen.
    let card = common::wait_for(Duration::from_secs(25), || {
        let v = common::try_get_json(addr, "/api/v1/scorecard?window=1h")?;
        let c = v.as_array()?.first()?.clone();
        (c["unacknowledged_incidents"] == 2 && c["changed_after_publication"] == 1).then_some(c)
    });
    assert_eq!(card["provider"], "demo-cloud");
    assert_eq!(card["window"], "1h");
    assert_eq!(card["acknowledged_incidents"], 1, "{card}");
    let rate = card["acknowledgment_rate"].as_f64().unwrap();
    assert!(rate > 0.0 && rate < 1.0, "{card}");
    assert!(
        card["unacknowledged_downtime_s"].as_f64().unwrap() >= 1.0,
        "{card}"
    );
    let lag = &card["disclosure_lag_s"];
    assert!(
        lag["p50"].as_f64().unwrap() > 0.5,
        "posted halfway through: {card}"
    );
    assert_eq!(lag["p50"], lag["max"], "one acknowledged incident");
    let measured = card["measured_availability"].as_f64().unwrap();
    let declared = card["declared_availability"].as_f64().unwrap();
    assert!(
        declared > measured,
        "the page claims better than was measured: {card}"
    );
    assert!(
        ["D", "F"].contains(&card["grade"].as_str().unwrap()),
        "{card}"
    );
    let services: Vec<&str> = card["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["service"].as_str().unwrap())
        .collect();
    assert_eq!(
        services,
        [
            "cache",
            "cdn",
            "compute",
            "dns",
            "object-storage",
            "storage",
            "web"
        ]
    );
    // The canary that silently changed: an integrity incident the page never declared.
    assert_eq!(
        (
            card["integrity_incidents"].as_u64(),
            card["integrity_unacknowledged"].as_u64()
        ),
        (Some(1), Some(1)),
        "{card}"
    );
    let blob = &card["services"][4];
    assert_eq!(blob["integrity_unacknowledged"], 1, "{blob}");
    // The cdn failed from one region only: no incident is held against the provider.
    let cdn = &card["services"][1];
    assert_eq!(cdn["observed_incidents"], 0, "{cdn}");
    assert_eq!(cdn["unacknowledged_incidents"], 0, "{cdn}");
    let cache = &card["services"][0];
    assert_eq!(
        (
            cache["unacknowledged_incidents"].as_u64(),
            cache["acknowledgment_rate"].as_f64()
        ),
        (Some(1), Some(0.0))
    );

    // The storage incident shows the declaration that covers it, with the lags.
    let incidents = common::get_json(addr, "/api/v1/incidents?status=all");
    let storage = incidents
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["target"] == "storage-api")
        .unwrap();
    let one = common::get_json(addr, &format!("/api/v1/incidents/{}", storage["id"]));
    assert_eq!(one["acknowledgment"], "acknowledged", "{one}");
    let d = &one["declarations"][0];
    assert_eq!(d["external_id"], "demo-storage-1");
    assert_eq!(d["feed"], "demo-status");
    assert_eq!(d["changed_after_publication"], true);
    assert!(
        d["detection_lead_s"].as_f64().unwrap() > 0.0,
        "a later start than observed: {d}"
    );
    assert!(d["disclosure_lag_s"].as_f64().unwrap() > 0.5, "{d}");
    // The page moved the start later after publishing: both starts are kept, the lead is
    // measured from the first, and each edit is listed with before and after.
    common::wait_for(Duration::from_secs(15), || {
        let one = common::try_get_json(addr, &format!("/api/v1/incidents/{}", storage["id"]))?;
        let d = one["declarations"][0].clone();
        (d["first_published_start"] != d["started_at"]).then_some(())
    });
    let one = common::get_json(addr, &format!("/api/v1/incidents/{}", storage["id"]));
    let d = &one["declarations"][0];
    assert_eq!(d["shortened_after_publication"], true, "{d}");
    let lead = d["detection_lead_s"].as_f64().unwrap();
    let edited = d["detection_lead_edited_s"].as_f64().unwrap();
    assert!(edited > lead, "the edit moved the start later: {d}");
    let edits = d["edits"].as_array().unwrap();
    let start_edit = edits.iter().find(|e| e["field"] == "started_at").unwrap();
    assert_eq!(start_edit["from"], d["first_published_start"], "{d}");
    assert_eq!(start_edit["to"], d["started_at"], "{d}");
    assert!(edits.iter().any(|e| e["field"] == "resolved_at"), "{d}");
    // The provider-incidents API keeps the first published values beside the current ones.
    let declared = common::get_json(addr, "/api/v1/provider-incidents");
    let p = declared
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["external_id"] == "demo-storage-1")
        .unwrap();
    assert_eq!(
        p["first_published"]["started_at"], d["first_published_start"],
        "{p}"
    );
    assert_ne!(p["first_published"]["started_at"], p["started_at"], "{p}");
    assert!(p["first_published"]["first_seen_at"].is_string());
    assert!(
        p["edits"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["field"] == "started_at"),
        "{p}"
    );

    let cache_inc = incidents
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["target"] == "cache-tcp")
        .unwrap();
    let one = common::get_json(addr, &format!("/api/v1/incidents/{}", cache_inc["id"]));
    assert_eq!(one["acknowledgment"], "unacknowledged", "{one}");
    assert_eq!(one["declarations"], serde_json::json!([]));
    // A degraded spell nobody declared is not held against the provider (include_degraded
    // is off), and is said to be so.
    let web = incidents
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["target"] == "web-https")
        .unwrap();
    let one = common::get_json(addr, &format!("/api/v1/incidents/{}", web["id"]));
    assert_eq!(one["acknowledgment"], "degraded_only", "{one}");

    // Metrics follow within one reconciliation round.
    common::wait_for(Duration::from_secs(10), || {
        let (_, m) = common::get(addr, "/metrics");
        m.contains("probity_provider_unacknowledged_incidents{provider=\"demo-cloud\"} 2")
            .then_some(())
    });
    let (_, m) = common::get(addr, "/metrics");
    assert!(
        m.contains(
            "probity_provider_integrity_unacknowledged_incidents{provider=\"demo-cloud\"} 1"
        ),
        "{m}"
    );
    assert!(
        m.contains(
            "probity_provider_disclosure_lag_seconds{provider=\"demo-cloud\",quantile=\"0.9\"}"
        ),
        "{m}"
    );
    assert!(
        m.contains("probity_provider_changed_after_publication{provider=\"demo-cloud\"} 1"),
        "{m}"
    );
    // The storage SLO: the outage burns the budget fast enough to page.
    let slo = common::get_json(addr, "/api/v1/slo");
    let s = &slo[0];
    assert_eq!(s["name"], "storage-availability");
    assert_eq!(s["objective_percent"], 99.5);
    assert!(
        s["budget_remaining"].as_f64().unwrap() < 0.0,
        "overspent: {s}"
    );
    assert_eq!(s["alerts"][0]["severity"], "page");
    assert_eq!(
        (
            s["alerts"][0]["long"].as_str(),
            s["alerts"][0]["short"].as_str()
        ),
        (Some("1h"), Some("5m"))
    );
    assert!(
        s["alerts"][0]["long_burn_rate"].as_f64().unwrap() >= 14.4,
        "{s}"
    );
    assert_eq!(s["alerts"][0]["firing"], true, "{s}");
    common::wait_for(Duration::from_secs(10), || {
        let (_, m) = common::get(addr, "/metrics");
        m.contains("probity_slo_alert_firing{slo=\"storage-availability\",severity=\"page\",long=\"1h\",short=\"5m\"} 1")
            .then_some(())
    });
    let (status, body) = common::get(addr, "/api/v1/scorecard?window=soon");
    assert_eq!(status, 400, "{body}");
    let (status, _) = common::get(addr, "/api/v1/scorecard?provider=nobody");
    assert_eq!(status, 404);

    // The demo ends by printing the scorecard; then the CLI reads the same from the store.
    let out = demo.wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(out.contains("provider / service     grade"), "{out}");
    // The edit after publication is narrated, with what moved.
    assert!(
        out.lines().any(|l| l.contains(
            "provider's status page edits \"Elevated error rates on Storage\" after publishing it: started_at"
        )),
        "{out}"
    );
    let config = data.join("demo.toml");
    let (code, json, err) = common::run(
        &[
            "scorecard",
            "--config",
            config.to_str().unwrap(),
            "--window",
            "1h",
            "--json",
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let c = &v[0];
    for field in [
        "provider",
        "window",
        "measured_availability",
        "declared_availability",
        "unacknowledged_incidents",
        "unacknowledged_downtime_s",
        "acknowledgment_rate",
        "disclosure_lag_s",
        "changed_after_publication",
        "grade",
    ] {
        assert!(c.get(field).is_some(), "{field} missing: {c}");
    }
    assert_eq!(c["unacknowledged_incidents"], 2);
    assert_eq!(
        c["disclosure_lag_s"]["p90"],
        card["disclosure_lag_s"]["p90"]
    );
    // Stated bounds give the same figures byte for byte: on the stopped store, a while
    // later, and after probity ran again (measuring past the window's end).
    let to = jiff::Timestamp::now().as_millisecond();
    let stamp = probity_ground::time::rfc3339;
    let (from_s, to_s) = (stamp(to - 3_600_000), stamp(to));
    let cfg = config.to_str().unwrap();
    let card_args = [
        "scorecard",
        "-c",
        cfg,
        "--from",
        &from_s,
        "--to",
        &to_s,
        "--json",
    ];
    // SLA minutes are whole: the hour up to the last minute boundary.
    let minute = to - to % 60_000;
    let (sla_from, sla_to) = (stamp(minute - 3_600_000), stamp(minute));
    let sla_args = [
        "sla", "report", "-c", cfg, "--from", &sla_from, "--to", &sla_to, "--format", "json",
    ];
    let figures = || {
        let (c1, card, e1) = common::run(&card_args, dir.path());
        let (c2, sla, e2) = common::run(&sla_args, dir.path());
        assert_eq!((c1, c2), (0, 0), "{e1}{e2}");
        (card, sla)
    };
    let first = figures();
    let v: serde_json::Value = serde_json::from_str(&first.0).unwrap();
    assert_eq!(v[0]["window"], "1h");
    assert_eq!(v[0]["unacknowledged_incidents"], 2, "{}", first.0);
    // The storage declaration was edited to read shorter, and is counted so.
    assert_eq!(
        (
            v[0]["changed_after_publication"].as_u64(),
            v[0]["shortened_after_publication"].as_u64()
        ),
        (Some(1), Some(1)),
        "{}",
        first.0
    );
    // The demo's status page declares nothing it did not observe: the list is empty, and
    // each term of the accuracy is shown.
    assert_eq!(
        v[0]["declared_not_observed"],
        serde_json::json!([]),
        "{}",
        first.0
    );
    let terms = v[0]["accuracy_terms"].as_array().unwrap();
    assert!(
        terms
            .iter()
            .any(|t| t["term"] == "unacknowledged" && t["error"] == 1.0),
        "{terms:?}"
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(figures(), first, "computed again later");
    // Run the server again on the same store (measuring after the window), stop it.
    let again = common::Running::start(&config);
    std::thread::sleep(Duration::from_millis(2500));
    again.stop();
    assert_eq!(figures(), first, "computed again after a restart");

    let (code, table, _) = common::run(
        &[
            "scorecard",
            "-c",
            config.to_str().unwrap(),
            "--window",
            "1h",
            "--provider",
            "demo-cloud",
        ],
        dir.path(),
    );
    assert_eq!(code, 0);
    let row = table.lines().nth(1).unwrap();
    assert!(row.starts_with("demo-cloud "), "{table}");
    let (code, _, err) = common::run(
        &[
            "scorecard",
            "-c",
            config.to_str().unwrap(),
            "--provider",
            "aws",
        ],
        dir.path(),
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("no target watches provider `aws` (providers: demo-cloud)"),
        "{err}"
    );
}

/// The scorecard's measured availability takes each minute by the target's quorum rule, as
/// SLA accounting does: with two vantages and one of them failing for 20 of 60 minutes, the
/// minute is down under `quorum = 1` (the worst vantage) and up under `quorum = 2`; never
/// the average of the two (which would be 100 of 120 results up).
#[test]
fn measured_availability_follows_the_quorum_rule() {
    use std::fmt::Write;
    let start = "2026-10-01T00:00:00Z".parse::<jiff::Timestamp>().unwrap();
    let mut history = String::new();
    for i in 0..60i64 {
        let at = start + jiff::SignedDuration::from_mins(i) + jiff::SignedDuration::from_secs(10);
        writeln!(
            history,
            r#"{{"target":"web","at":"{at}","ok":true,"latency_ms":5}}"#
        )
        .unwrap();
        let ok = !(10..30).contains(&i);
        writeln!(
            history,
            r#"{{"target":"web","at":"{at}","ok":{ok},"vantage":"office","latency_ms":5}}"#
        )
        .unwrap();
    }
    let availability = |quorum: u32| {
        let dir = tempfile::tempdir().unwrap();
        common::write_config_at(
            &dir.path().join("probity.toml"),
            format!(
                "[[target]]\nname = \"web\"\nkind = \"tcp\"\naddress = \"127.0.0.1:9\"\ninterval = \"1m\"\nprovider = \"acme\"\nquorum = {quorum}\n\n[[vantage]]\nname = \"office\"\ntargets = [\"web\"]\n"
            ),
        )
        .unwrap();
        std::fs::write(dir.path().join("h.jsonl"), &history).unwrap();
        let (code, _, err) = common::run(&["results", "import", "h.jsonl"], dir.path());
        assert_eq!(code, 0, "{err}");
        let (code, out, err) = common::run(
            &[
                "scorecard",
                "--from",
                "2026-10-01T00:00:00Z",
                "--to",
                "2026-10-01T01:00:00Z",
                "--json",
            ],
            dir.path(),
        );
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let cards = v.as_array().cloned().unwrap_or_else(|| vec![v.clone()]);
        let card = cards
            .iter()
            .find(|c| c["provider"] == "acme")
            .unwrap_or_else(|| panic!("{out}"))
            .clone();
        card["measured_availability"]
            .as_f64()
            .unwrap_or_else(|| panic!("{card}"))
    };
    // (The JSON carries six decimals.)
    assert!(
        (availability(1) - 40.0 / 60.0).abs() < 1e-6,
        "{}",
        availability(1)
    );
    assert_eq!(availability(2), 1.0);
}
