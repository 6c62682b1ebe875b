//! What providers declared: their incidents as probity saw them, the feeds, the scorecard.

use crate::state::*;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use probity_ground::time::rfc3339;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProviderIncidentsQuery {
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

pub(crate) async fn provider_incidents(
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

pub(crate) async fn feeds(State(s): State<AppState>) -> ApiResult {
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

pub(crate) fn feed_json(
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
pub(crate) struct ScorecardQuery {
    window: Option<String>,
    provider: Option<String>,
}

/// Each provider's scorecard over `window` (default 30d) back from now.
pub(crate) async fn scorecard(
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
