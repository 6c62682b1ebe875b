//! The alert outbox, push heartbeats and configuration reloads.

use crate::state::*;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use probity_ground::time::Stamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AlertsQuery {
    limit: Option<usize>,
}

/// The newest alerts (default 100), each with its delivery attempts.
pub(crate) async fn alerts(
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
pub(crate) struct HeartbeatQuery {
    status: Option<String>,
}

/// A ping from a job: `?status=fail` (or a body saying why) reports a failure.
pub(crate) async fn heartbeat(
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
    // In a cluster another server may watch this heartbeat: say which.
    if s.heartbeats.find(&token).is_none()
        && let Some(t) = probity_engine::schedule::heartbeat::find_in(&s.targets, &token)
    {
        s.recorded_here(&t.name)?;
    }
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
    Ok(Json(Beat {
        target: name,
        status: if ok { "up" } else { "down" },
        at: Stamp::ms(at),
    })
    .into_response())
}

/// `POST /api/v1/reload`: reads the configuration file again and, if it loads, runs it
/// (targets added, changed and removed; history and open incidents kept). A file that
/// does not load is refused with `probity check`'s messages, and the running one stays.
pub(crate) async fn reload(State(s): State<AppState>, headers: axum::http::HeaderMap) -> ApiResult {
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
        Ok(summary) => Ok(Json(Reloaded {
            reloaded: true,
            summary,
        })
        .into_response()),
        Err(problems) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_config",
            problems,
        )),
    }
}

/// A heartbeat as recorded.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Beat {
    pub target: String,
    /// `up` or `down`.
    pub status: &'static str,
    pub at: Stamp,
}

/// A reload that took.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Reloaded {
    pub reloaded: bool,
    /// What changed: targets added, changed, removed.
    pub summary: String,
}
