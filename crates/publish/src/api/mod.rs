//! The HTTP API (JSON under `/api/v1`), `/metrics` and `/healthz`.
//!
//! Errors are typed JSON, `{"error": {"code", "message"}}`, with the fitting status code; a
//! malformed request is a 400, never a 500.
//!
//! One module per resource; this one holds the route table (`operations`), from which both
//! the router and the OpenAPI document are built.

mod accounting;
mod alerts;
mod cluster;
mod evidence;
mod federation;
mod gate;
mod incidents;
mod providers;
mod status;
mod targets;
mod witness;

use crate::state::*;
use accounting::*;
use alerts::*;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use cluster::*;
use evidence::*;
use federation::*;
use gate::*;
use incidents::*;
use providers::*;
use serde_json::Value;
use status::*;
use targets::*;

/// Every operation of the API: the router serves these routes and `/api/openapi.json`
/// describes them, from this one table.
pub fn operations() -> Vec<crate::openapi::Op<Route>> {
    use crate::openapi::{self as oa, Auth, Body, Op, Out};
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
        out: Out::Media("text/plain"),
        errors: &[],
        also: &[],
        route: None,
    };
    vec![
        Op {
            out: Out::Media("text/plain"),
            route: Some(|| get(healthz)),
            errors: &[503],
            ..op(
                "get",
                "/healthz",
                "healthz",
                "service",
                "Whether the server answers and can store what it measures",
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
            out: Out::Json(oa::of::<Vec<TargetView>>),
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
            out: Out::Json(oa::of::<TargetDetail>),
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
            out: Out::Json(oa::of::<Vec<ResultView>>),
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
            out: Out::Json(oa::of::<Vec<RollupView>>),
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
            out: Out::Json(oa::of::<Vec<CheckpointView>>),
            route: Some(|| get(evidence_checkpoints)),
            errors: &[400, 503],
            query: &[
                ("after", "string", "only checkpoints of a size above this"),
                (
                    "limit",
                    "string",
                    "1 to 10000 (default 1000); a Link header (rel=\"next\") names the next page",
                ),
            ],
            ..op(
                "get",
                "/api/v1/evidence/checkpoints",
                "listCheckpoints",
                "evidence",
                "Signed checkpoints, oldest first, a page at a time",
            )
        },
        Op {
            out: Out::Json(oa::of::<InclusionView>),
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
            out: Out::Json(oa::of::<ConsistencyView>),
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
            out: Out::Json(oa::of::<Vec<RecordView>>),
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
            out: Out::Json(oa::of::<Vec<IncidentView>>),
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
            out: Out::Json(oa::of::<IncidentDetail>),
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
            out: Out::Json(oa::of::<AckAnswer>),
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
            out: Out::Json(oa::of::<Vec<ProviderIncidentView>>),
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
            out: Out::Json(oa::of::<Vec<FeedView>>),
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
            out: Out::Json(oa::of::<Vec<probity_engine::account::reconcile::ScorecardView>>),
            route: Some(|| get(scorecard)),
            errors: &[400, 404, 503],
            query: &[
                (
                    "window",
                    "string",
                    "a duration such as 30d (default 30d), back from `to`",
                ),
                (
                    "from",
                    "string",
                    "the window's start (default: `to` minus `window`)",
                ),
                ("to", "string", "the window's end, excluded (default now)"),
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
            out: Out::Json(oa::of::<Vec<probity_engine::account::sla::SlaView>>),
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
            out: Out::Json(oa::of::<Vec<probity_engine::account::slo::SloView>>),
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
            out: Out::Json(oa::of::<Vec<probity_engine::alert::AlertView>>),
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
            out: Out::Json(oa::of::<crate::status_page::SpDocument>),
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
            out: Out::Json(oa::of::<crate::status_page::SpDocument>),
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
            out: Out::Json(oa::of::<crate::status_page::SpDocument>),
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
            out: Out::Json(oa::of::<crate::status_page::SpDocument>),
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
            out: Out::Json(oa::of::<crate::status_page::SpDocument>),
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
            out: Out::Json(oa::of::<crate::status_page::SpDocument>),
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
            out: Out::Json(oa::of::<crate::status_page::SpIncident>),
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
            out: Out::Json(oa::of::<crate::status_page::SpIncident>),
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
            out: Out::Json(oa::of::<Beat>),
            route: Some(|| get(heartbeat)),
            errors: &[400, 404, 421, 503],
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
            out: Out::Json(oa::of::<Beat>),
            route: Some(|| post(heartbeat)),
            body: Body::Text,
            errors: &[400, 404, 421, 503],
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
            route: Some(|| get(crate::agents::targets)),
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
                post(crate::agents::results).layer(axum::extract::DefaultBodyLimit::max(
                    probity_engine::record::wire::MAX_PUSH_BYTES + 1,
                ))
            }),
            auth: Auth::Agent,
            body: Body::Json(oa::of::<probity_engine::record::wire::PushBody>),
            errors: &[400, 403, 413, 421, 503],
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
            out: Out::Json(oa::of::<Vec<crate::agents::VantageView>>),
            route: Some(|| get(crate::agents::vantages)),
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
            out: Out::Json(oa::of::<ClusterView>),
            route: Some(|| get(cluster)),
            errors: &[503],
            ..op(
                "get",
                "/api/v1/cluster",
                "getCluster",
                "servers",
                "The servers sharing the store: each one's heartbeat and targets, and the server that runs each one-at-a-time job",
            )
        },
        Op {
            out: Out::Json(oa::of::<GateAnswer>),
            route: Some(|| post(gate_judge)),
            auth: Auth::Api,
            body: Body::Json(oa::gate_judge_body),
            errors: &[400, 404, 503],
            also: &[(
                412,
                "Strict (Flagger's payload, or ?strict=true) and the verdict is not a pass: the judgement, as with 200.",
                oa::of::<GateAnswer>,
            )],
            query: &[(
                "strict",
                "boolean",
                "answer 412 unless the verdict is pass (default: true for Flagger's payload, false otherwise)",
            )],
            ..op(
                "post",
                "/api/v1/gate/judge",
                "gateJudge",
                "gate",
                "Judge a [[gate]]'s canary against its baseline now, and record the verdict",
            )
        },
        Op {
            out: Out::Json(oa::of::<Taken>),
            route: Some(|| {
                post(receive_statement).layer(axum::extract::DefaultBodyLimit::max(
                    probity_core::federation::MAX_ENVELOPE_BYTES,
                ))
            }),
            body: Body::Json(oa::of::<probity_core::federation::Envelope>),
            errors: &[400, 403, 413, 422, 429, 503],
            ..op(
                "post",
                "/api/v1/federation/statements",
                "sendStatement",
                "federation",
                "Take a peer's signed outage statement (the signature of a [[federation.peer]] key is the credential)",
            )
        },
        Op {
            out: Out::Json(oa::of::<Vec<StatementView>>),
            route: Some(|| get(list_statements)),
            errors: &[400, 503],
            query: &[(
                "since",
                "string",
                "statements of incidents that had not ended by then (default: 30 days ago)",
            )],
            ..op(
                "get",
                "/api/v1/federation/statements",
                "listStatements",
                "federation",
                "The outage statements peers sent, the latest version of each",
            )
        },
        Op {
            out: Out::Json(oa::of::<Reloaded>),
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
            route: Some(|| get(crate::badges::status)),
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
            route: Some(|| get(crate::badges::uptime)),
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
    DOC.get_or_init(|| crate::openapi::document(&operations()))
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
        .route("/", get(landing))
        .route("/assets/live.js", get(live_js))
        .route("/dashboard", get(crate::dashboard::overview))
        .route(
            "/dashboard/login",
            get(crate::dashboard::login_form).post(crate::dashboard::login),
        )
        .route("/dashboard/targets/{name}", get(crate::dashboard::target))
        .route("/dashboard/incidents/{id}", get(crate::dashboard::incident))
        .route("/dashboard/scorecard", get(crate::dashboard::scorecard))
        .route("/dashboard/sla", get(crate::dashboard::sla))
        .route("/api/v2/{*path}", get(status_v2))
        // C2SP tlog-witness: a protocol of its own (text bodies), outside the JSON API.
        .route(
            "/add-checkpoint",
            axum::routing::post(witness::add_checkpoint).layer(
                axum::extract::DefaultBodyLimit::max(probity_core::witness::MAX_REQUEST_BYTES),
            ),
        );
    // Each matched request is a span when telemetry is on.
    let r = match state.telemetry.clone() {
        Some(t) => r.route_layer(axum::middleware::from_fn_with_state(
            t,
            probity_engine::telemetry::record_request,
        )),
        None => r,
    };
    r.fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint") })
        .layer(axum::middleware::map_response(harden))
        .with_state(state)
}

/// `GET /assets/live.js`: the one script pages carry, which keeps them current.
async fn live_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        include_str!("../../assets/live.js"),
    )
        .into_response()
}

/// `GET /`: the public status page when the configuration has components, otherwise the
/// dashboard (which asks to sign in first); both link the rest.
async fn landing(axum::extract::State(s): axum::extract::State<AppState>) -> Response {
    let to = if s.config.status.components.is_empty() {
        "/dashboard"
    } else {
        "/status"
    };
    axum::response::Redirect::to(to).into_response()
}

/// How long results may fail to be stored before the server says it is unhealthy.
pub const UNHEALTHY_AFTER_MS: i64 = 10_000;

/// `ok` while the server runs and stores what it measures; 503 with the reason once
/// results could not be stored for longer than [`UNHEALTHY_AFTER_MS`] (a full disk, a
/// damaged store), so a supervisor or load balancer can act.
async fn healthz(axum::extract::State(s): axum::extract::State<AppState>) -> Response {
    let failing = s
        .shared
        .write_failing
        .read()
        .expect("write health lock")
        .clone();
    let now = jiff::Timestamp::now().as_millisecond();
    match failing {
        Some((since, error)) if now - since > UNHEALTHY_AFTER_MS => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unhealthy",
            format!(
                "results cannot be stored since {} ({} s): {error}",
                probity_ground::time::rfc3339(since),
                (now - since) / 1000
            ),
        )
        .into_response(),
        _ => "ok\n".into_response(),
    }
}

/// What every answer gets on its way out: `nosniff` everywhere, a policy that lets pages
/// load nothing from elsewhere and run only the server's own script (`/assets/live.js`), and the documented JSON
/// error for a body over an endpoint's limit (the limit itself answers in plain text).
async fn harden(mut res: Response) -> Response {
    let media = |res: &Response| {
        res.headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    if res.status() == StatusCode::PAYLOAD_TOO_LARGE && !media(&res).starts_with("application/json")
    {
        res = ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "the body is larger than this endpoint takes",
        )
        .into_response();
    }
    let html = media(&res).starts_with("text/html");
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    if html {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            header::HeaderValue::from_static(
                "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
        );
        h.insert(
            header::REFERRER_POLICY,
            header::HeaderValue::from_static("no-referrer"),
        );
    }
    res
}
