//! What providers declared: their incidents as probity saw them, the feeds, the scorecard.

use crate::state::*;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use probity_engine::feeds::DeclaredIncident;
use probity_ground::time::Stamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

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
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct ProviderIncidentView {
    #[serde(flatten)]
    pub incident: DeclaredIncident,
    pub feed: String,
    pub first_seen_at: Stamp,
    pub last_seen_at: Stamp,
    /// When it left the feed (providers delete incidents).
    pub removed_at: Option<Stamp>,
    pub changed_after_publication: bool,
    /// The values as probity first saw them.
    pub first_published: probity_engine::feeds::edits::FirstPublished,
    /// Every edit of what was already published: field, before, after, when seen.
    pub edits: Vec<probity_engine::feeds::edits::Edit>,
    pub revisions: Vec<RevisionView>,
}

/// One sighting that differed from the one before.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct RevisionView {
    pub revision: u32,
    pub seen_at: Stamp,
    /// `new`, `changed`, `removed` (gone from the feed) or `returned`.
    pub kind: String,
    /// Whether a value already published was altered or withdrawn.
    pub edited: bool,
    pub changes: Vec<probity_core::provider::FieldChange>,
    /// The evidence log's leaf holding this sighting.
    pub leaf_index: u64,
    pub incident: DeclaredIncident,
}

pub fn provider_incident_json(
    p: &probity_engine::store::StoredProviderIncident,
) -> ProviderIncidentView {
    let mut incident = probity_engine::feeds::incident_json(&p.incident);
    let seen: std::collections::HashMap<(i64, &str), i64> = p
        .update_first_seen
        .iter()
        .map(|(at, status, first)| ((*at, status.as_str()), *first))
        .collect();
    for (u, orig) in incident.updates.iter_mut().zip(&p.incident.updates) {
        u.first_seen_at = Some(Stamp::opt(seen.get(&orig.key()).copied()));
    }
    ProviderIncidentView {
        incident,
        feed: p.feed.clone(),
        first_seen_at: Stamp::ms(p.first_seen_at_ms),
        last_seen_at: Stamp::ms(p.last_seen_at_ms),
        removed_at: Stamp::opt(p.removed_at_ms),
        changed_after_publication: p.changed_after_publication,
        first_published: probity_engine::feeds::edits::first_published(p),
        edits: probity_engine::feeds::edits::edits(&p.revisions.iter().collect::<Vec<_>>()),
        revisions: p
            .revisions
            .iter()
            .map(|r| RevisionView {
                revision: r.revision,
                seen_at: Stamp::ms(r.seen_at_ms),
                kind: r.kind.clone(),
                edited: r.changes.iter().any(|c| c.edit),
                changes: r.changes.clone(),
                leaf_index: r.leaf,
                incident: probity_engine::feeds::incident_json(&r.incident),
            })
            .collect(),
    }
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
    // Shown as the provider wrote them; matched to the target through the feed's map.
    let rows = rows.iter().filter(|p| {
        target.as_ref().is_none_or(|t| {
            let mapped = probity_engine::feeds::mapped(&s.reconcile.components, &p.incident);
            probity_engine::feeds::names::affects(&mapped, t.names())
        })
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

/// A provider status feed and how its polling goes.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct FeedView {
    pub name: String,
    pub provider: String,
    pub format: String,
    pub url: Option<String>,
    pub interval: Option<String>,
    /// False: known from the store only (removed from the configuration, or imported).
    pub configured: bool,
    /// `ok`, `failing` or `never_polled`.
    pub status: &'static str,
    pub last_poll_at: Option<Stamp>,
    pub last_success_at: Option<Stamp>,
    pub last_outcome: Option<String>,
    pub http_status: Option<u16>,
    pub error: Option<String>,
    pub consecutive_failures: u32,
    pub polls: u64,
    pub failures: u64,
    pub active_incidents: u64,
    pub last_document_sha256: Option<String>,
    pub sighting_lag_seconds: Option<f64>,
}

pub(crate) fn feed_json(
    name: &str,
    provider: &str,
    format: &str,
    configured: Option<(&String, String)>,
    st: Option<&probity_engine::store::FeedState>,
    live: Option<&probity_engine::feeds::poll::FeedLive>,
) -> FeedView {
    FeedView {
        name: name.to_string(),
        provider: provider.to_string(),
        format: format.to_string(),
        url: configured.as_ref().map(|c| c.0.clone()),
        interval: configured.as_ref().map(|c| c.1.clone()),
        configured: configured.is_some(),
        status: match st.and_then(|s| s.last_outcome.as_deref()) {
            None => "never_polled",
            Some("error") => "failing",
            Some(_) => "ok",
        },
        last_poll_at: Stamp::opt(st.and_then(|s| s.last_poll_ms)),
        last_success_at: Stamp::opt(st.and_then(|s| s.last_ok_ms)),
        last_outcome: st.and_then(|s| s.last_outcome.clone()),
        http_status: st.and_then(|s| s.http_status),
        error: st.and_then(|s| s.last_error.clone()),
        consecutive_failures: st.map_or(0, |s| s.consecutive_failures),
        polls: st.map_or(0, |s| s.polls),
        failures: st.map_or(0, |s| s.failures),
        active_incidents: st.map_or(0, |s| s.active_incidents),
        last_document_sha256: st.and_then(|s| s.last_sha256.clone()),
        sighting_lag_seconds: live.and_then(|l| l.sighting_lag_s),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScorecardQuery {
    window: Option<String>,
    provider: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// Each provider's scorecard over `[from, to)`: `window` (default 30d) back from `to`
/// (default now) unless `from` is given.
pub(crate) async fn scorecard(
    State(s): State<AppState>,
    q: Result<Query<ScorecardQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let window: probity_core::duration::HumanDuration =
        q.window.as_deref().unwrap_or("30d").parse().map_err(|e| {
            ApiError::bad_request(format!("`window` must be a duration such as 30d: {e}"))
        })?;
    let now = jiff::Timestamp::now().as_millisecond();
    let to = match q.to.as_deref() {
        Some(v) => parse_time(v, "to")?,
        None => now,
    };
    let from = match q.from.as_deref() {
        Some(v) => parse_time(v, "from")?,
        None => to - window.as_millis() as i64,
    };
    if to - from < 60_000 {
        return Err(ApiError::bad_request("the window must be at least 1m"));
    }
    let window_name = if q.from.is_some() || q.to.is_some() {
        probity_core::duration::HumanDuration::from_millis((to - from) as u64).to_string()
    } else {
        window.to_string()
    };
    let (store, targets, cfg) = (s.store.clone(), s.targets.clone(), s.reconcile);
    let span = (from, to);
    let provider = q.provider.clone();
    let cards = blocking(
        move || -> Result<Vec<probity_engine::account::reconcile::ScorecardView>, probity_engine::store::StoreError> {
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
