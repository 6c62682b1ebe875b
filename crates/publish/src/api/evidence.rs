//! The evidence log over HTTP: checkpoints, inclusion and consistency proofs, records.

use crate::state::*;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use probity_engine::store::Store;
use probity_ground::time::Stamp;
use schemars::JsonSchema;
use serde::Serialize;
use std::sync::Arc;

pub(crate) fn proof_error(e: probity_engine::store::StoreError) -> ApiError {
    match e {
        probity_engine::store::StoreError::Proof(p) => match p {
            probity_core::merkle::ProofError::MissingNode { .. } => ApiError::internal(p),
            other => ApiError::bad_request(other.to_string()),
        },
        other => ApiError::internal(other),
    }
}

pub(crate) async fn latest_checkpoint(
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
pub(crate) async fn evidence_checkpoint(State(s): State<AppState>) -> ApiResult {
    let cp = latest_checkpoint(&s.store).await?;
    // With the cosignatures witnesses have given it so far.
    let store = s.store.clone();
    let note = blocking(move || probity_engine::attest::cosign::cosigned_note(store.as_ref(), &cp))
        .await?
        .map_err(ApiError::internal)?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note).into_response())
}

/// The most checkpoints one page holds (one a minute is 1,440 a day).
const CHECKPOINT_PAGE_MAX: u64 = 10_000;

pub(crate) async fn evidence_checkpoints(State(s): State<AppState>, q: Params) -> ApiResult {
    let p = params(q)?;
    let after = number(&p, "after")?;
    let limit = number(&p, "limit")?.unwrap_or(1000);
    if !(1..=CHECKPOINT_PAGE_MAX).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "`limit` is 1 to {CHECKPOINT_PAGE_MAX}"
        )));
    }
    let store = s.store.clone();
    // One more than asked, to know whether another page follows.
    let mut page = blocking(move || store.checkpoints_after(after, limit as usize + 1))
        .await?
        .map_err(ApiError::internal)?;
    let more = page.len() as u64 > limit;
    page.truncate(limit as usize);
    let out: Vec<CheckpointView> = page
        .iter()
        .map(|c| CheckpointView {
            size: c.size,
            root: hex::encode(c.root),
            at: Stamp::ms(c.at_ms),
            note: c.note.clone(),
        })
        .collect();
    let mut resp = Json(&out).into_response();
    if more && let Some(last) = out.last() {
        let next = format!(
            "</api/v1/evidence/checkpoints?after={}&limit={limit}>; rel=\"next\"",
            last.size
        );
        if let Ok(v) = axum::http::HeaderValue::from_str(&next) {
            resp.headers_mut().insert(header::LINK, v);
        }
    }
    Ok(resp)
}

pub(crate) async fn inclusion(State(s): State<AppState>, q: Params) -> ApiResult {
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
    Ok(Json(InclusionView {
        index,
        size,
        leaf_hash: hex::encode(leaf),
        proof: proof.iter().map(hex::encode).collect(),
    })
    .into_response())
}

pub(crate) async fn consistency(State(s): State<AppState>, q: Params) -> ApiResult {
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
    Ok(Json(ConsistencyView {
        old,
        new,
        proof: proof.iter().map(hex::encode).collect(),
    })
    .into_response())
}

/// Most records one request returns.
pub(crate) const RECORDS_MAX: u64 = 1000;

pub(crate) async fn records(State(s): State<AppState>, q: Params) -> ApiResult {
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
    let out: Vec<RecordView> = rows
        .iter()
        .map(|r| RecordView {
            index: r.index,
            leaf_hash: hex::encode(&r.leaf_hash),
            record: base64::engine::general_purpose::STANDARD.encode(&r.record),
        })
        .collect();
    Ok(Json(out).into_response())
}

/// A signed checkpoint.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct CheckpointView {
    /// The tree size it commits to.
    pub size: u64,
    /// The root hash, hex.
    pub root: String,
    pub at: Stamp,
    /// The C2SP signed note.
    pub note: String,
}

/// An RFC 6962 inclusion proof (hashes hex, leaf first).
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct InclusionView {
    pub index: u64,
    pub size: u64,
    pub leaf_hash: String,
    pub proof: Vec<String>,
}

/// An RFC 6962 consistency proof (hashes hex).
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct ConsistencyView {
    pub old: u64,
    pub new: u64,
    pub proof: Vec<String>,
}

/// One leaf of the evidence log: the exact bytes hashed.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct RecordView {
    pub index: u64,
    pub leaf_hash: String,
    /// The record, base64.
    pub record: String,
}
