//! OpenTelemetry export against a real OTLP/HTTP receiver on loopback: probe spans with
//! their phases as children, API request spans, metrics; and nothing at all without
//! `[telemetry]`.

use crate::common;

use common::{Running, get, wait_for};
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Received = Arc<Mutex<Vec<(String, Value)>>>;

/// An OTLP/HTTP receiver: keeps every JSON export it is sent, by path.
fn receiver() -> (SocketAddr, Received) {
    let got: Received = Arc::default();
    let keep = got.clone();
    let app = axum::Router::new().route(
        "/v1/{signal}",
        axum::routing::post(
            move |axum::extract::Path(signal): axum::extract::Path<String>,
                  body: axum::body::Bytes| {
                let keep = keep.clone();
                async move {
                    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    keep.lock().unwrap().push((signal, v));
                    ([("content-type", "application/json")], "{}")
                }
            },
        ),
    );
    let addr = common::serve(app);
    (addr, got)
}

/// Every span received: (name, span JSON).
fn spans(got: &Received) -> Vec<Value> {
    got.lock()
        .unwrap()
        .iter()
        .filter(|(s, _)| s == "traces")
        .flat_map(|(_, v)| {
            v["resourceSpans"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .flat_map(|rs| {
                    rs["scopeSpans"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                        .into_iter()
                        .flat_map(|ss| ss["spans"].as_array().cloned().unwrap_or_default())
                })
        })
        .collect()
}

fn attr(span: &Value, key: &str) -> Option<Value> {
    span["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)
        .map(|a| a["value"].clone())
}

fn metric_names(got: &Received) -> Vec<String> {
    got.lock()
        .unwrap()
        .iter()
        .filter(|(s, _)| s == "metrics")
        .flat_map(|(_, v)| {
            let mut names = Vec::new();
            for rm in v["resourceMetrics"].as_array().into_iter().flatten() {
                for sm in rm["scopeMetrics"].as_array().into_iter().flatten() {
                    for m in sm["metrics"].as_array().into_iter().flatten() {
                        names.push(m["name"].as_str().unwrap_or("").to_string());
                    }
                }
            }
            names
        })
        .collect()
}

fn config(
    dir: &std::path::Path,
    web: SocketAddr,
    telemetry: Option<SocketAddr>,
) -> std::path::PathBuf {
    let path = dir.join("probity.toml");
    let t = telemetry
        .map(|a| {
            format!(
                "[telemetry]\notlp_endpoint = \"http://{a}\"\nservice_name = \"probity-test\"\nmetrics_interval = \"1s\"\n"
            )
        })
        .unwrap_or_default();
    common::write_config_at(
        &path,
        format!(
            "\n{t}\n[[target]]\nname = \"web\"\nkind = \"http\"\nurl = \"http://{web}/\"\ninterval = \"200ms\"\n"
        ),
    )
    .unwrap();
    path
}

#[test]
fn probes_and_requests_are_exported_over_otlp_and_nothing_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let (web, up) = common::switchable_server();
    let (otlp, got) = receiver();
    let server = Running::start(&config(dir.path(), web, Some(otlp)));
    let addr = server.addr;
    for _ in 0..3 {
        assert_eq!(get(addr, "/api/v1/targets").0, 200);
    }
    // A probe's span, with its phases as children in order.
    let probe = wait_for(Duration::from_secs(20), || {
        spans(&got)
            .into_iter()
            .find(|s| s["name"] == "probe web" && attr(s, "probity.health").is_some())
    });
    assert_eq!(
        attr(&probe, "probity.target").unwrap()["stringValue"],
        "web"
    );
    assert_eq!(
        attr(&probe, "probity.vantage").unwrap()["stringValue"],
        "local"
    );
    assert_eq!(attr(&probe, "probity.health").unwrap()["stringValue"], "up");
    let children: Vec<Value> = spans(&got)
        .into_iter()
        .filter(|s| s["parentSpanId"] == probe["spanId"] && s["traceId"] == probe["traceId"])
        .collect();
    let names: Vec<&str> = children
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["connect", "ttfb"],
        "plain HTTP to an IP: no dns, no tls"
    );
    let n = |v: &Value| v.as_str().unwrap().parse::<u64>().unwrap();
    assert_eq!(
        n(&children[0]["startTimeUnixNano"]),
        n(&probe["startTimeUnixNano"])
    );
    assert_eq!(
        n(&children[1]["startTimeUnixNano"]),
        n(&children[0]["endTimeUnixNano"])
    );
    assert!(n(&probe["endTimeUnixNano"]) >= n(&children[1]["endTimeUnixNano"]));
    // An API request's span.
    let request = wait_for(Duration::from_secs(20), || {
        spans(&got)
            .into_iter()
            .find(|s| s["name"] == "GET /api/v1/targets")
    });
    assert_eq!(
        attr(&request, "http.route").unwrap()["stringValue"],
        "/api/v1/targets"
    );
    assert_eq!(
        attr(&request, "http.response.status_code").unwrap()["intValue"],
        "200"
    );
    // A failing probe says so.
    up.store(false, Ordering::SeqCst);
    let failed = wait_for(Duration::from_secs(20), || {
        spans(&got).into_iter().find(|s| {
            s["name"] == "probe web"
                && attr(s, "probity.health").is_some_and(|h| h["stringValue"] == "down")
        })
    });
    assert_eq!(
        attr(&failed, "error.type").unwrap()["stringValue"],
        "http_status"
    );
    assert_eq!(failed["status"]["code"], 2, "an error status: {failed}");
    // Metrics, and the resource that names the service.
    wait_for(Duration::from_secs(20), || {
        let names = metric_names(&got);
        (names.iter().any(|n| n == "probity.probes")
            && names.iter().any(|n| n == "probity.probe.duration")
            && names.iter().any(|n| n == "http.server.request.duration"))
        .then_some(())
    });
    let first = got.lock().unwrap()[0].1.clone();
    let resource = if first["resourceSpans"].is_array() {
        &first["resourceSpans"][0]["resource"]
    } else {
        &first["resourceMetrics"][0]["resource"]
    };
    assert!(
        resource["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["key"] == "service.name" && a["value"]["stringValue"] == "probity-test"),
        "{resource}"
    );
    assert!(server.stop().success());

    // Without [telemetry]: nothing is sent, even with OpenTelemetry's own environment
    // variable pointing at a collector.
    let dir = tempfile::tempdir().unwrap();
    let (quiet, heard) = receiver();
    let server = Running::start_with_env(
        &config(dir.path(), web, None),
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{quiet}"))],
    );
    for _ in 0..3 {
        get(server.addr, "/api/v1/targets");
    }
    std::thread::sleep(Duration::from_secs(2));
    assert!(server.stop().success());
    assert!(heard.lock().unwrap().is_empty());
}
