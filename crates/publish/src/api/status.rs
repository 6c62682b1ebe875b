//! The public status page (HTML, Atom, Statuspage v2 JSON) and posting to it.

use crate::state::*;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;

pub(crate) async fn status_page(s: &AppState) -> Result<crate::status_page::Page, ApiError> {
    let (store, config, shared) = (s.store.clone(), s.config.clone(), s.shared.clone());
    let bars = s.status_uptime.clone();
    let now = jiff::Timestamp::now().as_millisecond();
    blocking(move || crate::status_page::page(store.as_ref(), &config, &shared, now, &bars))
        .await?
        .map_err(ApiError::internal)
}

pub(crate) async fn status_html(State(s): State<AppState>) -> ApiResult {
    let page = status_page(&s).await?;
    Ok(axum::response::Html(page.html()).into_response())
}

pub(crate) async fn status_atom(State(s): State<AppState>) -> ApiResult {
    let page = status_page(&s).await?;
    Ok((
        [(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")],
        page.atom(&public_url(&s)),
    )
        .into_response())
}

pub(crate) async fn status_v2(State(s): State<AppState>, Path(path): Path<String>) -> ApiResult {
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
pub(crate) struct NewStatusIncident {
    name: String,
    status: Option<String>,
    impact: Option<String>,
    message: String,
    #[serde(default)]
    components: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewStatusUpdate {
    status: String,
    message: String,
}

pub(crate) fn check_status(v: &str) -> Result<(), ApiError> {
    if crate::status_page::STATUSES.contains(&v) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "`status` is one of {}, not {v:?}",
            crate::status_page::STATUSES.join(", ")
        )))
    }
}

/// 201 with the incident as the page shows it: only the components' states are worked
/// out, not the whole page (whose 90-day history a write does not need).
pub(crate) async fn created(
    s: &AppState,
    incident: probity_engine::store::StatusIncident,
) -> ApiResult {
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
pub(crate) async fn post_status_incident(
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
pub(crate) async fn post_status_update(
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
