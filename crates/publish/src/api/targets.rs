//! Targets: their state, results, rollups and uptime; `/metrics`.

use crate::state::*;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use probity_engine::store::{ResultRecord, Store};
use probity_ground::config::Target;
use probity_ground::time::Stamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;

pub(crate) async fn metrics(State(s): State<AppState>) -> Response {
    let mut body = crate::metrics::render(&s.shared, &s.targets);
    let store = s.store.clone();
    let sizes = tokio::task::spawn_blocking(move || {
        let now = jiff::Timestamp::now().as_millisecond();
        let days = store.sizes(probity_engine::store::week_start(now))?;
        Ok::<_, probity_engine::store::StoreError>((
            store.disk_bytes()?,
            probity_engine::store::weekly_growth(&days, now),
        ))
    })
    .await;
    if let Ok(Ok((bytes, growth))) = sizes {
        body.push_str(&crate::metrics::store_bytes(bytes, growth));
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// A target's latest result, in short.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct LastResult {
    pub at: Stamp,
    pub ok: bool,
    /// `up`, `degraded` or `down`.
    pub status: &'static str,
    pub latency_ms: Option<f64>,
    pub error: Option<String>,
}

pub(crate) fn last_result_json(r: &ResultRecord) -> LastResult {
    LastResult {
        at: Stamp::ms(r.at_ms),
        ok: r.health == probity_core::result::Health::Up,
        status: r.health.as_str(),
        latency_ms: r.phases.total_ms.map(round2),
        error: r.cause.as_ref().map(|c| c.to_string()),
    }
}

pub(crate) fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

pub(crate) const WINDOWS: [(&str, i64); 3] = [
    ("24h", 86_400_000),
    ("7d", 7 * 86_400_000),
    ("30d", 30 * 86_400_000),
];

pub(crate) async fn uptimes(
    store: Arc<dyn Store>,
) -> Result<Vec<std::collections::HashMap<String, probity_engine::store::Availability>>, ApiError> {
    let now = jiff::Timestamp::now().as_millisecond();
    blocking(move || {
        WINDOWS
            .iter()
            .map(|(_, w)| store.availability_by_target(now - w, now + 1))
            .collect::<Result<Vec<_>, _>>()
    })
    .await?
    .map_err(ApiError::internal)
}

/// A target as `GET /api/v1/targets` lists it.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct TargetView {
    pub name: String,
    pub provider: Option<String>,
    pub service: Option<String>,
    pub region: Option<String>,
    /// `http`, `tcp`, `tls`, `dns`, `heartbeat`, …
    pub kind: String,
    /// What it probes (a URL, host:port, a name), secrets left out.
    pub target: String,
    pub tags: Vec<String>,
    /// `up`, `degraded`, `down`, `failing` (failures below the threshold) or `unknown`.
    pub status: &'static str,
    pub last_result: Option<LastResult>,
    /// The share of results not down over the last 24h, 7d and 30d (`null`: nothing measured).
    pub uptime: Uptime,
    pub open_incident: Option<i64>,
    pub interval: String,
    /// Vantages that see it failing while the quorum does not (a regional degradation).
    pub regional: Vec<String>,
}

/// Uptime over the three standard windows.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Uptime {
    #[serde(rename = "24h")]
    pub day: Option<f64>,
    #[serde(rename = "7d")]
    pub week: Option<f64>,
    #[serde(rename = "30d")]
    pub month: Option<f64>,
}

/// One target in full: the list's fields and its conditions, thresholds, quorum and each
/// vantage's view.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct TargetDetail {
    #[serde(flatten)]
    pub target: TargetView,
    pub conditions: Vec<String>,
    pub failure_threshold: u32,
    pub success_threshold: u32,
    pub quorum: String,
    pub vantages: Vec<crate::agents::TargetVantage>,
}

pub(crate) fn target_json(
    t: &Target,
    s: &AppState,
    up: &[std::collections::HashMap<String, probity_engine::store::Availability>],
) -> TargetView {
    let live = s.shared.targets.read().expect("live lock");
    let l = live.get(&t.name);
    let uptime = |i: usize| up[i].get(&t.name).and_then(|a| a.uptime());
    TargetView {
        name: t.name.clone(),
        provider: t.provider.clone(),
        service: t.service.clone(),
        region: t.region.clone(),
        kind: t.kind.clone(),
        target: t.display.clone(),
        tags: t.tags.clone(),
        status: l.map_or("unknown", |l| l.status.as_str()),
        last_result: l.and_then(|l| l.last.as_ref()).map(last_result_json),
        uptime: Uptime {
            day: uptime(0),
            week: uptime(1),
            month: uptime(2),
        },
        open_incident: l.and_then(|l| l.open_incident),
        interval: t.interval.to_string(),
        regional: l.map_or(Vec::new(), |l| l.regional.clone()),
    }
}

pub(crate) async fn targets(State(s): State<AppState>) -> ApiResult {
    let up = uptimes(s.store.clone()).await?;
    let list: Vec<TargetView> = s.targets.iter().map(|t| target_json(t, &s, &up)).collect();
    Ok(Json(list).into_response())
}

pub(crate) fn find<'a>(s: &'a AppState, name: &str) -> Result<&'a Arc<Target>, ApiError> {
    s.targets.iter().find(|t| t.name == name).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no target named {name:?}"),
        )
    })
}

pub(crate) async fn target(State(s): State<AppState>, Path(name): Path<String>) -> ApiResult {
    let t = find(&s, &name)?.clone();
    let up = uptimes(s.store.clone()).await?;
    let vantages = {
        let live = s.shared.targets.read().expect("live lock");
        crate::agents::target_vantages(live.get(&t.name))
    };
    Ok(Json(TargetDetail {
        target: target_json(&t, &s, &up),
        conditions: t.conditions.iter().map(|c| c.source.clone()).collect(),
        failure_threshold: t.thresholds.failure,
        success_threshold: t.thresholds.success,
        quorum: t.quorum.to_string(),
        vantages,
    })
    .into_response())
}

#[derive(Deserialize)]
pub(crate) struct ResultsQuery {
    since: Option<String>,
    until: Option<String>,
    limit: Option<String>,
}

/// One result as the API gives it.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct ResultView {
    pub id: i64,
    pub target: String,
    pub vantage: String,
    pub at: Stamp,
    pub ok: bool,
    /// `up`, `degraded` or `down`.
    pub status: &'static str,
    pub latency_ms: Option<f64>,
    pub phases: PhaseTimes,
    pub error_class: Option<&'static str>,
    pub error: Option<String>,
    /// What the probe saw beyond the phases (status code, certificate, answers…).
    pub details: Option<Value>,
    /// Judged unmeasured by the vantage's controls: kept, but out of every figure.
    pub unmeasured: bool,
    /// An agent's own id for the result.
    pub origin: Option<String>,
    pub clock_offset_ms: Option<i64>,
}

/// The phases of a probe, in milliseconds.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct PhaseTimes {
    pub dns_ms: Option<f64>,
    pub connect_ms: Option<f64>,
    pub tls_ms: Option<f64>,
    pub ttfb_ms: Option<f64>,
    pub total_ms: Option<f64>,
}

pub fn result_json(r: &ResultRecord) -> ResultView {
    ResultView {
        id: r.id,
        target: r.target.clone(),
        vantage: r.vantage.clone(),
        at: Stamp::ms(r.at_ms),
        ok: r.health == probity_core::result::Health::Up,
        status: r.health.as_str(),
        latency_ms: r.phases.total_ms.map(round2),
        phases: PhaseTimes {
            dns_ms: r.phases.dns_ms.map(round2),
            connect_ms: r.phases.connect_ms.map(round2),
            tls_ms: r.phases.tls_ms.map(round2),
            ttfb_ms: r.phases.ttfb_ms.map(round2),
            total_ms: r.phases.total_ms.map(round2),
        },
        error_class: r.cause.as_ref().map(|c| c.class.as_str()),
        error: r.cause.as_ref().map(|c| c.to_string()),
        details: r
            .details
            .as_deref()
            .and_then(|d| serde_json::from_str::<Value>(d).ok()),
        unmeasured: r.unmeasured,
        origin: r.origin.clone(),
        clock_offset_ms: r.clock_offset_ms,
    }
}

pub(crate) async fn results(
    State(s): State<AppState>,
    Path(name): Path<String>,
    q: Result<Query<ResultsQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    find(&s, &name)?;
    let since = q
        .since
        .as_deref()
        .map(|v| parse_time(v, "since"))
        .transpose()?;
    let until = q
        .until
        .as_deref()
        .map(|v| parse_time(v, "until"))
        .transpose()?;
    let limit = match q.limit.as_deref() {
        None => 100,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=10_000).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "`limit` must be a whole number from 1 to 10000, not {l:?}"
                ))
            })?,
    };
    let store = s.store.clone();
    let rows = blocking(move || store.results(&name, since, until, limit))
        .await?
        .map_err(ApiError::internal)?;
    Ok(Json(rows.iter().map(result_json).collect::<Vec<_>>()).into_response())
}

#[derive(Deserialize)]
pub(crate) struct RollupsQuery {
    since: Option<String>,
    until: Option<String>,
}

/// Per-minute aggregates with latency percentiles from the stored sketches.
pub(crate) async fn rollups(
    State(s): State<AppState>,
    Path(name): Path<String>,
    q: Result<Query<RollupsQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    find(&s, &name)?;
    let now = jiff::Timestamp::now().as_millisecond();
    let until = q
        .until
        .as_deref()
        .map(|v| parse_time(v, "until"))
        .transpose()?
        .unwrap_or(now + 1);
    let since = q
        .since
        .as_deref()
        .map(|v| parse_time(v, "since"))
        .transpose()?
        .unwrap_or(until - 3_600_000);
    if until - since > 31 * 86_400_000 {
        return Err(ApiError::bad_request(
            "ask for at most 31 days of minutes at once",
        ));
    }
    let store = s.store.clone();
    let rows =
        blocking(move || store.rollups(&name, probity_engine::store::minute_of(since), until))
            .await?
            .map_err(ApiError::internal)?;
    let out: Vec<RollupView> = rows
        .iter()
        .map(|r| {
            let q = |p| r.sketch.quantile(p).map(round2);
            RollupView {
                minute: Stamp::ms(r.minute_ms),
                vantage: r.vantage.clone(),
                count: r.count,
                failures: r.failures,
                degraded: r.degraded,
                latency_ms: Latency {
                    min: round2(r.latency_min_ms),
                    avg: (r.count > 0).then(|| round2(r.latency_sum_ms / r.count as f64)),
                    max: round2(r.latency_max_ms),
                    p50: q(0.5),
                    p95: q(0.95),
                    p99: q(0.99),
                },
            }
        })
        .collect();
    Ok(Json(out).into_response())
}

/// One minute of one target from one vantage.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct RollupView {
    pub minute: Stamp,
    pub vantage: String,
    pub count: u64,
    pub failures: u64,
    pub degraded: u64,
    pub latency_ms: Latency,
}

/// Latency over a minute; percentiles from the stored sketch.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Latency {
    pub min: f64,
    pub avg: Option<f64>,
    pub max: f64,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
}
