//! Asking witnesses (`[[witness.peer]]`) to cosign this log's latest checkpoint, C2SP
//! tlog-witness: the old size each witness last cosigned, a consistency proof from it, the
//! signed checkpoint. A 409 says what the witness holds (after a lost record here); the
//! request is made again from there, once. Cosignatures that verify with the witness's key
//! are kept and served with the checkpoint.

use crate::store::{Store, StoredCheckpoint};
use probity_core::witness;
use probity_ground::config::WitnessPeer;
use std::sync::Arc;

/// What one witness said this round.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It cosigned the checkpoint of this size.
    Cosigned(u64),
    /// It had cosigned this size already.
    Already,
    /// It refused, or could not be reached (why).
    Failed(String),
}

/// Asks each peer to cosign the latest checkpoint; each answer is independent.
pub async fn ask_all(
    store: &Arc<dyn Store>,
    peers: &[WitnessPeer],
    client: &reqwest::Client,
) -> Vec<(String, Outcome)> {
    let latest = {
        let s = store.clone();
        match tokio::task::spawn_blocking(move || s.latest_checkpoint()).await {
            Ok(Ok(Some(cp))) => cp,
            _ => return Vec::new(),
        }
    };
    let mut out = Vec::new();
    for p in peers {
        let o = ask(store, p, &latest, client).await;
        match &o {
            Outcome::Failed(why) => {
                tracing::warn!(witness = p.key.name(), url = %p.display, problem = %why, "a witness did not cosign")
            }
            Outcome::Cosigned(size) => tracing::debug!(witness = p.key.name(), size, "cosigned"),
            Outcome::Already => {}
        }
        out.push((p.key.name().to_string(), o));
    }
    out
}

async fn ask(
    store: &Arc<dyn Store>,
    peer: &WitnessPeer,
    cp: &StoredCheckpoint,
    client: &reqwest::Client,
) -> Outcome {
    let (s, name, size) = (store.clone(), peer.key.name().to_string(), cp.size);
    let known = tokio::task::spawn_blocking(move || -> crate::store::StoreResult<(bool, u64)> {
        let have = s.cosignatures(size)?.iter().any(|(w, _)| *w == name);
        Ok((have, s.cosigned_size(&name)?.unwrap_or(0)))
    })
    .await;
    let (have, mut old) = match known {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => return Outcome::Failed(e.to_string()),
        Err(e) => return Outcome::Failed(e.to_string()),
    };
    if have {
        return Outcome::Already;
    }
    for attempt in 0..2 {
        if old > cp.size {
            return Outcome::Failed(format!(
                "the witness holds size {old}, past this log's {}: this log was rolled back or forked",
                cp.size
            ));
        }
        let proof = if old == 0 || old == cp.size {
            Vec::new()
        } else {
            let s = store.clone();
            let (o, n) = (old, cp.size);
            match tokio::task::spawn_blocking(move || s.consistency_proof(o, n)).await {
                Ok(Ok(p)) => p,
                Ok(Err(e)) => return Outcome::Failed(e.to_string()),
                Err(e) => return Outcome::Failed(e.to_string()),
            }
        };
        let body = witness::request_body(old, &proof, &cp.note);
        let resp = match client
            .post(format!("{}/add-checkpoint", peer.url))
            .body(body)
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => return Outcome::Failed(probity_ground::http_client::describe(e)),
        };
        let status = resp.status();
        let text = match read_bounded(resp).await {
            Ok(t) => t,
            Err(e) => return Outcome::Failed(e),
        };
        if status.as_u16() == 409 && attempt == 0 {
            match text.trim().parse::<u64>() {
                Ok(n) => {
                    old = n;
                    continue;
                }
                Err(_) => return Outcome::Failed("a 409 without a size".into()),
            }
        }
        if !status.is_success() {
            return Outcome::Failed(format!("HTTP {status}: {}", text.trim()));
        }
        // Keep the line that verifies with the witness's key; ignore any others.
        for line in text.lines() {
            let line = format!("{line}\n");
            let cosigned = format!("{}{line}", cp.note);
            if let Ok(Some(_)) = witness::verify_cosignature(&cosigned, &peer.key) {
                let (s, name, size) = (store.clone(), peer.key.name().to_string(), cp.size);
                let at = jiff::Timestamp::now().as_millisecond();
                return match tokio::task::spawn_blocking(move || {
                    s.add_cosignature(size, &name, &line, at)
                })
                .await
                {
                    Ok(Ok(())) => Outcome::Cosigned(cp.size),
                    Ok(Err(e)) => Outcome::Failed(e.to_string()),
                    Err(e) => Outcome::Failed(e.to_string()),
                };
            }
        }
        return Outcome::Failed(
            "the answer holds no cosignature that verifies with the witness's key".into(),
        );
    }
    Outcome::Failed("the witness moved again".into())
}

/// An answer's body, at most 64 KiB.
async fn read_bounded(resp: reqwest::Response) -> Result<String, String> {
    use probity_ground::http_client::{Unread, read_limited};
    let body = read_limited(resp, 64 * 1024).await.map_err(|e| match e {
        Unread::TooLarge(_) => "the answer is larger than 64 KiB".to_string(),
        Unread::Broke(e) => e,
    })?;
    String::from_utf8(body).map_err(|_| "the answer is not UTF-8".into())
}

/// The checkpoint note of `cp` with every kept cosignature appended.
pub fn cosigned_note(
    store: &dyn Store,
    cp: &StoredCheckpoint,
) -> crate::store::StoreResult<String> {
    let mut note = cp.note.clone();
    for (_, line) in store.cosignatures(cp.size)? {
        note.push_str(&line);
    }
    Ok(note)
}
