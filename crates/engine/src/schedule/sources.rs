//! Bring your own probes: `[[source]] kind = "prometheus"` reads what blackbox_exporter
//! measured from a Prometheus server's HTTP query API and records it as results of probity
//! targets (`kind = "external"`), under the source's name as their vantage.
//!
//! Every read asks for the raw samples of the last few intervals (`metric[window]`), so a
//! slow or missed read loses nothing; each sample becomes one result whose id is
//! `<source>:<instance>:<sample time>`, so the overlap between reads (and a restart) is
//! stored once. Series read: `probe_success` (up or down), `probe_duration_seconds`
//! (total), `probe_http_duration_seconds` by phase (`resolve` → dns, `connect`, `tls`,
//! `processing` → time to first byte), `probe_dns_lookup_time_seconds` and
//! `probe_http_status_code` (the cause of a failure).

use crate::probe::ProbeOutput;
use crate::record::{Pushed, PushedItem};
use probity_core::result::{Cause, ErrorClass, Health, Phases};
use probity_ground::config::{SourceConfig, Target};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// One series of a range-vector answer: its labels and `(Unix ms, value)` points.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub labels: BTreeMap<String, String>,
    pub points: Vec<(i64, f64)>,
}

/// Reads a Prometheus `/api/v1/query` answer holding a matrix (a range vector). An error
/// answer, another result type or a malformed body is an error that says which.
pub fn parse_matrix(body: &[u8]) -> Result<Vec<Series>, String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    match v["status"].as_str() {
        Some("success") => {}
        Some("error") => {
            return Err(format!(
                "Prometheus answered {}: {}",
                v["errorType"].as_str().unwrap_or("an error"),
                v["error"].as_str().unwrap_or("")
            ));
        }
        _ => return Err("not a Prometheus query answer (no `status`)".into()),
    }
    let data = &v["data"];
    if data["resultType"] != "matrix" {
        return Err(format!(
            "expected a matrix (a range vector), got {}",
            data["resultType"]
        ));
    }
    let mut out = Vec::new();
    for (i, s) in data["result"].as_array().into_iter().flatten().enumerate() {
        let labels = s["metric"]
            .as_object()
            .ok_or_else(|| format!("result {i}: no `metric` object"))?
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
            .collect();
        let mut points = Vec::new();
        for (j, p) in s["values"].as_array().into_iter().flatten().enumerate() {
            let ts = p[0]
                .as_f64()
                .filter(|t| t.is_finite() && *t >= 0.0 && *t < 1e11)
                .ok_or_else(|| format!("result {i}, point {j}: the time is not a Unix time"))?;
            let value: f64 = p[1]
                .as_str()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| format!("result {i}, point {j}: the value is not a number"))?;
            points.push(((ts * 1000.0).round() as i64, value));
        }
        out.push(Series { labels, points });
    }
    Ok(out)
}

/// The samples of one instance, by metric, turned into probe outputs (oldest first).
pub fn outputs(
    success: &[(i64, f64)],
    duration: &[(i64, f64)],
    http_phases: &[(String, Vec<(i64, f64)>)],
    dns_lookup: &[(i64, f64)],
    status_code: &[(i64, f64)],
) -> Vec<ProbeOutput> {
    let at = |series: &[(i64, f64)], ts: i64| {
        series
            .iter()
            .find(|(t, _)| *t == ts)
            .map(|(_, v)| *v)
            .filter(|v| v.is_finite() && *v >= 0.0)
    };
    let phase = |name: &str, ts: i64| {
        http_phases
            .iter()
            .find(|(p, _)| p == name)
            .and_then(|(_, s)| at(s, ts))
            .map(|s| s * 1000.0)
    };
    let mut out: Vec<ProbeOutput> = success
        .iter()
        .map(|&(ts, v)| {
            let health = if v >= 1.0 { Health::Up } else { Health::Down };
            let cause = (health == Health::Down).then(|| match at(status_code, ts) {
                Some(code) if code >= 1.0 => Cause {
                    class: ErrorClass::HttpStatus,
                    detail: format!("HTTP {}", code as u16),
                },
                _ => Cause {
                    class: ErrorClass::Unknown,
                    detail: "probe_success 0 (blackbox_exporter did not say why)".into(),
                },
            });
            ProbeOutput {
                at_ms: ts,
                phases: Phases {
                    dns_ms: phase("resolve", ts).or(at(dns_lookup, ts).map(|s| s * 1000.0)),
                    connect_ms: phase("connect", ts),
                    tls_ms: phase("tls", ts),
                    ttfb_ms: phase("processing", ts),
                    total_ms: at(duration, ts).map(|s| s * 1000.0),
                },
                health,
                cause,
                details: Default::default(),
                observation: Default::default(),
            }
        })
        .collect();
    out.sort_by_key(|o| o.at_ms);
    out
}

/// A label matcher's value, quoted for PromQL.
fn quote(v: &str) -> String {
    format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Reads every source on its interval until `shutdown`, handing results to the recorder.
pub async fn run(
    sources: Vec<SourceConfig>,
    targets: Arc<Vec<Arc<Target>>>,
    pushes: mpsc::Sender<Pushed>,
    shutdown: watch::Receiver<bool>,
) {
    let mut tasks = tokio::task::JoinSet::new();
    for s in sources {
        tasks.spawn(poll(s, targets.clone(), pushes.clone(), shutdown.clone()));
    }
    while tasks.join_next().await.is_some() {}
}

async fn poll(
    source: SourceConfig,
    targets: Arc<Vec<Arc<Target>>>,
    pushes: mpsc::Sender<Pushed>,
    mut shutdown: watch::Receiver<bool>,
) {
    let client =
        match probity_ground::http_client::builder(probity_ground::http_client::Purpose::Sources)
            .timeout(source.timeout.as_std())
            .build()
        {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(source = %source.name, error = %e, "cannot make an HTTP client");
                return;
            }
        };
    // Read a few intervals back each time: a read that fails or runs late loses nothing.
    let window_s = (source.interval.as_millis() * 4 / 1000).max(60);
    loop {
        for (name, instance) in &source.targets {
            let Some(target) = targets.iter().find(|t| &t.name == name).cloned() else {
                continue;
            };
            match read(&client, &source, instance, window_s).await {
                Ok(outs) if !outs.is_empty() => {
                    let items = outs
                        .into_iter()
                        .map(|o| PushedItem {
                            origin: format!("{}:{}:{}", source.name, instance, o.at_ms),
                            target: target.clone(),
                            output: o,
                            unmeasured: false,
                            clock_offset_ms: None,
                        })
                        .collect();
                    let (reply, answer) = tokio::sync::oneshot::channel();
                    if pushes
                        .send(Pushed {
                            vantage: source.name.clone(),
                            items,
                            reply,
                        })
                        .await
                        .is_err()
                    {
                        return;
                    }
                    match answer.await {
                        Ok(Ok(r)) if r.accepted > 0 => {
                            tracing::debug!(source = %source.name, target = %name, new = r.accepted, "read results")
                        }
                        // The next read covers the same samples again (reads reach back
                        // several intervals), so nothing is lost.
                        Ok(Err(refused)) => {
                            tracing::warn!(source = %source.name, target = %name, %refused, "results refused; read again next time")
                        }
                        _ => {}
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(source = %source.name, target = %name, error = %e, "could not read the source")
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(source.interval.as_std()) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}

/// The results of one instance over the last `window_s` seconds.
async fn read(
    client: &reqwest::Client,
    source: &SourceConfig,
    instance: &str,
    window_s: u64,
) -> Result<Vec<ProbeOutput>, String> {
    let mut selector = format!("instance={}", quote(instance));
    if let Some(job) = &source.job {
        selector.push_str(&format!(",job={}", quote(job)));
    }
    let mut got: HashMap<&str, Vec<Series>> = HashMap::new();
    for metric in [
        "probe_success",
        "probe_duration_seconds",
        "probe_http_duration_seconds",
        "probe_dns_lookup_time_seconds",
        "probe_http_status_code",
    ] {
        let mut url = reqwest::Url::parse(&format!(
            "{}/api/v1/query",
            source.url.trim_end_matches('/')
        ))
        .map_err(|e| format!("the source's url: {e}"))?;
        url.query_pairs_mut()
            .append_pair("query", &format!("{metric}{{{selector}}}[{window_s}s]"));
        let resp = client.get(url).send().await.map_err(|e| {
            format!(
                "{}: {}",
                source.display,
                probity_ground::http_client::describe(e)
            )
        })?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| {
            format!(
                "{}: {}",
                source.display,
                probity_ground::http_client::describe(e)
            )
        })?;
        if !status.is_success() && status.as_u16() != 400 && status.as_u16() != 422 {
            return Err(format!("{} answered HTTP {status}", source.display));
        }
        got.insert(metric, parse_matrix(&body)?);
    }
    let one = |m: &str| -> Vec<(i64, f64)> {
        got.get(m)
            .and_then(|s| s.first())
            .map(|s| s.points.clone())
            .unwrap_or_default()
    };
    let phases: Vec<(String, Vec<(i64, f64)>)> = got
        .get("probe_http_duration_seconds")
        .into_iter()
        .flatten()
        .filter_map(|s| Some((s.labels.get("phase")?.clone(), s.points.clone())))
        .collect();
    Ok(outputs(
        &one("probe_success"),
        &one("probe_duration_seconds"),
        &phases,
        &one("probe_dns_lookup_time_seconds"),
        &one("probe_http_status_code"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_matrix_answer_becomes_series_and_errors_say_what() {
        let body = br#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"probe_success","instance":"http://x/","job":"blackbox"},"values":[[1795000000.5,"1"],[1795000001.5,"0"]]}]}}"#;
        let s = parse_matrix(body).unwrap();
        assert_eq!(s[0].labels["instance"], "http://x/");
        assert_eq!(
            s[0].points,
            vec![(1_795_000_000_500, 1.0), (1_795_000_001_500, 0.0)]
        );
        let err = parse_matrix(
            br#"{"status":"error","errorType":"bad_data","error":"parse error at char 3"}"#,
        )
        .unwrap_err();
        assert_eq!(err, "Prometheus answered bad_data: parse error at char 3");
        assert!(
            parse_matrix(br#"{"status":"success","data":{"resultType":"vector","result":[]}}"#)
                .unwrap_err()
                .contains("expected a matrix")
        );
        assert!(parse_matrix(b"<html>").unwrap_err().starts_with("not JSON"));
        assert!(parse_matrix(br#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[["x","1"]]}]}}"#).unwrap_err().contains("point 0"));
    }

    #[test]
    fn samples_become_results_with_phases_and_causes() {
        let phases = vec![
            ("resolve".to_string(), vec![(1000, 0.001)]),
            ("connect".to_string(), vec![(1000, 0.002), (2000, 0.003)]),
            ("processing".to_string(), vec![(1000, 0.010)]),
        ];
        let out = outputs(
            &[(2000, 0.0), (1000, 1.0)],
            &[(1000, 0.015), (2000, 0.004)],
            &phases,
            &[],
            &[(1000, 200.0), (2000, 503.0)],
        );
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].at_ms, 1000, "oldest first");
        assert_eq!(out[0].health, Health::Up);
        assert_eq!(out[0].phases.dns_ms, Some(1.0));
        assert_eq!(out[0].phases.ttfb_ms, Some(10.0));
        assert_eq!(out[0].phases.total_ms, Some(15.0));
        assert_eq!(out[1].health, Health::Down);
        assert_eq!(out[1].cause.as_ref().unwrap().detail, "HTTP 503");
        assert_eq!(out[1].cause.as_ref().unwrap().class, ErrorClass::HttpStatus);
        let none = outputs(&[(5, 0.0)], &[], &[], &[], &[]);
        assert_eq!(none[0].cause.as_ref().unwrap().class, ErrorClass::Unknown);
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}
