//! The HTTP API (JSON under `/api/v1`), `/metrics` and `/healthz`.
//!
//! Errors are typed JSON, `{"error": {"code", "message"}}`, with the fitting status code; a
//! malformed request is a 400, never a 500.

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use probity_engine::live::Shared;
use probity_engine::store::{IncidentFilter, IncidentRecord, ResultRecord, Store};
use probity_ground::config::Target;
use probity_ground::time::rfc3339;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub shared: Arc<Shared>,
    pub store: Arc<dyn Store>,
    pub targets: Arc<Vec<Arc<Target>>>,
    pub feeds: Arc<Vec<probity_ground::config::Feed>>,
    pub reconcile: probity_ground::config::ReconcileConfig,
    pub config: Arc<probity_ground::config::Config>,
    pub heartbeats: Arc<probity_engine::schedule::heartbeat::Heartbeats>,
    /// Where agents' pushes go (the recorder); `None` where nothing records them.
    pub pushes: super::agents::Pushes,
    /// Where reload requests go; `None` where nothing can reload.
    pub reload: Option<tokio::sync::mpsc::Sender<ReloadRequest>>,
    /// Exports a span and metrics per request when `[telemetry]` is set.
    pub telemetry: Option<Arc<probity_engine::telemetry::Telemetry>>,
}

type Route = fn() -> axum::routing::MethodRouter<AppState>;

/// Every operation of the API: the router serves these routes and `/api/openapi.json`
/// describes them, from this one table.
pub fn operations() -> Vec<super::openapi::Op<Route>> {
    use super::openapi::{self as oa, Auth, Body, Op, Out};
    use axum::routing::post;
    const TIME: &str = "an RFC 3339 time such as 2026-11-23T10:00:00Z, or Unix milliseconds";
    let op = |method, path, id, tag, summary| Op {
        method,
        path,
        id,
        tag,
        summary,
        query: &[],
        body: Body::None,
        auth: Auth::Public,
        ok: 200,
        out: Out::Json(oa::any_object),
        errors: &[],
        also: &[],
        route: None,
    };
    vec![
        Op {
            out: Out::Media("text/plain"),
            route: Some(|| get(|| async { "ok\n" })),
            ..op(
                "get",
                "/healthz",
                "healthz",
                "service",
                "Whether the server answers",
            )
        },
        Op {
            out: Out::Media("text/plain"),
            route: Some(|| get(metrics)),
            ..op(
                "get",
                "/metrics",
                "metrics",
                "service",
                "Prometheus metrics (text exposition format 0.0.4)",
            )
        },
        Op {
            out: Out::Json(oa::targets),
            route: Some(|| get(targets)),
            errors: &[503],
            ..op(
                "get",
                "/api/v1/targets",
                "listTargets",
                "targets",
                "Every target with its state, last result and uptime",
            )
        },
        Op {
            out: Out::Json(oa::target_detail),
            route: Some(|| get(target)),
            errors: &[404, 503],
            ..op(
                "get",
                "/api/v1/targets/{name}",
                "getTarget",
                "targets",
                "One target, with its conditions, thresholds, quorum and each vantage's view",
            )
        },
        Op {
            out: Out::Json(oa::results),
            route: Some(|| get(results)),
            errors: &[400, 404, 503],
            query: &[
                ("since", "string", TIME),
                ("until", "string", TIME),
                ("limit", "string", "1 to 10000 (default 100)"),
            ],
            ..op(
                "get",
                "/api/v1/targets/{name}/results",
                "listResults",
                "targets",
                "Raw results, newest first",
            )
        },
        Op {
            out: Out::Json(oa::any_array),
            route: Some(|| get(rollups)),
            errors: &[400, 404, 503],
            query: &[("since", "string", TIME), ("until", "string", TIME)],
            ..op(
                "get",
                "/api/v1/targets/{name}/rollups",
                "listRollups",
                "targets",
                "Per-minute aggregates with latency percentiles",
            )
        },
        Op {
            out: Out::Media("text/plain"),
            route: Some(|| get(evidence_checkpoint)),
            errors: &[404, 503],
            ..op(
                "get",
                "/api/v1/evidence/checkpoint",
                "latestCheckpoint",
                "evidence",
                "The latest signed checkpoint of the evidence log",
            )
        },
        Op {
            out: Out::Json(oa::any_array),
            route: Some(|| get(evidence_checkpoints)),
            errors: &[503],
            ..op(
                "get",
                "/api/v1/evidence/checkpoints",
                "listCheckpoints",
                "evidence",
                "Every signed checkpoint",
            )
        },
        Op {
            route: Some(|| get(inclusion)),
            errors: &[400, 404, 503],
            query: &[
                ("index", "string", "the leaf (required)"),
                (
                    "size",
                    "string",
                    "the tree size (default: the latest checkpoint's)",
                ),
            ],
            ..op(
                "get",
                "/api/v1/evidence/proof/inclusion",
                "inclusionProof",
                "evidence",
                "An inclusion proof of one leaf",
            )
        },
        Op {
            route: Some(|| get(consistency)),
            errors: &[400, 404, 503],
            query: &[
                ("old", "string", "the older size (required)"),
                (
                    "new",
                    "string",
                    "the newer size (default: the latest checkpoint's)",
                ),
            ],
            ..op(
                "get",
                "/api/v1/evidence/proof/consistency",
                "consistencyProof",
                "evidence",
                "A consistency proof between two sizes",
            )
        },
        Op {
            out: Out::Json(oa::any_array),
            route: Some(|| get(records)),
            errors: &[400, 404, 503],
            query: &[
                ("from", "string", "the first leaf"),
                ("to", "string", "one past the last leaf"),
            ],
            ..op(
                "get",
                "/api/v1/evidence/records",
                "listRecords",
                "evidence",
                "Leaves of the evidence log, as the exact bytes hashed (base64)",
            )
        },
        Op {
            out: Out::Json(oa::incidents),
            route: Some(|| get(incidents)),
            errors: &[400, 503],
            query: &[("status", "string", "open, resolved or all (default all)")],
            ..op(
                "get",
                "/api/v1/incidents",
                "listIncidents",
                "incidents",
                "Observed incidents, newest first",
            )
        },
        Op {
            out: Out::Json(oa::incident),
            route: Some(|| get(incident)),
            errors: &[400, 404, 503],
            ..op(
                "get",
                "/api/v1/incidents/{id}",
                "getIncident",
                "incidents",
                "One incident, with its evidence, declarations and what each vantage saw",
            )
        },
        Op {
            route: Some(|| post(ack)),
            auth: Auth::Api,
            body: Body::Json(oa::ack_body),
            errors: &[400, 404, 503],
            ..op(
                "post",
                "/api/v1/incidents/{id}/ack",
                "ackIncident",
                "incidents",
                "Acknowledge an incident: its escalations and reminders stop",
            )
        },
        Op {
            out: Out::Json(oa::any_array),
            route: Some(|| get(provider_incidents)),
            errors: &[400, 404, 503],
            query: &[
                ("provider", "string", "a provider's name"),
                ("feed", "string", "a feed's name"),
                ("target", "string", "incidents that affect this target"),
                ("since", "string", TIME),
                ("until", "string", TIME),
                ("changed", "boolean", "only those changed after publication"),
            ],
            ..op(
                "get",
                "/api/v1/provider-incidents",
                "listProviderIncidents",
                "providers",
                "What providers declared, with when probity first saw each part",
            )
        },
        Op {
            out: Out::Json(oa::any_array),
            route: Some(|| get(feeds)),
            errors: &[503],
            ..op(
                "get",
                "/api/v1/feeds",
                "listFeeds",
                "providers",
                "Every provider status feed and how its polling goes",
            )
        },
        Op {
            out: Out::Json(oa::any_array),
            route: Some(|| get(scorecard)),
            errors: &[400, 404, 503],
            query: &[
                ("window", "string", "a duration such as 30d (default 30d)"),
                ("provider", "string", "one provider"),
            ],
            ..op(
                "get",
                "/api/v1/scorecard",
                "getScorecard",
                "providers",
                "Each provider's scorecard over a window",
            )
        },
        Op {
            out: Out::Json(oa::any_array),
            route: Some(|| get(sla)),
            errors: &[400, 404, 503],
            query: &[
                ("month", "string", "YYYY-MM (default this month)"),
                ("sla", "string", "one [[sla]] by name"),
            ],
            ..op(
                "get",
                "/api/v1/sla",
                "getSla",
                "accounting",
                "The month's SLA reports",
            )
        },
        Op {
            out: Out::Json(oa::any_array),
            route: Some(|| get(slo)),
            errors: &[503],
            ..op(
                "get",
                "/api/v1/slo",
                "getSlo",
                "accounting",
                "Each SLO: error budget, burn rates, alerts",
            )
        },
        Op {
            out: Out::Json(oa::any_array),
            route: Some(|| get(alerts)),
            errors: &[400, 503],
            query: &[("limit", "integer", "how many (default 100)")],
            ..op(
                "get",
                "/api/v1/alerts",
                "listAlerts",
                "alerts",
                "The newest alerts with their delivery attempts",
            )
        },
        Op {
            out: Out::Media("text/html"),
            route: Some(|| get(status_html)),
            errors: &[503],
            ..op(
                "get",
                "/status",
                "statusPage",
                "status page",
                "The public status page (HTML, no script)",
            )
        },
        Op {
            out: Out::Media("application/atom+xml"),
            route: Some(|| get(status_atom)),
            errors: &[503],
            ..op(
                "get",
                "/status/feed.atom",
                "statusFeed",
                "status page",
                "The status page's incidents as an Atom feed",
            )
        },
        Op {
            out: Out::Json(oa::statuspage_document),
            errors: &[503],
            ..op(
                "get",
                "/api/v2/summary.json",
                "statuspageSummary",
                "status page",
                "Statuspage-compatible summary",
            )
        },
        Op {
            out: Out::Json(oa::statuspage_document),
            errors: &[503],
            ..op(
                "get",
                "/api/v2/status.json",
                "statuspageStatus",
                "status page",
                "Statuspage-compatible overall status",
            )
        },
        Op {
            out: Out::Json(oa::statuspage_document),
            errors: &[503],
            ..op(
                "get",
                "/api/v2/components.json",
                "statuspageComponents",
                "status page",
                "Statuspage-compatible components",
            )
        },
        Op {
            out: Out::Json(oa::statuspage_document),
            errors: &[503],
            ..op(
                "get",
                "/api/v2/incidents.json",
                "statuspageIncidents",
                "status page",
                "Statuspage-compatible incidents",
            )
        },
        Op {
            out: Out::Json(oa::statuspage_document),
            errors: &[503],
            ..op(
                "get",
                "/api/v2/incidents/unresolved.json",
                "statuspageUnresolved",
                "status page",
                "Statuspage-compatible unresolved incidents",
            )
        },
        Op {
            out: Out::Json(oa::statuspage_document),
            errors: &[503],
            ..op(
                "get",
                "/api/v2/scheduled-maintenances.json",
                "statuspageMaintenances",
                "status page",
                "Statuspage-compatible scheduled maintenances",
            )
        },
        Op {
            ok: 201,
            route: Some(|| post(post_status_incident)),
            auth: Auth::Api,
            body: Body::Json(oa::status_incident_body),
            errors: &[400, 503],
            ..op(
                "post",
                "/api/v1/status/incidents",
                "postStatusIncident",
                "status page",
                "Post an incident on the status page",
            )
        },
        Op {
            ok: 201,
            route: Some(|| post(post_status_update)),
            auth: Auth::Api,
            body: Body::Json(oa::status_update_body),
            errors: &[400, 404, 503],
            ..op(
                "post",
                "/api/v1/status/incidents/{id}/updates",
                "postStatusUpdate",
                "status page",
                "Add an update to a status-page incident",
            )
        },
        Op {
            route: Some(|| get(heartbeat)),
            errors: &[400, 404, 503],
            query: &[("status", "string", "ok (default) or fail")],
            ..op(
                "get",
                "/api/v1/heartbeat/{token}",
                "heartbeatGet",
                "heartbeats",
                "A heartbeat ping",
            )
        },
        Op {
            route: Some(|| post(heartbeat)),
            body: Body::Text,
            errors: &[400, 404, 503],
            query: &[("status", "string", "ok (default) or fail")],
            ..op(
                "post",
                "/api/v1/heartbeat/{token}",
                "heartbeatPost",
                "heartbeats",
                "A heartbeat ping; the body says why it failed",
            )
        },
        Op {
            out: Out::Json(oa::of::<probity_engine::record::wire::Assignment>),
            route: Some(|| get(super::agents::targets)),
            auth: Auth::Agent,
            errors: &[503],
            ..op(
                "get",
                "/api/v1/agent/targets",
                "agentAssignment",
                "agents",
                "An agent's assignment: its targets as configuration, and its controls",
            )
        },
        Op {
            out: Out::Json(oa::of::<probity_engine::record::wire::PushResponse>),
            route: Some(|| {
                post(super::agents::results).layer(axum::extract::DefaultBodyLimit::max(
                    probity_engine::record::wire::MAX_PUSH_BYTES + 1,
                ))
            }),
            auth: Auth::Agent,
            body: Body::Json(oa::of::<probity_engine::record::wire::PushBody>),
            errors: &[400, 403, 413, 503],
            also: &[(
                422,
                "Some results were rejected (each with why); the others are stored.",
                oa::of::<probity_engine::record::wire::PushResponse>,
            )],
            ..op(
                "post",
                "/api/v1/agent/results",
                "agentPush",
                "agents",
                "An agent's batch of results",
            )
        },
        Op {
            out: Out::Json(oa::vantages),
            route: Some(|| get(super::agents::vantages)),
            errors: &[503],
            ..op(
                "get",
                "/api/v1/vantages",
                "listVantages",
                "agents",
                "Each vantage: last contact, clock offset, backlog, health",
            )
        },
        Op {
            out: Out::Json(oa::reloaded),
            route: Some(|| post(reload)),
            auth: Auth::Api,
            errors: &[422, 503],
            ..op(
                "post",
                "/api/v1/reload",
                "reload",
                "service",
                "Read the configuration file again and run it, if it loads",
            )
        },
        Op {
            out: Out::Media("image/svg+xml"),
            route: Some(|| get(super::badges::status)),
            errors: &[404, 503],
            ..op(
                "get",
                "/badge/{name}/status.svg",
                "statusBadge",
                "status page",
                "A component's (or public target's) state as an SVG badge",
            )
        },
        Op {
            out: Out::Media("image/svg+xml"),
            route: Some(|| get(super::badges::uptime)),
            errors: &[400, 404, 503],
            query: &[("window", "string", "1h to 400d (default 30d)")],
            ..op(
                "get",
                "/badge/{name}/uptime.svg",
                "uptimeBadge",
                "status page",
                "A component's (or public target's) uptime as an SVG badge",
            )
        },
    ]
}

/// The OpenAPI document, made once.
pub fn openapi_document() -> &'static Value {
    static DOC: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    DOC.get_or_init(|| super::openapi::document(&operations()))
}

async fn openapi_json() -> Response {
    Json(openapi_document().clone()).into_response()
}

pub fn router(state: AppState) -> Router {
    let mut r = Router::new().route("/api/openapi.json", get(openapi_json));
    for op in operations() {
        if let Some(route) = op.route {
            r = r.route(op.path, route());
        }
    }
    // Pages for people, and the Statuspage documents (one route serves the six paths the
    // table lists).
    let r = r
        .route("/dashboard", get(super::dashboard::overview))
        .route(
            "/dashboard/login",
            get(super::dashboard::login_form).post(super::dashboard::login),
        )
        .route("/dashboard/targets/{name}", get(super::dashboard::target))
        .route("/dashboard/incidents/{id}", get(super::dashboard::incident))
        .route("/dashboard/scorecard", get(super::dashboard::scorecard))
        .route("/dashboard/sla", get(super::dashboard::sla))
        .route("/api/v2/{*path}", get(status_v2));
    // Each matched request is a span when telemetry is on.
    let r = match state.telemetry.clone() {
        Some(t) => r.route_layer(axum::middleware::from_fn_with_state(
            t,
            probity_engine::telemetry::record_request,
        )),
        None => r,
    };
    r.fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint") })
        .with_state(state)
}

/// An error answer.
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    pub(crate) fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "API request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the store could not answer; see the server log",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"error": {"code": self.code, "message": self.message}})),
        )
            .into_response()
    }
}

type ApiResult = Result<Response, ApiError>;

/// Runs a store query off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)
}

fn parse_time(s: &str, what: &str) -> Result<i64, ApiError> {
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(t.as_millisecond());
    }
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(ms);
    }
    Err(ApiError::bad_request(format!(
        "`{what}` must be an RFC 3339 time such as 2026-11-23T10:00:00Z (or Unix milliseconds), not {s:?}"
    )))
}

async fn metrics(State(s): State<AppState>) -> Response {
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

fn last_result_json(r: &ResultRecord) -> Value {
    json!({
        "at": rfc3339(r.at_ms),
        "ok": r.health == probity_core::result::Health::Up,
        "status": r.health.as_str(),
        "latency_ms": r.phases.total_ms.map(round2),
        "error": r.cause.as_ref().map(|c| c.to_string()),
    })
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

const WINDOWS: [(&str, i64); 3] = [
    ("24h", 86_400_000),
    ("7d", 7 * 86_400_000),
    ("30d", 30 * 86_400_000),
];

async fn uptimes(
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

fn target_json(
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

async fn targets(State(s): State<AppState>) -> ApiResult {
    let up = uptimes(s.store.clone()).await?;
    let list: Vec<Value> = s.targets.iter().map(|t| target_json(t, &s, &up)).collect();
    Ok(Json(list).into_response())
}

fn find<'a>(s: &'a AppState, name: &str) -> Result<&'a Arc<Target>, ApiError> {
    s.targets.iter().find(|t| t.name == name).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no target named {name:?}"),
        )
    })
}

async fn target(State(s): State<AppState>, Path(name): Path<String>) -> ApiResult {
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
        v["vantages"] = super::agents::target_vantages(live.get(&t.name));
    }
    Ok(Json(v).into_response())
}

#[derive(Deserialize)]
struct ResultsQuery {
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

async fn results(
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
struct RollupsQuery {
    since: Option<String>,
    until: Option<String>,
}

/// Per-minute aggregates with latency percentiles from the stored sketches.
async fn rollups(
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

#[derive(Deserialize)]
struct IncidentsQuery {
    status: Option<String>,
}

pub fn incident_json(i: &IncidentRecord) -> Value {
    let end = i
        .resolved_at_ms
        .unwrap_or_else(|| jiff::Timestamp::now().as_millisecond());
    json!({
        "id": i.id,
        "target": i.target,
        "started_at": rfc3339(i.started_at_ms),
        "resolved_at": i.resolved_at_ms.map(rfc3339),
        "status": if i.resolved_at_ms.is_some() { "resolved" } else { "open" },
        "severity": i.severity.as_str(),
        "cause": i.cause.to_string(),
        "cause_class": i.cause.class.as_str(),
        "duration_s": (end - i.started_at_ms) as f64 / 1000.0,
        "evidence": i.evidence,
    })
}

async fn incidents(
    State(s): State<AppState>,
    q: Result<Query<IncidentsQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let filter = match q.status.as_deref() {
        None | Some("all") => IncidentFilter::All,
        Some("open") => IncidentFilter::Open,
        Some("resolved") => IncidentFilter::Resolved,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "`status` is open, resolved or all, not {other:?}"
            )));
        }
    };
    let store = s.store.clone();
    let rows = blocking(move || store.incidents(filter))
        .await?
        .map_err(ApiError::internal)?;
    Ok(Json(rows.iter().map(incident_json).collect::<Vec<_>>()).into_response())
}

async fn incident(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::bad_request(format!("incident id must be a number, not {id:?}")))?;
    // The incident, and the evidence of each change: its leaf and the first checkpoint
    // covering it.
    let store = s.store.clone();
    let found = blocking(move || -> Result<_, probity_engine::store::StoreError> {
        let Some(inc) = store.incident(id)? else {
            return Ok(None);
        };
        let mut log = Vec::new();
        for (change, leaf) in store.incident_leaves(id)? {
            let covering = store.checkpoint_covering(leaf)?;
            log.push(json!({"change": change, "leaf_index": leaf, "checkpoint_size": covering}));
        }
        let seen: Vec<Value> = store
            .incident_vantages(id)?
            .into_iter()
            .map(|(change, s)| {
                json!({
                    "change": change,
                    "vantage": s.vantage,
                    "status": s.status.as_str(),
                    "failing_since": s.failing_since_ms.map(rfc3339),
                    "last_result_at": s.last_at_ms.map(rfc3339),
                })
            })
            .collect();
        Ok(Some((inc, log, seen)))
    })
    .await?
    .map_err(ApiError::internal)?;
    let (inc, evidence_log, seen) = found.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no incident {id}"),
        )
    })?;
    let inc = &inc;
    let mut v = incident_json(inc);
    v["evidence_log"] = json!(evidence_log);
    v["vantages"] = json!(seen);
    // Reconciliation over the incident's own span: the declarations that cover it.
    let (store, targets, cfg) = (s.store.clone(), s.targets.clone(), s.reconcile);
    let now = jiff::Timestamp::now().as_millisecond();
    let window = (
        inc.started_at_ms,
        inc.resolved_at_ms.unwrap_or(now).max(inc.started_at_ms + 1),
    );
    let id = inc.id;
    let rec = blocking(
        move || -> Result<Value, probity_engine::store::StoreError> {
            let inputs = probity_engine::account::reconcile::gather(
                store.as_ref(),
                &targets,
                &cfg,
                window,
                now,
            )?;
            let r = inputs.reconcile();
            Ok(probity_engine::account::reconcile::incident_json(
                &inputs, &r, id,
            ))
        },
    )
    .await?
    .map_err(ApiError::internal)?;
    let store = s.store.clone();
    let ack = blocking(move || store.incident_ack(id))
        .await?
        .map_err(ApiError::internal)?;
    v["acknowledged"] = ack.map_or(
        Value::Null,
        |(at, by, note)| json!({"at": rfc3339(at), "by": by, "note": note}),
    );
    v["maintenance"] = s
        .config
        .maintenance_at(&inc.target, inc.started_at_ms)
        .iter()
        .map(|m| m.name.clone())
        .collect::<Vec<_>>()
        .into();
    v["acknowledgment"] = rec["acknowledgment"].clone();
    v["declarations"] = rec["declarations"].clone();
    Ok(Json(v).into_response())
}

// === evidence ===

type Params = Result<
    Query<std::collections::HashMap<String, String>>,
    axum::extract::rejection::QueryRejection,
>;

fn params(q: Params) -> Result<std::collections::HashMap<String, String>, ApiError> {
    q.map(|Query(m)| m)
        .map_err(|e| ApiError::bad_request(e.body_text()))
}

/// A non-negative integer parameter; `None` when absent.
fn number(
    p: &std::collections::HashMap<String, String>,
    key: &str,
) -> Result<Option<u64>, ApiError> {
    p.get(key)
        .map(|v| {
            v.parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!("`{key}` must be a whole number, not {v:?}"))
            })
        })
        .transpose()
}

fn proof_error(e: probity_engine::store::StoreError) -> ApiError {
    match e {
        probity_engine::store::StoreError::Proof(p) => match p {
            probity_core::merkle::ProofError::MissingNode { .. } => ApiError::internal(p),
            other => ApiError::bad_request(other.to_string()),
        },
        other => ApiError::internal(other),
    }
}

async fn latest_checkpoint(
    store: &Arc<dyn Store>,
) -> Result<probity_engine::store::StoredCheckpoint, ApiError> {
    let store = store.clone();
    blocking(move || store.latest_checkpoint())
        .await?
        .map_err(ApiError::internal)?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "no checkpoint has been signed yet",
            )
        })
}

/// The latest signed checkpoint, as the C2SP signed note it is.
async fn evidence_checkpoint(State(s): State<AppState>) -> ApiResult {
    let cp = latest_checkpoint(&s.store).await?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        cp.note,
    )
        .into_response())
}

async fn evidence_checkpoints(State(s): State<AppState>) -> ApiResult {
    let store = s.store.clone();
    let all = blocking(move || store.checkpoints())
        .await?
        .map_err(ApiError::internal)?;
    let out: Vec<Value> = all
        .iter()
        .map(|c| json!({"size": c.size, "root": hex::encode(c.root), "at": rfc3339(c.at_ms), "note": c.note}))
        .collect();
    Ok(Json(out).into_response())
}

async fn inclusion(State(s): State<AppState>, q: Params) -> ApiResult {
    let p = params(q)?;
    let index = number(&p, "index")?.ok_or_else(|| ApiError::bad_request("`index` is required"))?;
    let size = match number(&p, "size")? {
        Some(n) => n,
        None => latest_checkpoint(&s.store).await?.size,
    };
    let store = s.store.clone();
    let (leaf, proof) = blocking(move || store.inclusion_proof(index, size))
        .await?
        .map_err(proof_error)?;
    Ok(Json(json!({
        "index": index,
        "size": size,
        "leaf_hash": hex::encode(leaf),
        "proof": proof.iter().map(hex::encode).collect::<Vec<_>>(),
    }))
    .into_response())
}

async fn consistency(State(s): State<AppState>, q: Params) -> ApiResult {
    let p = params(q)?;
    let old = number(&p, "old")?.ok_or_else(|| ApiError::bad_request("`old` is required"))?;
    let new = match number(&p, "new")? {
        Some(n) => n,
        None => latest_checkpoint(&s.store).await?.size,
    };
    let store = s.store.clone();
    let proof = blocking(move || store.consistency_proof(old, new))
        .await?
        .map_err(proof_error)?;
    Ok(Json(
        json!({"old": old, "new": new, "proof": proof.iter().map(hex::encode).collect::<Vec<_>>()}),
    )
    .into_response())
}

/// Most records one request returns.
const RECORDS_MAX: u64 = 1000;

async fn records(State(s): State<AppState>, q: Params) -> ApiResult {
    use base64::Engine;
    let p = params(q)?;
    let from = number(&p, "from")?.unwrap_or(0);
    let store = s.store.clone();
    let size = blocking(move || store.evidence_size())
        .await?
        .map_err(ApiError::internal)?;
    let to = number(&p, "to")?.unwrap_or(size).min(size);
    if to < from {
        return Err(ApiError::bad_request(format!(
            "`to` ({to}) is before `from` ({from})"
        )));
    }
    if to - from > RECORDS_MAX {
        return Err(ApiError::bad_request(format!(
            "ask for at most {RECORDS_MAX} records at once"
        )));
    }
    let store = s.store.clone();
    let rows = blocking(move || store.evidence_records(from, to))
        .await?
        .map_err(ApiError::internal)?;
    let out: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "index": r.index,
                "leaf_hash": hex::encode(&r.leaf_hash),
                "record": base64::engine::general_purpose::STANDARD.encode(&r.record),
            })
        })
        .collect();
    Ok(Json(out).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderIncidentsQuery {
    provider: Option<String>,
    feed: Option<String>,
    since: Option<String>,
    until: Option<String>,
    changed: Option<bool>,
    target: Option<String>,
}

/// A provider incident as the API shows it: the normalized fields of its latest version,
/// when probity first and last saw it, each update's first sighting, and every revision.
pub fn provider_incident_json(p: &probity_engine::store::StoredProviderIncident) -> Value {
    let mut v = probity_engine::feeds::incident_json(&p.incident);
    let seen: std::collections::HashMap<(i64, &str), i64> = p
        .update_first_seen
        .iter()
        .map(|(at, status, first)| ((*at, status.as_str()), *first))
        .collect();
    if let Some(updates) = v["updates"].as_array_mut() {
        for (u, orig) in updates.iter_mut().zip(&p.incident.updates) {
            u["first_seen_at"] = json!(seen.get(&orig.key()).map(|m| rfc3339(*m)));
        }
    }
    v["feed"] = json!(p.feed);
    v["first_seen_at"] = json!(rfc3339(p.first_seen_at_ms));
    v["last_seen_at"] = json!(rfc3339(p.last_seen_at_ms));
    v["removed_at"] = json!(p.removed_at_ms.map(rfc3339));
    v["changed_after_publication"] = json!(p.changed_after_publication);
    v["revisions"] = p
        .revisions
        .iter()
        .map(|r| {
            json!({
                "revision": r.revision,
                "seen_at": rfc3339(r.seen_at_ms),
                "kind": r.kind,
                "edited": r.changes.iter().any(|c| c.edit),
                "changes": r.changes,
                "leaf_index": r.leaf,
                "incident": probity_engine::feeds::incident_json(&r.incident),
            })
        })
        .collect();
    v
}

async fn provider_incidents(
    State(s): State<AppState>,
    q: Result<Query<ProviderIncidentsQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let target = match &q.target {
        None => None,
        Some(name) => Some(
            s.targets
                .iter()
                .find(|t| &t.name == name)
                .cloned()
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::NOT_FOUND,
                        "not_found",
                        format!("no target named {name:?}"),
                    )
                })?,
        ),
    };
    let filter = probity_engine::store::ProviderFilter {
        provider: q.provider,
        feed: q.feed,
        since_ms: q
            .since
            .as_deref()
            .map(|v| parse_time(v, "since"))
            .transpose()?,
        until_ms: q
            .until
            .as_deref()
            .map(|v| parse_time(v, "until"))
            .transpose()?,
        changed_only: q.changed.unwrap_or(false),
    };
    let store = s.store.clone();
    let rows = blocking(move || store.provider_incidents(&filter))
        .await?
        .map_err(ApiError::internal)?;
    let rows = rows.iter().filter(|p| {
        target
            .as_ref()
            .is_none_or(|t| probity_engine::feeds::names::affects(&p.incident, t.names()))
    });
    Ok(Json(rows.map(provider_incident_json).collect::<Vec<_>>()).into_response())
}

async fn feeds(State(s): State<AppState>) -> ApiResult {
    let store = s.store.clone();
    let states = blocking(move || store.feed_states())
        .await?
        .map_err(ApiError::internal)?;
    let live = s.shared.feeds.read().expect("feeds lock").clone();
    // Configured feeds first, in config order; then feeds known only from the database
    // (removed from the config, or imported).
    let mut out = Vec::new();
    let mut listed = std::collections::HashSet::new();
    for f in s.feeds.iter() {
        listed.insert(f.name.clone());
        let st = states.iter().find(|st| st.feed == f.name);
        out.push(feed_json(
            &f.name,
            &f.provider,
            f.format.name(),
            Some((&f.display, f.interval.to_string())),
            st,
            live.get(&f.name),
        ));
    }
    for st in states.iter().filter(|st| !listed.contains(&st.feed)) {
        out.push(feed_json(
            &st.feed,
            &st.provider,
            &st.format,
            None,
            Some(st),
            None,
        ));
    }
    Ok(Json(out).into_response())
}

fn feed_json(
    name: &str,
    provider: &str,
    format: &str,
    configured: Option<(&String, String)>,
    st: Option<&probity_engine::store::FeedState>,
    live: Option<&probity_engine::feeds::poll::FeedLive>,
) -> Value {
    json!({
        "name": name,
        "provider": provider,
        "format": format,
        "url": configured.as_ref().map(|c| c.0),
        "interval": configured.as_ref().map(|c| c.1.clone()),
        "configured": configured.is_some(),
        "status": match st.and_then(|s| s.last_outcome.as_deref()) {
            None => "never_polled",
            Some("error") => "failing",
            Some(_) => "ok",
        },
        "last_poll_at": st.and_then(|s| s.last_poll_ms).map(rfc3339),
        "last_success_at": st.and_then(|s| s.last_ok_ms).map(rfc3339),
        "last_outcome": st.and_then(|s| s.last_outcome.clone()),
        "http_status": st.and_then(|s| s.http_status),
        "error": st.and_then(|s| s.last_error.clone()),
        "consecutive_failures": st.map_or(0, |s| s.consecutive_failures),
        "polls": st.map_or(0, |s| s.polls),
        "failures": st.map_or(0, |s| s.failures),
        "active_incidents": st.map_or(0, |s| s.active_incidents),
        "last_document_sha256": st.and_then(|s| s.last_sha256.clone()),
        "sighting_lag_seconds": live.and_then(|l| l.sighting_lag_s),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScorecardQuery {
    window: Option<String>,
    provider: Option<String>,
}

/// Each provider's scorecard over `window` (default 30d) back from now.
async fn scorecard(
    State(s): State<AppState>,
    q: Result<Query<ScorecardQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let window_name = q.window.unwrap_or_else(|| "30d".into());
    let window: probity_core::duration::HumanDuration = window_name.parse().map_err(|e| {
        ApiError::bad_request(format!("`window` must be a duration such as 30d: {e}"))
    })?;
    if window.as_millis() < 60_000 {
        return Err(ApiError::bad_request("`window` must be at least 1m"));
    }
    let (store, targets, cfg) = (s.store.clone(), s.targets.clone(), s.reconcile);
    let now = jiff::Timestamp::now().as_millisecond();
    let span = (now - window.as_millis() as i64, now);
    let provider = q.provider.clone();
    let cards = blocking(
        move || -> Result<Vec<Value>, probity_engine::store::StoreError> {
            let inputs = probity_engine::account::reconcile::gather(
                store.as_ref(),
                &targets,
                &cfg,
                span,
                now,
            )?;
            let r = inputs.reconcile();
            Ok(inputs
                .scorecards(&r, provider.as_deref())
                .iter()
                .map(|(c, sv)| {
                    probity_engine::account::reconcile::provider_json(c, sv, &window_name)
                })
                .collect())
        },
    )
    .await?
    .map_err(ApiError::internal)?;
    if let Some(p) = &q.provider
        && cards.is_empty()
    {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no target watches provider {p:?}"),
        ));
    }
    Ok(Json(cards).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SlaQuery {
    month: Option<String>,
    sla: Option<String>,
}

/// The month's SLA reports, as `probity sla report --format json` prints them.
async fn sla(
    State(s): State<AppState>,
    q: Result<Query<SlaQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let now = jiff::Timestamp::now().as_millisecond();
    let month = match &q.month {
        None => probity_engine::account::sla::this_month(now),
        Some(m) => probity_engine::account::sla::parse_month(m).ok_or_else(|| {
            ApiError::bad_request(format!(
                "`month` must be YYYY-MM, such as 2026-11, not {m:?}"
            ))
        })?,
    };
    if let Some(name) = &q.sla
        && !s.config.slas.iter().any(|x| &x.name == name)
    {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no sla named {name:?}"),
        ));
    }
    let (store, config) = (s.store.clone(), s.config.clone());
    let reports = blocking(move || {
        probity_engine::account::sla::reports(store.as_ref(), &config, month, q.sla.as_deref(), now)
    })
    .await?
    .map_err(ApiError::internal)?;
    Ok(Json(reports.iter().map(|r| r.json()).collect::<Vec<_>>()).into_response())
}

/// Every SLO's state now: the indicator, the error budget left, burn rates and alerts.
async fn slo(State(s): State<AppState>) -> ApiResult {
    let (store, config) = (s.store.clone(), s.config.clone());
    let now = jiff::Timestamp::now().as_millisecond();
    let all = blocking(
        move || -> Result<Vec<Value>, probity_engine::store::StoreError> {
            config
                .slos
                .iter()
                .map(|slo| {
                    Ok(probity_engine::account::slo::json(
                        slo,
                        &probity_engine::account::slo::status(store.as_ref(), slo, now)?,
                        now,
                    ))
                })
                .collect()
        },
    )
    .await?
    .map_err(ApiError::internal)?;
    Ok(Json(all).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertsQuery {
    limit: Option<usize>,
}

/// The newest alerts (default 100), each with its delivery attempts.
async fn alerts(
    State(s): State<AppState>,
    q: Result<Query<AlertsQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::bad_request("`limit` is 1 to 10000"));
    }
    let store = s.store.clone();
    let rows = blocking(move || store.alerts(limit))
        .await?
        .map_err(ApiError::internal)?;
    Ok(Json(
        rows.iter()
            .map(|(a, t)| probity_engine::alert::json(a, t))
            .collect::<Vec<_>>(),
    )
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HeartbeatQuery {
    status: Option<String>,
}

/// A ping from a job: `?status=fail` (or a body saying why) reports a failure.
async fn heartbeat(
    State(s): State<AppState>,
    Path(token): Path<String>,
    q: Result<Query<HeartbeatQuery>, axum::extract::rejection::QueryRejection>,
    body: axum::body::Bytes,
) -> ApiResult {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let ok = match q.status.as_deref() {
        None | Some("ok") | Some("success") => true,
        Some("fail") | Some("failure") | Some("error") => false,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "`status` is ok or fail, not {other:?}"
            )));
        }
    };
    let target = s.heartbeats.find(&token).ok_or_else(|| {
        // The token is not echoed: it is a secret, and this may be a typo of a real one.
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no heartbeat has that token",
        )
    })?;
    let message = {
        let text = String::from_utf8_lossy(&body[..body.len().min(1024)]);
        let t = text.trim();
        (!t.is_empty()).then(|| t.chars().take(500).collect::<String>())
    };
    let at = jiff::Timestamp::now().as_millisecond();
    let name = target.name.clone();
    if !s
        .heartbeats
        .ping(probity_engine::schedule::heartbeat::Ping {
            target,
            at_ms: at,
            ok,
            message,
        })
        .await
    {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "stopping",
            "probity is stopping; ping again",
        ));
    }
    Ok(
        Json(json!({"target": name, "status": if ok { "up" } else { "down" }, "at": rfc3339(at)}))
            .into_response(),
    )
}

/// Checks a write request's `Authorization: Bearer TOKEN` against `[server] api_token`, in
/// constant time. Without a configured token every write is refused.
/// Whether the request's bearer token is valid (the configured one, or a stored one).
pub fn authorize_token(s: &AppState, headers: &axum::http::HeaderMap) -> bool {
    let given = probity_ground::auth::bearer(headers);
    if given.is_empty() {
        return false;
    }
    if let Some(expected) = &s.config.server.api_token
        && probity_ground::auth::constant_time_eq(given.as_bytes(), expected.as_bytes())
    {
        return true;
    }
    s.store
        .token_exists(&probity_ground::auth::hash_token(given))
        .unwrap_or(false)
}

fn authorize(s: &AppState, headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
    let given = probity_ground::auth::bearer(headers);
    if let Some(expected) = &s.config.server.api_token
        && probity_ground::auth::constant_time_eq(given.as_bytes(), expected.as_bytes())
    {
        return Ok(());
    }
    // Tokens made by `probity token create`, kept as SHA-256 only: the lookup is by hash.
    let hash = probity_ground::auth::hash_token(given);
    let known = !given.is_empty() && s.store.token_exists(&hash).unwrap_or(false);
    if known {
        return Ok(());
    }
    if s.config.server.api_token.is_none() && s.store.token_count().unwrap_or(0) == 0 {
        // Still 401 (the answer for any request without a valid token), saying how to get one.
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "write endpoints need a token, and none exists: set [server] api_token or make one with `probity token create`",
        ));
    }
    Err(ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "a valid `Authorization: Bearer` token is required",
    ))
}

/// `POST /api/v1/reload`: reads the configuration file again and, if it loads, runs it
/// (targets added, changed and removed; history and open incidents kept). A file that
/// does not load is refused with `probity check`'s messages, and the running one stays.
async fn reload(State(s): State<AppState>, headers: axum::http::HeaderMap) -> ApiResult {
    let st = s.clone();
    blocking(move || authorize(&st, &headers)).await??;
    let Some(tx) = &s.reload else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "this server cannot reload",
        ));
    };
    let (reply, answer) = tokio::sync::oneshot::channel();
    let busy = || {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "stopping",
            "probity is stopping or reloading; try again",
        )
    };
    tx.send(ReloadRequest { reply }).await.map_err(|_| busy())?;
    match answer.await.map_err(|_| busy())? {
        Ok(summary) => Ok(Json(json!({"reloaded": true, "summary": summary})).into_response()),
        Err(problems) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_config",
            problems,
        )),
    }
}

/// An acknowledgment as stored: when, by whom, the note.
type Ack = (i64, String, String);

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AckBody {
    by: Option<String>,
    note: Option<String>,
}

/// Acknowledges an incident: escalations and reminders stop. The first acknowledgment
/// stands; a second one answers with it.
async fn ack(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult {
    authorize(&s, &headers)?;
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::bad_request(format!("incident id must be a number, not {id:?}")))?;
    let b: AckBody = if body.iter().all(u8::is_ascii_whitespace) {
        AckBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("the body is not an acknowledgment: {e}")))?
    };
    let by = b.by.unwrap_or_else(|| "api".into());
    let note = b.note.unwrap_or_default();
    let store = s.store.clone();
    let now = jiff::Timestamp::now().as_millisecond();
    let out = blocking(
        move || -> Result<Option<(bool, Ack)>, probity_engine::store::StoreError> {
            if store.incident(id)?.is_none() {
                return Ok(None);
            }
            let fresh = store.ack_incident(id, now, &by, &note)?;
            Ok(store.incident_ack(id)?.map(|a| (fresh, a)))
        },
    )
    .await?
    .map_err(ApiError::internal)?;
    let (fresh, (at, by, note)) = out.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no incident {id}"),
        )
    })?;
    Ok(Json(json!({"incident_id": id, "acknowledged_at": rfc3339(at), "by": by, "note": note, "already": !fresh})).into_response())
}

// === the public status page ===

fn public_url(s: &AppState) -> String {
    s.config.alerting.public_url.clone().unwrap_or_default()
}

async fn status_page(s: &AppState) -> Result<crate::status_page::Page, ApiError> {
    let (store, config, shared) = (s.store.clone(), s.config.clone(), s.shared.clone());
    let now = jiff::Timestamp::now().as_millisecond();
    blocking(move || crate::status_page::page(store.as_ref(), &config, &shared, now))
        .await?
        .map_err(ApiError::internal)
}

async fn status_html(State(s): State<AppState>) -> ApiResult {
    let page = status_page(&s).await?;
    Ok(axum::response::Html(page.html()).into_response())
}

async fn status_atom(State(s): State<AppState>) -> ApiResult {
    let page = status_page(&s).await?;
    Ok((
        [(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")],
        page.atom(&public_url(&s)),
    )
        .into_response())
}

async fn status_v2(State(s): State<AppState>, Path(path): Path<String>) -> ApiResult {
    let page = status_page(&s).await?;
    page.v2(&path, &public_url(&s))
        .map(|v| Json(v).into_response())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "the Statuspage API v2 here serves summary.json, status.json, components.json, incidents.json, incidents/unresolved.json and scheduled-maintenances.json",
            )
        })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewStatusIncident {
    name: String,
    status: Option<String>,
    impact: Option<String>,
    message: String,
    #[serde(default)]
    components: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewStatusUpdate {
    status: String,
    message: String,
}

fn check_status(v: &str) -> Result<(), ApiError> {
    if crate::status_page::STATUSES.contains(&v) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "`status` is one of {}, not {v:?}",
            crate::status_page::STATUSES.join(", ")
        )))
    }
}

fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body is not valid here: {e} (line {}, column {})",
            e.line(),
            e.column()
        ))
    })
}

/// 201 with the incident as the page shows it: only the components' states are worked
/// out, not the whole page (whose 90-day history a write does not need).
async fn created(s: &AppState, incident: probity_engine::store::StatusIncident) -> ApiResult {
    let (store, config, shared) = (s.store.clone(), s.config.clone(), s.shared.clone());
    let now = jiff::Timestamp::now().as_millisecond();
    let components = blocking(move || -> Result<_, probity_engine::store::StoreError> {
        let incidents = store.status_incidents()?;
        Ok(crate::status_page::component_states(
            &config, &shared, &incidents, now,
        ))
    })
    .await?
    .map_err(ApiError::internal)?;
    Ok((
        StatusCode::CREATED,
        Json(crate::status_page::incident_json(
            &components,
            &incident,
            &public_url(s),
        )),
    )
        .into_response())
}

/// Posts an incident on the public status page.
async fn post_status_incident(
    State(s): State<AppState>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult {
    authorize(&s, &headers)?;
    let b: NewStatusIncident = json_body(&body)?;
    let status = b.status.unwrap_or_else(|| "investigating".into());
    check_status(&status)?;
    let impact = b.impact.unwrap_or_else(|| "minor".into());
    if !crate::status_page::IMPACTS.contains(&impact.as_str()) {
        return Err(ApiError::bad_request(format!(
            "`impact` is one of {}, not {impact:?}",
            crate::status_page::IMPACTS.join(", ")
        )));
    }
    if b.name.trim().is_empty() || b.message.trim().is_empty() {
        return Err(ApiError::bad_request(
            "`name` and `message` must not be empty",
        ));
    }
    for c in &b.components {
        if !s.config.status.components.iter().any(|x| &x.name == c) {
            return Err(ApiError::bad_request(format!(
                "no component named {c:?} (components: {})",
                s.config
                    .status
                    .components
                    .iter()
                    .map(|x| x.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    let now = jiff::Timestamp::now().as_millisecond();
    let incident = probity_engine::store::StatusIncident {
        id: crate::status_page::new_id(),
        name: b.name.trim().to_string(),
        status: status.clone(),
        impact,
        components: b.components,
        created_at_ms: now,
        updated_at_ms: now,
        resolved_at_ms: (status == "resolved").then_some(now),
        updates: vec![probity_engine::store::StatusUpdate {
            id: crate::status_page::new_id(),
            at_ms: now,
            status,
            message: b.message.trim().to_string(),
        }],
    };
    let store = s.store.clone();
    let i = incident.clone();
    blocking(move || store.create_status_incident(&i))
        .await?
        .map_err(ApiError::internal)?;
    created(&s, incident).await
}

/// Adds an update to a status-page incident (and moves it to the update's status).
async fn post_status_update(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult {
    authorize(&s, &headers)?;
    let b: NewStatusUpdate = json_body(&body)?;
    check_status(&b.status)?;
    if b.message.trim().is_empty() {
        return Err(ApiError::bad_request("`message` must not be empty"));
    }
    let update = probity_engine::store::StatusUpdate {
        id: crate::status_page::new_id(),
        at_ms: jiff::Timestamp::now().as_millisecond(),
        status: b.status,
        message: b.message.trim().to_string(),
    };
    let store = s.store.clone();
    let found = blocking(move || store.add_status_update(&id, &update))
        .await?
        .map_err(ApiError::internal)?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "no such status incident",
            )
        })?;
    created(&s, found).await
}

/// A request to reload the configuration: answered with a summary, or with the problems
/// (as `probity check` prints them) when the file does not load.
pub struct ReloadRequest {
    pub reply: tokio::sync::oneshot::Sender<Result<String, String>>,
}
