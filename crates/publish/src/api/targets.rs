//! Targets: their state, results, rollups and uptime; `/metrics`.

use crate::state::*;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use probity_engine::store::{ResultRecord, Store};
use probity_ground::config::Target;
use probity_ground::time::rfc3339;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

pub(crate) async fn metrics(State(s): State<AppState>) -> Response {
    let body = crate::metrics::render(&s.shared, &s.targets);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

pub(crate) fn last_result_json(r: &ResultRecord) -> Value {
    json!({
        "at": rfc3339(r.at_ms),
        "ok": r.health == probity_core::result::Health::Up,
        "status": r.health.as_str(),
        "latency_ms": r.phases.total_ms.map(round2),
        "error": r.cause.as_ref().map(|c| c.to_string()),
    })
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

pub(crate) fn target_json(
    t: &Target,
    s: &AppState,
    up: &[std::collections::HashMap<String, probity_engine::store::Availability>],
) -> Value {
    let live = s.shared.targets.read().expect("live lock");
    let l = live.get(&t.name);
    let mut uptime = serde_json::Map::new();
    for (i, (name, _)) in WINDOWS.iter().enumerate() {
        let v = up[i].get(&t.name).and_then(|a| a.uptime());
        uptime.insert((*name).into(), json!(v));
    }
    json!({
        "name": t.name,
        "provider": t.provider,
        "service": t.service,
        "region": t.region,
        "kind": t.kind,
        "target": t.display,
        "tags": t.tags,
        "status": l.map_or("unknown", |l| l.status.as_str()),
        "last_result": l.and_then(|l| l.last.as_ref()).map(last_result_json),
        "uptime": uptime,
        "open_incident": l.and_then(|l| l.open_incident),
        "interval": t.interval.to_string(),
        "regional": l.map_or(Vec::new(), |l| l.regional.clone()),
    })
}

pub(crate) async fn targets(State(s): State<AppState>) -> ApiResult {
    let up = uptimes(s.store.clone()).await?;
    let list: Vec<Value> = s.targets.iter().map(|t| target_json(t, &s, &up)).collect();
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
    let mut v = target_json(&t, &s, &up);
    v["conditions"] = json!(
        t.conditions
            .iter()
            .map(|c| c.source.clone())
            .collect::<Vec<_>>()
    );
    v["failure_threshold"] = json!(t.thresholds.failure);
    v["success_threshold"] = json!(t.thresholds.success);
    v["quorum"] = json!(t.quorum.to_string());
    {
        let live = s.shared.targets.read().expect("live lock");
        v["vantages"] = crate::agents::target_vantages(live.get(&t.name));
    }
    Ok(Json(v).into_response())
}

#[derive(Deserialize)]
pub(crate) struct ResultsQuery {
    since: Option<String>,
    until: Option<String>,
    limit: Option<String>,
}

pub fn result_json(r: &ResultRecord) -> Value {
    json!({
        "id": r.id,
        "target": r.target,
        "vantage": r.vantage,
        "at": rfc3339(r.at_ms),
        "ok": r.health == probity_core::result::Health::Up,
        "status": r.health.as_str(),
        "latency_ms": r.phases.total_ms.map(round2),
        "phases": {
            "dns_ms": r.phases.dns_ms.map(round2),
            "connect_ms": r.phases.connect_ms.map(round2),
            "tls_ms": r.phases.tls_ms.map(round2),
            "ttfb_ms": r.phases.ttfb_ms.map(round2),
            "total_ms": r.phases.total_ms.map(round2),
        },
        "error_class": r.cause.as_ref().map(|c| c.class.as_str()),
        "error": r.cause.as_ref().map(|c| c.to_string()),
        "details": r.details.as_deref().and_then(|d| serde_json::from_str::<Value>(d).ok()),
        "unmeasured": r.unmeasured,
        "origin": r.origin,
        "clock_offset_ms": r.clock_offset_ms,
    })
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
    let out: Vec<Value> = rows
        .iter()
        .map(|r| {
            let q = |p| r.sketch.quantile(p).map(round2);
            json!({
                "minute": rfc3339(r.minute_ms),
                "vantage": r.vantage,
                "count": r.count,
                "failures": r.failures,
                "degraded": r.degraded,
                "latency_ms": {
                    "min": round2(r.latency_min_ms),
                    "avg": (r.count > 0).then(|| round2(r.latency_sum_ms / r.count as f64)),
                    "max": round2(r.latency_max_ms),
                    "p50": q(0.5),
                    "p95": q(0.95),
                    "p99": q(0.99),
                },
            })
        })
        .collect();
    Ok(Json(out).into_response())
}
