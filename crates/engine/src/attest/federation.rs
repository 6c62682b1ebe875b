//! Federation's edges: this server's outage statements made from its store and sent to
//! the peers in `[[federation.peer]]`, and the statements peers send, checked
//! (`probity_core::federation::verify`), rate-limited and kept apart from the evidence log.
//!
//! An incident is shared when its target names a provider, a service and a region (and
//! `[federation] providers` admits the provider): only those three names, its times, its
//! vantage count and the leaf hashes of its records travel, never the target's name or
//! URL. A statement is made once a checkpoint covers its records; the open version while
//! the incident lasts, the ended one after. Each peer's delivery is recorded, so a restart
//! sends nothing twice that was acknowledged, and a peer's answer to a repeat is harmless.

use crate::live::PeerRates;
use crate::store::{IncidentFilter, Store, StoreError, StoreResult};
use probity_core::federation::{self, Envelope, MAX_ENVELOPE_BYTES, Refusal, Statement};
use probity_core::merkle::Hash;
use probity_core::note::NoteSigner;
use probity_ground::config::{FederationConfig, Target};
use std::sync::Arc;

/// How far back incidents are shared (a peer that joins later hears of the last 30 days).
const SHARE_WINDOW_MS: i64 = 30 * 86_400_000;

/// The statements of this server's incidents that a checkpoint covers now, of those
/// `wanted(incident, ended)` asks for: the proofs and signatures are made only for them, so
/// a round where every peer has everything already costs a read of the incidents.
pub fn statements(
    store: &dyn Store,
    signer: &NoteSigner,
    cfg: &FederationConfig,
    targets: &[Arc<Target>],
    now_ms: i64,
    wanted: &dyn Fn(i64, bool) -> StoreResult<bool>,
) -> StoreResult<Vec<(Statement, Envelope)>> {
    let Some(cp) = store.latest_checkpoint()? else {
        return Ok(Vec::new());
    };
    let seen_by = store.failing_vantage_counts()?;
    let by_name: std::collections::HashMap<&str, &Target> = targets
        .iter()
        .map(|t| (t.name.as_str(), t.as_ref()))
        .collect();
    let mut out = Vec::new();
    for i in store.incidents(IncidentFilter::All)? {
        if i.resolved_at_ms
            .is_some_and(|r| r < now_ms - SHARE_WINDOW_MS)
        {
            continue;
        }
        let Some(t) = by_name.get(i.target.as_str()) else {
            continue;
        };
        let n = t.names();
        let (Some(provider), Some(service), Some(region)) = (n.provider, n.service, n.region)
        else {
            continue;
        };
        if !cfg.shares(provider) {
            continue;
        }
        let leaves = store.incident_leaves(i.id)?;
        let leaf = |change: &str| leaves.iter().find(|(c, _)| c == change).map(|(_, x)| *x);
        let Some(opened) = leaf("opened").filter(|x| *x < cp.size) else {
            continue;
        };
        let resolved = leaf("resolved").filter(|x| *x < cp.size);
        let (end_ms, indexes) = match (i.resolved_at_ms, resolved) {
            (Some(end), Some(r)) => (Some(end), vec![opened, r]),
            _ => (None, vec![opened]),
        };
        if !wanted(i.id, end_ms.is_some())? {
            continue;
        }
        let proven = indexes
            .iter()
            .map(|x| store.inclusion_proof(*x, cp.size))
            .collect::<StoreResult<Vec<_>>>()?;
        let st = Statement {
            origin: signer.name().to_string(),
            incident: i.id,
            provider: provider.to_string(),
            service: service.to_string(),
            region: region.to_string(),
            start_ms: i.started_at_ms,
            end_ms,
            vantages: seen_by.get(&i.id).copied().unwrap_or(1).max(1),
            leaves: indexes
                .iter()
                .zip(&proven)
                .map(|(x, (h, _))| (*x, *h))
                .collect(),
        };
        let proofs: Vec<Vec<Hash>> = proven.into_iter().map(|(_, p)| p).collect();
        let env = st
            .seal(signer, &cp.note, &proofs)
            .map_err(|e| StoreError::Corrupt(format!("signing a statement: {e}")))?;
        out.push((st, env));
    }
    Ok(out)
}

/// What one round of sharing did with one peer.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Shared {
    pub sent: usize,
    pub failed: Vec<String>,
}

/// Sends each peer the statements it has not acknowledged yet.
pub async fn share(
    store: &Arc<dyn Store>,
    signer: &NoteSigner,
    cfg: &FederationConfig,
    targets: &Arc<Vec<Arc<Target>>>,
    client: &reqwest::Client,
) -> Vec<(String, Shared)> {
    if !cfg.publish || cfg.peers.is_empty() {
        return Vec::new();
    }
    let (s, sig, c, t) = (store.clone(), signer.clone(), cfg.clone(), targets.clone());
    let now = jiff::Timestamp::now().as_millisecond();
    // Wanted: the statements some peer has not taken yet.
    let made = tokio::task::spawn_blocking(move || {
        let wanted = |incident: i64, ended: bool| -> StoreResult<bool> {
            for peer in &c.peers {
                if !s.statement_sent(peer.key.name(), incident, ended)? {
                    return Ok(true);
                }
            }
            Ok(false)
        };
        statements(s.as_ref(), &sig, &c, &t, now, &wanted)
    })
    .await
    .map_err(|e| StoreError::Corrupt(e.to_string()))
    .and_then(|r| r);
    let made = match made {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(error = %e, "could not make outage statements");
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for peer in &cfg.peers {
        let name = peer.key.name().to_string();
        let mut done = Shared::default();
        for (st, env) in &made {
            let ended = st.end_ms.is_some();
            let (s, n, id) = (store.clone(), name.clone(), st.incident);
            let sent = tokio::task::spawn_blocking(move || s.statement_sent(&n, id, ended)).await;
            if !matches!(sent, Ok(Ok(false))) {
                continue;
            }
            let sent = send(client, &peer.url, env).await;
            if let Err(Delivery::Refused(why) | Delivery::Later(why)) = &sent {
                tracing::warn!(peer = %name, url = %peer.display, incident = id, problem = %why, "a peer did not take an outage statement");
                done.failed.push(why.clone());
            }
            match sent {
                // Taken, or refused for what it is (the peer does not accept that provider,
                // say): not sent again, so a refusal cannot hold up the statements after it.
                Ok(()) | Err(Delivery::Refused(_)) => {
                    let (s, n) = (store.clone(), name.clone());
                    let at = jiff::Timestamp::now().as_millisecond();
                    let _ = tokio::task::spawn_blocking(move || {
                        s.mark_statement_sent(&n, id, ended, at)
                    })
                    .await;
                    done.sent += usize::from(sent.is_ok());
                }
                // Down, overloaded or rate-limiting: the rest waits for the next round.
                Err(Delivery::Later(_)) => break,
            }
        }
        out.push((name, done));
    }
    out
}

/// Why a statement was not delivered.
enum Delivery {
    /// The peer answered 4xx (not 429): this statement will not be taken as it is.
    Refused(String),
    /// Unreachable, 5xx or 429: try again next round.
    Later(String),
}

async fn send(client: &reqwest::Client, url: &str, env: &Envelope) -> Result<(), Delivery> {
    let body = serde_json::to_vec(env).map_err(|e| Delivery::Refused(e.to_string()))?;
    let resp = client
        .post(format!("{url}/api/v1/federation/statements"))
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| Delivery::Later(probity_ground::http_client::describe(e)))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let text = resp.text().await.unwrap_or_default();
    let text: String = text.chars().take(300).collect();
    let why = format!("HTTP {status}: {}", text.trim());
    Err(
        if status.is_client_error() && status != reqwest::StatusCode::TOO_MANY_REQUESTS {
            Delivery::Refused(why)
        } else {
            Delivery::Later(why)
        },
    )
}

/// Why a peer's statement was not kept, with the HTTP status that says so.
#[derive(Debug, PartialEq, Eq)]
pub struct Refused {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

fn refused(status: u16, code: &'static str, message: impl Into<String>) -> Refused {
    Refused {
        status,
        code,
        message: message.into(),
    }
}

/// Takes a statement a peer sent: bounded, from a configured peer (by its signature),
/// within its rate, verified, of a provider this server accepts. Returns the statement
/// and whether it was new.
pub fn receive(
    store: &dyn Store,
    cfg: &FederationConfig,
    rates: &PeerRates,
    body: &[u8],
    now_ms: i64,
) -> Result<(Statement, bool), Refused> {
    if body.len() > MAX_ENVELOPE_BYTES {
        return Err(refused(
            413,
            "too_large",
            format!("a statement is at most {MAX_ENVELOPE_BYTES} bytes"),
        ));
    }
    let env: Envelope = serde_json::from_slice(body)
        .map_err(|e| refused(400, "bad_request", format!("not a statement envelope: {e}")))?;
    let (_, sigs) = probity_core::note::split_note(&env.statement)
        .map_err(|e| refused(400, "bad_request", format!("the statement: {e}")))?;
    let Some(peer) = sigs.iter().find_map(|s| cfg.peer(&s.name)) else {
        return Err(refused(
            403,
            "unknown_peer",
            "the statement is not signed by a configured [[federation.peer]]",
        ));
    };
    // Statements whose signature is the peer's count against its own budget; the rest
    // (someone using its name) against a budget of their own, so a forger can neither
    // flood nor use up what the real peer may send.
    let signed =
        probity_core::note::verify_note(&env.statement, std::slice::from_ref(&peer.key)).is_ok();
    let bucket = if signed {
        peer.key.name().to_string()
    } else {
        format!("unverified {}", peer.key.name())
    };
    if !rates.admit(&bucket, peer.max_per_minute, now_ms) {
        return Err(refused(
            429,
            "rate_limited",
            format!(
                "more than {} statements in a minute from {}",
                peer.max_per_minute,
                peer.key.name()
            ),
        ));
    }
    let st = federation::verify(&env, &peer.key, now_ms).map_err(|e| {
        let (status, code) = match e {
            Refusal::Malformed(_) => (400, "bad_request"),
            Refusal::Signature(_) => (403, "bad_signature"),
            Refusal::Proof(_) => (422, "bad_proof"),
            Refusal::Time(_) => (422, "bad_time"),
        };
        tracing::warn!(peer = peer.key.name(), problem = %e, "refused an outage statement");
        refused(status, code, e.to_string())
    })?;
    if !cfg.shares(&st.provider) {
        return Err(refused(
            403,
            "not_accepted",
            format!(
                "statements about {:?} are not accepted here ([federation] providers)",
                st.provider
            ),
        ));
    }
    let kept = store
        .add_statement(&st, &env, now_ms)
        .map_err(|e| refused(503, "unavailable", format!("the store: {e}")))?;
    if kept {
        tracing::info!(peer = peer.key.name(), incident = st.incident, provider = %st.provider, service = %st.service, region = %st.region, "kept an outage statement");
    }
    Ok((st, kept))
}
