//! The server's side of agents: their assignment, their pushes, and `/api/v1/vantages`.

use crate::state::{ApiError, AppState, blocking};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use probity_engine::record::PushedItem;
use probity_engine::record::wire::{
    Assignment, MAX_PUSH_BYTES, MAX_PUSH_RESULTS, PushBody, PushResponse, Rejected,
};
use probity_engine::store::VantageRecord;
use probity_ground::time::Stamp;
use probity_ground::vantage::LOCAL as LOCAL_VANTAGE;
use sha2::{Digest, Sha256};

/// The agent a request's bearer token belongs to, or 401.
fn agent_of(s: &AppState, headers: &HeaderMap) -> Result<String, ApiError> {
    let given = probity_ground::auth::bearer(headers);
    // The lookup is by SHA-256: equal hashes mean equal tokens, and the comparison of the
    // secret itself never happens byte by byte.
    let agent = if given.is_empty() {
        None
    } else {
        s.store
            .agent_of_token(&probity_ground::auth::hash_token(given))
            .map_err(|e| {
                tracing::error!(error = %e, "token lookup failed");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the store could not check the token; try again",
                )
            })?
    };
    agent.ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "an agent token is required (`probity token create --agent NAME`); this one is unknown or revoked",
        )
    })
}

/// The assignment of `agent`: its targets as configuration, its controls, and a version.
pub fn assignment(s: &AppState, agent: &str) -> Assignment {
    let targets = s.config.targets_for_vantage(agent);
    let mut doc = toml::Table::new();
    let mut server = toml::Table::new();
    server.insert(
        "max_concurrency".into(),
        toml::Value::Integer(s.config.server.max_concurrency as i64),
    );
    doc.insert("server".into(), toml::Value::Table(server));
    doc.insert(
        "target".into(),
        toml::Value::Array(
            targets
                .iter()
                .map(|t| toml::Value::Table(t.source.table()))
                .collect(),
        ),
    );
    let config = toml::to_string(&doc).unwrap_or_default();
    let controls = s.config.controls_of(agent);
    let version = {
        let mut h = Sha256::new();
        h.update(config.as_bytes());
        for c in &controls {
            h.update(b"\0");
            h.update(c.as_bytes());
        }
        hex::encode(&h.finalize()[..8])
    };
    Assignment {
        vantage: agent.to_string(),
        region: s.config.vantage(agent).and_then(|v| v.region.clone()),
        config_version: version,
        config,
        controls,
        server_time_ms: jiff::Timestamp::now().as_millisecond(),
        max_batch: 1000,
    }
}

/// `GET /api/v1/agent/targets`.
pub async fn targets(State(s): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let st = s.clone();
    let agent = blocking(move || agent_of(&st, &headers)).await??;
    Ok(Json(assignment(&s, &agent)).into_response())
}

/// `POST /api/v1/agent/results`.
pub async fn results(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let received_at_ms = jiff::Timestamp::now().as_millisecond();
    let st = s.clone();
    let agent = blocking(move || agent_of(&st, &headers)).await??;
    let bound = s.config.server.max_clock_offset.as_millis() as i64;
    let assigned: std::collections::HashSet<&str> = s
        .config
        .targets_for_vantage(&agent)
        .into_iter()
        .map(|t| t.name.as_str())
        .collect();
    let checked = check_push(
        &body,
        &agent,
        &|name| s.targets.iter().any(|t| t.name == name),
        &|name| assigned.contains(name),
        bound,
        s.config.server.max_push_age.as_millis() as i64,
        received_at_ms,
    )
    .map_err(|e| ApiError::new(e.status, e.code, e.message))?;
    let Checked {
        push,
        accepted,
        rejected,
        offset,
        corrected,
    } = checked;
    for &i in &accepted {
        s.recorded_here(&push.results[i].target)?;
    }
    if corrected {
        tracing::warn!(vantage = %agent, offset_ms = offset, "agent clock is off; correcting its results' times");
    }
    let shift = if corrected { offset } else { 0 };
    let items: Vec<PushedItem> = accepted
        .iter()
        .map(|&i| {
            let r = &push.results[i];
            PushedItem {
                target: s
                    .targets
                    .iter()
                    .find(|t| t.name == r.target)
                    .expect("checked: the target exists")
                    .clone(),
                output: r.to_output(shift),
                origin: r.id.clone(),
                unmeasured: r.unmeasured,
                clock_offset_ms: corrected.then_some(offset),
            }
        })
        .collect();
    let receipt = if items.is_empty() {
        probity_engine::record::PushReceipt::default()
    } else {
        let Some(tx) = &s.pushes else {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "this server does not take pushes",
            ));
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        let stopping = || {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "stopping",
                "probity is stopping; push again",
            )
        };
        tx.send(probity_engine::record::Pushed {
            vantage: agent.clone(),
            items,
            reply,
        })
        .await
        .map_err(|_| stopping())?;
        answer.await.map_err(|_| stopping())?.map_err(|refused| {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", refused.0)
        })?
    };
    let record = VantageRecord {
        name: agent.clone(),
        region: s
            .config
            .vantage(&agent)
            .and_then(|v| v.region.clone())
            .or(push.region.clone()),
        last_contact_ms: Some(received_at_ms),
        clock_offset_ms: Some(offset),
        rtt_ms: push.rtt_ms,
        backlog: push.backlog,
        dropped: push.dropped,
        controls_ok: push.controls_ok,
        version: push.version.clone(),
        pushes: 1,
        results: receipt.accepted as u64,
        ..VantageRecord::default()
    };
    s.shared
        .vantages
        .write()
        .expect("vantages lock")
        .insert(agent.clone(), record.clone());
    let store = s.store.clone();
    if let Ok(Err(e)) = tokio::task::spawn_blocking(move || store.note_vantage(&record)).await {
        tracing::warn!(error = %e, "could not record the agent's contact");
    }
    let status = if rejected.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let response = PushResponse {
        accepted: receipt.accepted,
        duplicates: receipt.duplicates,
        rejected,
        received_at_ms,
        replied_at_ms: jiff::Timestamp::now().as_millisecond(),
        clock_corrected: corrected,
        config_version: assignment(&s, &agent).config_version,
    };
    Ok((status, Json(response)).into_response())
}

/// Why a push was refused as a whole.
#[derive(Debug)]
pub struct PushError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

/// A push that can be taken: which results to store (by index) and which were rejected.
#[derive(Debug)]
pub struct Checked {
    pub push: PushBody,
    pub accepted: Vec<usize>,
    pub rejected: Vec<Rejected>,
    /// The agent's clock offset as applied: its claim, held within what the server measured
    /// (see [`measured_offset`]).
    pub offset: i64,
    /// Whether the offset is past the bound, so the results' times are corrected by it.
    pub corrected: bool,
}

/// The longest `error` text a pushed result may carry (a probe's own are a line).
pub const MAX_ERROR_BYTES: usize = 4096;
/// The most JSON a pushed result's `details` may hold (a probe's own are well under).
pub const MAX_DETAILS_BYTES: usize = 64 * 1024;

/// How far ahead of the server's clock an agent's result may be, after its clock offset is
/// corrected: what remains of the offset's measuring error.
pub const MAX_AHEAD_MS: i64 = 5_000;

/// The longest a push may take from the agent's `sent_at_ms` to the server reading its
/// last byte (the server's request timeout is shorter).
pub const MAX_TRANSIT_MS: i64 = 60_000;

/// What the server itself can say about an agent's clock offset (server minus agent) from
/// one push: the push was sent at `sent_at_ms` by the agent's clock and fully received at
/// `received_at_ms` by the server's, and it travelled for between 0 and
/// [`MAX_TRANSIT_MS`], so the offset lies in `[received − sent − MAX_TRANSIT_MS,
/// received − sent]`. A claimed offset is applied only within these bounds, so an agent
/// cannot move its results further than its own clock, as the server saw it, allows.
pub fn measured_offset(sent_at_ms: i64, received_at_ms: i64) -> (i64, i64) {
    let hi = received_at_ms.saturating_sub(sent_at_ms);
    (hi.saturating_sub(MAX_TRANSIT_MS), hi)
}

/// Checks a push body from `agent` (authenticated already): the whole body is refused
/// when it is too big, malformed or speaks for another vantage; each result is refused on
/// its own when its target does not exist or is not assigned, its id is empty or too long,
/// or its time is impossible: later than the server's clock plus [`MAX_AHEAD_MS`] (after
/// the clock correction), or older than `max_age_ms`. No I/O.
pub fn check_push(
    body: &[u8],
    agent: &str,
    exists: &dyn Fn(&str) -> bool,
    assigned: &dyn Fn(&str) -> bool,
    bound_ms: i64,
    max_age_ms: i64,
    now_ms: i64,
) -> Result<Checked, PushError> {
    let refuse = |status, code, message: String| PushError {
        status,
        code,
        message,
    };
    if body.len() > MAX_PUSH_BYTES {
        return Err(refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!(
                "a push is at most {MAX_PUSH_BYTES} bytes; this one is {}",
                body.len()
            ),
        ));
    }
    let push: PushBody = serde_json::from_slice(body).map_err(|e| {
        refuse(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("the push is not a valid results batch: {e}"),
        )
    })?;
    if push.vantage != agent {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "this token belongs to vantage `{agent}`, and the push says `{}`",
                push.vantage
            ),
        ));
    }
    if push.results.len() > MAX_PUSH_RESULTS {
        return Err(refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!(
                "a push carries at most {MAX_PUSH_RESULTS} results; this one has {}",
                push.results.len()
            ),
        ));
    }
    let offset = push.clock_offset_ms.unwrap_or(0);
    // An offset beyond a year is not a clock that is off: it is a broken report.
    if offset.checked_abs().is_none_or(|o| o > 366 * 86_400_000) {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("`clock_offset_ms` {offset} is beyond any clock error; measure it again"),
        ));
    }
    // The claim (from the agent's NTP-like exchange) is the precise one; what the server
    // measured bounds it.
    let (lo, hi) = measured_offset(push.sent_at_ms, now_ms);
    let offset = offset.clamp(lo, hi.max(lo));
    let corrected = offset.abs() > bound_ms;
    let shift = if corrected { offset } else { 0 };
    // A result is taken before it is pushed: one from the future would make every other
    // vantage look stale, one from long ago would rewrite settled history.
    let latest = now_ms.saturating_add(MAX_AHEAD_MS);
    let earliest = now_ms.saturating_sub(max_age_ms);
    let mut accepted = Vec::new();
    let mut rejected = Vec::new();
    for (index, r) in push.results.iter().enumerate() {
        let reject = |error: String| Rejected {
            index,
            id: r.id.clone(),
            error,
        };
        if r.id.is_empty() || r.id.len() > 200 {
            rejected.push(reject("`id` must be 1 to 200 characters".into()));
            continue;
        }
        let at = r.at_ms.saturating_add(shift);
        if at > latest {
            rejected.push(reject(format!(
                "`at_ms` {} is {} ms ahead of the server's clock (at most {MAX_AHEAD_MS} ms after the clock correction)",
                r.at_ms,
                at - now_ms
            )));
            continue;
        }
        if at < earliest {
            rejected.push(reject(format!(
                "`at_ms` {} is older than `[server] max_push_age` ({} s) allows",
                r.at_ms,
                max_age_ms / 1000
            )));
            continue;
        }
        if r.error.as_ref().is_some_and(|e| e.len() > MAX_ERROR_BYTES) {
            rejected.push(reject(format!(
                "`error` is at most {MAX_ERROR_BYTES} bytes"
            )));
            continue;
        }
        if r.details
            .as_ref()
            .is_some_and(|d| d.to_string().len() > MAX_DETAILS_BYTES)
        {
            rejected.push(reject(format!(
                "`details` is at most {MAX_DETAILS_BYTES} bytes of JSON"
            )));
            continue;
        }
        let p = &r.phases;
        if [p.dns_ms, p.connect_ms, p.tls_ms, p.ttfb_ms, p.total_ms]
            .into_iter()
            .flatten()
            .any(|ms| !(0.0..=86_400_000.0).contains(&ms))
        {
            rejected.push(reject(
                "phase times are milliseconds from 0 to one day".into(),
            ));
            continue;
        }
        if !exists(&r.target) {
            rejected.push(reject(format!("no target named {:?}", r.target)));
            continue;
        }
        if !assigned(&r.target) {
            rejected.push(reject(format!(
                "target {:?} is not assigned to vantage `{agent}`",
                r.target
            )));
            continue;
        }
        accepted.push(index);
    }
    Ok(Checked {
        push,
        accepted,
        rejected,
        offset,
        corrected,
    })
}

/// How long without contact before an agent is `stale`.
const STALE_AFTER_MS: i64 = 60_000;

/// `GET /api/v1/vantages`: each vantage's last contact, clock, backlog and health.
pub async fn vantages(State(s): State<AppState>) -> Result<Response, ApiError> {
    let store = s.store.clone();
    let stored = blocking(move || store.vantages())
        .await?
        .map_err(ApiError::internal)?;
    Ok(Json(vantages_json(&s, &stored)).into_response())
}

/// One vantage as `GET /api/v1/vantages` shows it.
#[derive(Clone, Debug, serde::Serialize, schemars::JsonSchema)]
pub struct VantageView {
    pub name: String,
    /// `local` (the server itself) or `agent`.
    pub kind: &'static str,
    pub region: Option<String>,
    /// Whether a `[[vantage]]` table names it.
    pub declared: bool,
    /// When an agent first called (absent for the server itself).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_contact: Option<Option<Stamp>>,
    pub last_contact: Option<Stamp>,
    /// How long ago an agent last called (absent for the server itself).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds_since_contact: Option<Option<f64>>,
    pub clock_offset_ms: Option<i64>,
    /// An agent's last round trip (absent for the server itself).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<Option<i64>>,
    /// `reference` (the server), `ok`, `corrected` (beyond `max_clock_offset`) or `unknown`.
    pub clock: &'static str,
    pub backlog: u64,
    pub dropped: u64,
    pub controls: Vec<String>,
    pub controls_ok: Option<bool>,
    /// `ok`, `impaired` (its controls fail), `stale` (silent over a minute) or `never`.
    pub health: &'static str,
    /// Pushes, results and version of an agent (absent for the server itself).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pushes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub results: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<Option<String>>,
    pub targets: usize,
}

pub fn vantages_json(s: &AppState, stored: &[VantageRecord]) -> Vec<VantageView> {
    let now = jiff::Timestamp::now().as_millisecond();
    let bound = s.config.server.max_clock_offset.as_millis() as i64;
    let mut names: Vec<String> = vec![LOCAL_VANTAGE.to_string()];
    for v in &s.config.vantages {
        if !names.contains(&v.name) {
            names.push(v.name.clone());
        }
    }
    for v in stored {
        if !names.contains(&v.name) {
            names.push(v.name.clone());
        }
    }
    let local_controls = *s.shared.local_controls_ok.read().expect("controls lock");
    names
        .iter()
        .map(|name| {
            let declared = s.config.vantage(name);
            let targets = s.config.targets_for_vantage(name).len();
            if name == LOCAL_VANTAGE {
                return VantageView {
                    name: name.clone(),
                    kind: "local",
                    region: declared.and_then(|d| d.region.clone()),
                    declared: declared.is_some(),
                    first_contact: None,
                    last_contact: Some(Stamp::ms(now)),
                    seconds_since_contact: None,
                    clock_offset_ms: Some(0),
                    rtt_ms: None,
                    clock: "reference",
                    backlog: 0,
                    dropped: 0,
                    controls: s.config.controls_of(name),
                    controls_ok: local_controls,
                    health: match local_controls {
                        Some(false) => "impaired",
                        _ => "ok",
                    },
                    pushes: None,
                    results: None,
                    version: None,
                    targets,
                };
            }
            let rec = stored.iter().find(|v| &v.name == name);
            let last = rec.and_then(|r| r.last_contact_ms);
            let offset = rec.and_then(|r| r.clock_offset_ms);
            let health = match (last, rec.and_then(|r| r.controls_ok)) {
                (None, _) => "never",
                (Some(l), _) if now - l > STALE_AFTER_MS => "stale",
                (_, Some(false)) => "impaired",
                _ => "ok",
            };
            VantageView {
                name: name.clone(),
                kind: "agent",
                region: declared
                    .and_then(|d| d.region.clone())
                    .or(rec.and_then(|r| r.region.clone())),
                declared: declared.is_some(),
                first_contact: Some(Stamp::opt(rec.and_then(|r| r.first_contact_ms))),
                last_contact: Stamp::opt(last),
                seconds_since_contact: Some(last.map(|l| (now - l) as f64 / 1000.0)),
                clock_offset_ms: offset,
                rtt_ms: Some(rec.and_then(|r| r.rtt_ms)),
                clock: match offset {
                    None => "unknown",
                    Some(o) if o.abs() > bound => "corrected",
                    Some(_) => "ok",
                },
                backlog: rec.map_or(0, |r| r.backlog),
                dropped: rec.map_or(0, |r| r.dropped),
                controls: s.config.controls_of(name),
                controls_ok: rec.and_then(|r| r.controls_ok),
                health,
                pushes: Some(rec.map_or(0, |r| r.pushes)),
                results: Some(rec.map_or(0, |r| r.results)),
                version: Some(rec.and_then(|r| r.version.clone())),
                targets,
            }
        })
        .collect()
}

/// One vantage's view of a target.
#[derive(Clone, Debug, serde::Serialize, schemars::JsonSchema)]
pub struct TargetVantage {
    pub vantage: String,
    /// `up`, `degraded`, `down`, `unknown`, `unmeasured` or `stale`.
    pub status: &'static str,
    pub failing_since: Option<Stamp>,
    pub last_result_at: Option<Stamp>,
}

/// The per-vantage view of one target, for `GET /api/v1/targets/{name}`.
pub fn target_vantages(live: Option<&probity_engine::live::TargetLive>) -> Vec<TargetVantage> {
    live.map_or_else(Vec::new, |l| {
        l.vantages
            .iter()
            .map(|v| TargetVantage {
                vantage: v.vantage.clone(),
                status: v.status.as_str(),
                failing_since: Stamp::opt(v.failing_since_ms),
                last_result_at: Stamp::opt(v.last_at_ms),
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const NOW: i64 = 1_795_000_000_000;
    const WEEK: i64 = 7 * 86_400_000;

    fn push(results: &[(&str, i64)], offset: i64) -> Vec<u8> {
        push_sent(results, offset, NOW - offset)
    }

    /// A push sent at `sent` by the agent's clock.
    fn push_sent(results: &[(&str, i64)], offset: i64, sent: i64) -> Vec<u8> {
        let results: Vec<Value> = results
            .iter()
            .map(|(id, at)| {
                serde_json::json!({"id": id, "target": "web", "at_ms": at, "health": "down",
                    "phases": {}, "error_class": "connect", "error": "refused"})
            })
            .collect();
        serde_json::to_vec(&serde_json::json!({
            "vantage": "edge", "sent_at_ms": sent, "clock_offset_ms": offset, "results": results
        }))
        .unwrap()
    }

    fn check(body: &[u8]) -> Checked {
        check_push(
            body,
            "edge",
            &|t| t == "web",
            &|t| t == "web",
            2000,
            WEEK,
            NOW,
        )
        .unwrap_or_else(|e| panic!("{}", e.message))
    }

    fn rejected(c: &Checked) -> Vec<(&str, &str)> {
        c.rejected
            .iter()
            .map(|r| (r.id.as_str(), r.error.as_str()))
            .collect()
    }

    /// Results from the future or from long ago are refused one by one; the rest stand.
    #[test]
    fn times_outside_the_window_are_refused() {
        let c = check(&push(
            &[
                ("now", NOW - 1_000),
                ("ahead", NOW + 60_000),
                ("day-ahead", NOW + 86_400_000),
                ("y2k", 946_684_800_001),
                ("old", NOW - WEEK - 1),
                ("last-week", NOW - WEEK + 60_000),
                ("slightly-ahead", NOW + 4_000),
            ],
            0,
        ));
        assert_eq!(c.accepted, [0, 5, 6]);
        let r = rejected(&c);
        assert_eq!(
            r.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
            ["ahead", "day-ahead", "y2k", "old"]
        );
        assert!(
            r[0].1.contains("60000 ms ahead of the server's clock"),
            "{}",
            r[0].1
        );
        assert!(
            r[3].1.contains("older than `[server] max_push_age`"),
            "{}",
            r[3].1
        );
    }

    /// A clock that is off is corrected first, then the window applies: an agent 20 days
    /// behind cannot plant results in the past by saying so.
    #[test]
    fn the_window_applies_after_the_clock_correction() {
        // An agent one hour slow reports results an hour "ago" with an offset of +1 h.
        let c = check(&push(&[("a", NOW - 3_600_000)], 3_600_000));
        assert_eq!(c.accepted, [0]);
        assert!(c.corrected);
        // A claimed offset of -20 days moves a fresh result out of the window.
        let c = check(&push(&[("b", NOW)], -20 * 86_400_000));
        assert!(c.accepted.is_empty());
        assert!(rejected(&c)[0].1.contains("max_push_age"));
    }

    /// The server measures the offset itself from the push's `sent_at_ms`: a claim beyond
    /// what it measured is held to the measurement, so an agent whose clock is right cannot
    /// shift its results by claiming to be 20 days off, nor by a day when it is an hour off.
    #[test]
    fn a_claimed_offset_is_held_within_what_the_server_measured() {
        // Honest clock (sent at NOW), claims -20 days: held to the measured [-60 s, 0].
        let c = check(&push_sent(&[("a", NOW - 1000)], -20 * 86_400_000, NOW));
        assert_eq!(c.offset, -MAX_TRANSIT_MS);
        assert_eq!(c.accepted, [0]);
        // Claims +1 day while its clock is an hour slow: held to one hour.
        let c = check(&push_sent(
            &[("b", NOW - 3_600_000)],
            86_400_000,
            NOW - 3_600_000,
        ));
        assert_eq!(c.offset, 3_600_000);
        assert_eq!(c.accepted, [0]);
        // No claim from an agent an hour slow: the measurement alone corrects it, within
        // the transit allowance.
        let c = check(&push_sent(&[("c", NOW - 3_600_000)], 0, NOW - 3_600_000));
        assert!(c.corrected);
        assert_eq!(c.offset, 3_600_000 - MAX_TRANSIT_MS);
        // A claim inside the bounds is taken as it is (it is the more precise).
        let c = check(&push_sent(&[("d", NOW)], 1_234, NOW - 1_300));
        assert_eq!(c.offset, 1_234);
        assert_eq!(
            measured_offset(NOW - 1_300, NOW),
            (1_300 - MAX_TRANSIT_MS, 1_300)
        );
    }

    /// A result's text and details are bounded: an agent cannot fill the store through them.
    #[test]
    fn oversized_fields_are_refused() {
        let mut v: Value = serde_json::from_slice(&push(
            &[("big-error", NOW), ("big-details", NOW), ("ok", NOW)],
            0,
        ))
        .unwrap();
        v["results"][0]["error"] = Value::String("e".repeat(MAX_ERROR_BYTES + 1));
        v["results"][1]["details"] = serde_json::json!({"body": "d".repeat(MAX_DETAILS_BYTES)});
        let c = check(&serde_json::to_vec(&v).unwrap());
        assert_eq!(c.accepted, [2]);
        let r = rejected(&c);
        assert!(
            r[0].1.contains("`error` is at most 4096 bytes"),
            "{}",
            r[0].1
        );
        assert!(
            r[1].1.contains("`details` is at most 65536 bytes"),
            "{}",
            r[1].1
        );
    }
}
