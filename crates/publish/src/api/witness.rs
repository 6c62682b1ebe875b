//! `POST /add-checkpoint`: this server as a C2SP tlog-witness for the logs in
//! `[[witness.log]]`. The checkpoint's signature is the request's only credential; the
//! decision is `probity_core::witness::judge_request`, and "the old size is still the one
//! recorded, record the new one" is one transaction, committed before the cosignature is
//! given, so this witness never cosigns two histories of one log.

use crate::state::*;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use probity_core::witness::{self, Answer};

fn plain(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

fn conflict(size: u64) -> Response {
    (
        StatusCode::CONFLICT,
        [(header::CONTENT_TYPE, "text/x.tlog.size")],
        format!("{size}\n"),
    )
        .into_response()
}

pub(crate) async fn add_checkpoint(State(s): State<AppState>, body: axum::body::Bytes) -> Response {
    let Ok(text) = std::str::from_utf8(&body) else {
        return plain(StatusCode::BAD_REQUEST, "the body is not UTF-8\n".into());
    };
    let req = match witness::parse_request(text) {
        Ok(r) => r,
        Err(e) => return plain(StatusCode::BAD_REQUEST, format!("{e}\n")),
    };
    let store = s.store.clone();
    let logs = s.config.witness.logs.clone();
    let signer = s.signer.clone();
    let answer = blocking(move || -> Result<Response, String> {
        let mut lookup_failed = None;
        let answer = witness::judge_request(&req, &logs, |origin| match store.witnessed(origin) {
            Ok(v) => v,
            Err(e) => {
                lookup_failed = Some(e.to_string());
                None
            }
        });
        if let Some(e) = lookup_failed {
            return Err(e);
        }
        Ok(match answer {
            Answer::Cosign {
                origin,
                old,
                size,
                root,
                text,
            } => {
                let now = jiff::Timestamp::now();
                if !store
                    .advance_witnessed(&origin, old, size, root, now.as_millisecond())
                    .map_err(|e| e.to_string())?
                {
                    // Another request moved the record first: the size it holds now.
                    let known = store
                        .witnessed(&origin)
                        .map_err(|e| e.to_string())?
                        .map_or(0, |(size, _)| size);
                    return Ok(conflict(known));
                }
                let time = now.as_second().max(1) as u64;
                tracing::info!(origin, old, size, "cosigned a checkpoint");
                plain(StatusCode::OK, witness::cosign(&signer, &text, time))
            }
            Answer::BadRequest(m) => plain(StatusCode::BAD_REQUEST, format!("{m}\n")),
            Answer::Forbidden(m) => plain(StatusCode::FORBIDDEN, format!("{m}\n")),
            Answer::UnknownLog(m) => plain(StatusCode::NOT_FOUND, format!("{m}\n")),
            Answer::Conflict(size) => conflict(size),
            Answer::Unprocessable(m) => {
                tracing::warn!(problem = %m, "refused to cosign a checkpoint");
                plain(StatusCode::UNPROCESSABLE_ENTITY, format!("{m}\n"))
            }
        })
    })
    .await;
    match answer {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "the witness could not read or write its record");
            plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "the witness's store is unavailable\n".into(),
            )
        }
        Err(_) => plain(StatusCode::SERVICE_UNAVAILABLE, "unavailable\n".into()),
    }
}
