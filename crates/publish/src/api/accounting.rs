//! SLA months and SLO states.

use crate::state::*;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SlaQuery {
    month: Option<String>,
    sla: Option<String>,
}

/// The month's SLA reports, as `probity sla report --format json` prints them.
pub(crate) async fn sla(
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
pub(crate) async fn slo(State(s): State<AppState>) -> ApiResult {
    let (store, config) = (s.store.clone(), s.config.clone());
    let now = jiff::Timestamp::now().as_millisecond();
    let all = blocking(
        move || -> Result<Vec<probity_engine::account::slo::SloView>, probity_engine::store::StoreError> {
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
