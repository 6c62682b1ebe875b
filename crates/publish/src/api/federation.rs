//! `POST /api/v1/federation/statements`: a peer's signed outage statement. The signature
//! is the credential (a `[[federation.peer]]` key); the checks, the rate limit and the
//! store are `probity_engine::attest::federation::receive`. `GET` lists what peers sent.

use crate::state::*;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use probity_ground::time::Stamp;

/// The answer to a statement that was taken.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub(crate) struct Taken {
    /// The sender's log.
    origin: String,
    /// The sender's incident id.
    incident: i64,
    /// Whether the incident had ended.
    ended: bool,
    /// False when this version of the statement was here already.
    kept: bool,
}

pub(crate) async fn receive_statement(
    State(s): State<AppState>,
    body: axum::body::Bytes,
) -> Result<Json<Taken>, ApiError> {
    let (store, cfg, shared) = (
        s.store.clone(),
        s.config.federation.clone(),
        s.shared.clone(),
    );
    let now = jiff::Timestamp::now().as_millisecond();
    let got = blocking(move || {
        probity_engine::attest::federation::receive(
            store.as_ref(),
            &cfg,
            &shared.peer_rates,
            &body,
            now,
        )
    })
    .await?;
    match got {
        Ok((st, kept)) => Ok(Json(Taken {
            origin: st.origin,
            incident: st.incident,
            ended: st.end_ms.is_some(),
            kept,
        })),
        Err(r) => Err(ApiError::new(
            StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST),
            r.code,
            r.message,
        )),
    }
}

/// A statement a peer sent, as kept.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub(crate) struct StatementView {
    origin: String,
    incident: i64,
    provider: String,
    service: String,
    region: String,
    start: Stamp,
    /// Absent while the incident was open.
    end: Option<Stamp>,
    vantages: u32,
    received: Stamp,
}

#[derive(serde::Deserialize)]
pub(crate) struct Since {
    since: Option<String>,
}

pub(crate) async fn list_statements(
    State(s): State<AppState>,
    Query(q): Query<Since>,
) -> Result<Json<Vec<StatementView>>, ApiError> {
    let now = jiff::Timestamp::now().as_millisecond();
    let since = match q.since.as_deref() {
        Some(t) => parse_time(t, "since")?,
        None => now - 30 * 86_400_000,
    };
    let store = s.store.clone();
    let rows = blocking(move || store.statements(since, i64::MAX))
        .await?
        .map_err(ApiError::internal)?;
    Ok(Json(
        rows.into_iter()
            .map(|r| StatementView {
                origin: r.statement.origin,
                incident: r.statement.incident,
                provider: r.statement.provider,
                service: r.statement.service,
                region: r.statement.region,
                start: Stamp::ms(r.statement.start_ms),
                end: Stamp::opt(r.statement.end_ms),
                vantages: r.statement.vantages,
                received: Stamp::ms(r.received_ms),
            })
            .collect(),
    ))
}
