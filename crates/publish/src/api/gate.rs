//! `POST /api/v1/gate/judge`: judges a `[[gate]]` (the canary target's results against the
//! baseline target's, over the gate's window) and records the verdict in the evidence log.
//!
//! One endpoint serves both rollout tools unchanged:
//! - **Argo Rollouts' `web` provider** sends the body it is given (`{"gate": "checkout"}`)
//!   and needs a 2xx JSON answer whose field a `successCondition` reads
//!   (`result.verdict == "pass"`): it gets 200 whatever the verdict.
//! - **Flagger's webhooks** send `{"name", "namespace", "phase", "checksum", "metadata"}`
//!   and proceed on HTTP 200–202 only: a body with a `phase` gets 200 on a pass and 412
//!   otherwise, with the same JSON. The gate is `metadata.gate`, else the canary's `name`;
//!   since Flagger sends no headers, `metadata.token` may stand for the bearer token.
//!
//! `?strict=true` or `false` overrides the status rule either way.

use crate::state::*;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use probity_core::judge::{Judgement, Verdict};

/// What the endpoint accepts: Argo's body (`gate`, optional `window`) or Flagger's.
#[derive(serde::Deserialize)]
pub(crate) struct JudgeBody {
    gate: Option<String>,
    /// A window other than the gate's, such as "10m".
    window: Option<String>,
    // Flagger's payload.
    name: Option<String>,
    #[allow(dead_code)]
    namespace: Option<String>,
    phase: Option<String>,
    #[allow(dead_code)]
    checksum: Option<String>,
    #[serde(default)]
    metadata: std::collections::BTreeMap<String, String>,
}

/// The answer: the judgement, with what was compared and where it was recorded.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub(crate) struct GateAnswer {
    pub gate: String,
    /// `target:NAME` of each side.
    pub baseline: String,
    pub canary: String,
    /// The window judged, `[from, to)`, RFC 3339.
    pub from: String,
    pub to: String,
    /// The evidence log's leaf holding this verdict.
    pub evidence_leaf: u64,
    #[serde(flatten)]
    pub judgement: Judgement,
}

pub(crate) async fn gate_judge(
    State(s): State<AppState>,
    q: Result<
        Query<std::collections::HashMap<String, String>>,
        axum::extract::rejection::QueryRejection,
    >,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult {
    // Flagger's webhooks cannot send headers: its payload may carry the token in
    // `metadata.token` instead (checked the same way; never echoed or recorded).
    let parsed: Result<JudgeBody, ApiError> = json_body(&body);
    let in_metadata = parsed
        .as_ref()
        .ok()
        .and_then(|b| b.metadata.get("token"))
        .is_some_and(|t| {
            !t.is_empty() && token_hash_valid(&s, &probity_ground::auth::hash_token(t))
        });
    if !in_metadata {
        authorize(&s, &headers)?;
    }
    let b = parsed?;
    let flagger = b.phase.is_some();
    // Everything about the request is checked before a verdict is recorded.
    let Query(q) = q.map_err(|e| ApiError::bad_request(format!("the query: {e}")))?;
    let strict = match q.get("strict").map(String::as_str) {
        None => flagger,
        Some("true") => true,
        Some("false") => false,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "`strict` is true or false, not {other:?}"
            )));
        }
    };
    let name = b
        .gate
        .clone()
        .or_else(|| b.metadata.get("gate").cloned())
        .or_else(|| b.name.clone())
        .ok_or_else(|| {
            ApiError::bad_request(
                "name the gate: {\"gate\": \"NAME\"} (Argo), or metadata.gate or the canary's name (Flagger)",
            )
        })?;
    let Some(gate) = s.config.gates.iter().find(|g| g.name == name).cloned() else {
        let known: Vec<&str> = s.config.gates.iter().map(|g| g.name.as_str()).collect();
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!(
                "no [[gate]] named {name:?} (configured: {})",
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
            ),
        ));
    };
    let window_ms = match b.window.or_else(|| b.metadata.get("window").cloned()) {
        None => gate.window.as_millis() as i64,
        Some(w) => {
            let d: probity_core::duration::HumanDuration = w
                .parse()
                .map_err(|e| ApiError::bad_request(format!("`window`: {e}")))?;
            if !(10_000..=86_400_000).contains(&d.as_millis()) {
                return Err(ApiError::bad_request("`window` is 10s to 24h"));
            }
            d.as_millis() as i64
        }
    };
    let to = jiff::Timestamp::now().as_millisecond();
    let from = to - window_ms;
    let store = s.store.clone();
    let g = gate.clone();
    let (judgement, leaf) = blocking(move || -> Result<(Judgement, u64), String> {
        let base = probity_engine::gate::stored(store.as_ref(), &g.baseline, from, to)
            .map_err(|e| e.to_string())?;
        let canary = probity_engine::gate::stored(store.as_ref(), &g.canary, from, to)
            .map_err(|e| e.to_string())?;
        let j = probity_core::judge::judge(&base, &canary, &g.settings);
        let mut record = probity_engine::store::leaf::VerdictRecord::new(
            to,
            (
                format!("target:{}", g.baseline),
                format!("target:{}", g.canary),
            ),
            (Some(from), Some(to)),
            &j,
        );
        record.gate = Some(g.name.clone());
        let leaf = store
            .append_evidence(&[probity_engine::store::leaf::verdict_record(&record)])
            .map_err(|e| e.to_string())?;
        Ok((j, leaf))
    })
    .await?
    .map_err(ApiError::internal)?;
    let status = if strict && judgement.verdict != Verdict::Pass {
        StatusCode::PRECONDITION_FAILED
    } else {
        StatusCode::OK
    };
    let rfc = probity_ground::time::rfc3339;
    let answer = GateAnswer {
        gate: gate.name,
        baseline: format!("target:{}", gate.baseline),
        canary: format!("target:{}", gate.canary),
        from: rfc(from),
        to: rfc(to),
        evidence_leaf: leaf,
        judgement,
    };
    Ok((status, Json(answer)).into_response())
}
