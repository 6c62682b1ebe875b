//! Observed incidents, what reconciliation says of each, and acknowledgments.

use crate::state::*;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use probity_engine::store::{IncidentFilter, IncidentRecord};
use probity_ground::time::Stamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
pub(crate) struct IncidentsQuery {
    status: Option<String>,
}

/// An observed incident as the API lists it.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct IncidentView {
    pub id: i64,
    pub target: String,
    pub started_at: Stamp,
    pub resolved_at: Option<Stamp>,
    /// `open` or `resolved`.
    pub status: &'static str,
    /// `degraded` or `down`.
    pub severity: &'static str,
    pub cause: String,
    pub cause_class: &'static str,
    /// Until it resolved, or until now while open.
    pub duration_s: f64,
    /// The results that opened it.
    pub evidence: Vec<i64>,
}

pub fn incident_json(i: &IncidentRecord) -> IncidentView {
    let end = i
        .resolved_at_ms
        .unwrap_or_else(|| jiff::Timestamp::now().as_millisecond());
    IncidentView {
        id: i.id,
        target: i.target.clone(),
        started_at: Stamp::ms(i.started_at_ms),
        resolved_at: Stamp::opt(i.resolved_at_ms),
        status: if i.resolved_at_ms.is_some() {
            "resolved"
        } else {
            "open"
        },
        severity: i.severity.as_str(),
        cause: i.cause.to_string(),
        cause_class: i.cause.class.as_str(),
        duration_s: (end - i.started_at_ms) as f64 / 1000.0,
        evidence: i.evidence.clone(),
    }
}

/// One incident in full.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct IncidentDetail {
    #[serde(flatten)]
    pub incident: IncidentView,
    /// Each change (opened, resolved…) with its leaf in the evidence log and the first
    /// checkpoint covering it.
    pub evidence_log: Vec<EvidenceEntry>,
    /// What each vantage saw when it opened and resolved.
    pub vantages: Vec<SeenView>,
    pub acknowledged: Option<AckView>,
    /// `[[maintenance]]` windows it began in.
    pub maintenance: Vec<String>,
    /// What reconciliation says: `acknowledged`, `unacknowledged`, … or `not_reconciled`.
    pub acknowledgment: String,
    pub declarations: Vec<probity_engine::account::reconcile::DeclarationView>,
    /// How many organisations saw it fail: this one, and each `[[federation.peer]]` whose
    /// signed statement tells of the same provider, service and region at overlapping times.
    pub organisations: u32,
    /// Those peers' logs (origins).
    pub corroborated_by: Vec<String>,
}

/// A change of an incident and where the evidence log holds it.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct EvidenceEntry {
    pub change: String,
    pub leaf_index: u64,
    pub checkpoint_size: Option<u64>,
}

/// One vantage's state at a change.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct SeenView {
    pub change: String,
    pub vantage: String,
    pub status: &'static str,
    pub failing_since: Option<Stamp>,
    pub last_result_at: Option<Stamp>,
}

/// Who acknowledged it, when, with what note.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct AckView {
    pub at: Stamp,
    pub by: String,
    pub note: String,
}

pub(crate) async fn incidents(
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

pub(crate) async fn incident(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult {
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
            log.push(EvidenceEntry {
                change,
                leaf_index: leaf,
                checkpoint_size: covering,
            });
        }
        let seen: Vec<SeenView> = store
            .incident_vantages(id)?
            .into_iter()
            .map(|(change, s)| SeenView {
                change,
                vantage: s.vantage,
                status: s.status.as_str(),
                failing_since: Stamp::opt(s.failing_since_ms),
                last_result_at: Stamp::opt(s.last_at_ms),
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
    // Reconciliation over the incident's own span: the declarations that cover it.
    let (store, targets, cfg) = (s.store.clone(), s.targets.clone(), s.reconcile);
    let now = jiff::Timestamp::now().as_millisecond();
    let window = (
        inc.started_at_ms,
        // To now: what is known of it now, however late it came.
        now.max(inc.started_at_ms + 1),
    );
    let id = inc.id;
    let rec = blocking(
        move || -> Result<
            probity_engine::account::reconcile::IncidentReconciliation,
            probity_engine::store::StoreError,
        > {
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
    let v = IncidentDetail {
        incident: incident_json(inc),
        evidence_log,
        vantages: seen,
        acknowledged: ack.map(|(at, by, note)| AckView {
            at: Stamp::ms(at),
            by,
            note,
        }),
        maintenance: s
            .config
            .maintenance_at(&inc.target, inc.started_at_ms)
            .iter()
            .map(|m| m.name.clone())
            .collect(),
        acknowledgment: rec.acknowledgment,
        declarations: rec.declarations,
        organisations: rec.organisations,
        corroborated_by: rec.corroborated_by,
    };
    Ok(Json(v).into_response())
}

/// An acknowledgment as stored: when, by whom, the note.
pub(crate) type Ack = (i64, String, String);

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct AckBody {
    by: Option<String>,
    note: Option<String>,
}

/// Acknowledges an incident: escalations and reminders stop. The first acknowledgment
/// stands; a second one answers with it.
pub(crate) async fn ack(
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
    Ok(Json(AckAnswer {
        incident_id: id,
        acknowledged_at: Stamp::ms(at),
        by,
        note,
        already: !fresh,
    })
    .into_response())
}

/// The answer to an acknowledgment: the one that stands.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct AckAnswer {
    pub incident_id: i64,
    pub acknowledged_at: Stamp,
    pub by: String,
    pub note: String,
    /// True when an earlier acknowledgment stands and this one changed nothing.
    pub already: bool,
}
