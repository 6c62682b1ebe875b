//! What every handler shares: the server's state, the typed error answer, running store
//! queries off the async threads, reading times and bodies, and checking tokens.

use axum::Json;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use probity_engine::live::Shared;
use probity_engine::store::Store;
use probity_ground::config::Target;
use serde_json::json;
use std::sync::Arc;

pub type Pushes = Option<tokio::sync::mpsc::Sender<probity_engine::record::Pushed>>;

#[derive(Clone)]
pub struct AppState {
    pub shared: Arc<Shared>,
    pub store: Arc<dyn Store>,
    pub targets: Arc<Vec<Arc<Target>>>,
    pub feeds: Arc<Vec<probity_ground::config::Feed>>,
    pub reconcile: probity_ground::config::ReconcileConfig,
    pub config: Arc<probity_ground::config::Config>,
    pub heartbeats: Arc<probity_engine::schedule::heartbeat::Heartbeats>,
    /// Where agents' pushes go (the recorder); `None` where nothing records them.
    pub pushes: Pushes,
    /// Where reload requests go; `None` where nothing can reload.
    pub reload: Option<tokio::sync::mpsc::Sender<ReloadRequest>>,
    /// Dashboard sign-ins.
    pub sessions: Arc<Sessions>,
    /// Exports a span and metrics per request when `[telemetry]` is set.
    pub telemetry: Option<Arc<probity_engine::telemetry::Telemetry>>,
    /// The log's key, which also cosigns as a witness (`POST /add-checkpoint`).
    pub signer: probity_core::note::NoteSigner,
    /// The targets this server records, when servers share the store (`None`: all).
    pub recorded: Option<Arc<std::collections::BTreeSet<String>>>,
    /// The public status page's uptime bars, kept up to a minute.
    pub status_uptime: Arc<UptimeCache>,
}

impl AppState {
    /// Refuses what only the server recording `target` may take (an agent's result): two
    /// servers tracking one target would open two incidents for one outage. The answer
    /// (421) names the server to send it to; an agent keeps what was refused and sends it
    /// again.
    pub(crate) fn recorded_here(&self, target: &str) -> Result<(), ApiError> {
        let Some(recorded) = &self.recorded else {
            return Ok(());
        };
        if recorded.contains(target) {
            return Ok(());
        }
        let cluster = self.shared.cluster.read().expect("cluster lock");
        let names: Vec<String> = cluster.members.iter().map(|m| m.name.clone()).collect();
        let owner = probity_core::cluster::owner(target, &names)
            .and_then(|o| cluster.members.iter().find(|m| m.name == o));
        Err(ApiError::new(
            StatusCode::MISDIRECTED_REQUEST,
            "misdirected",
            match owner {
                Some(m) => format!(
                    "target {target:?} is recorded by server {:?} ({}), not {:?}: send its results there",
                    m.name, m.address, cluster.me
                ),
                None => format!("target {target:?} is not recorded by this server"),
            },
        ))
    }
}

pub(crate) type Route = fn() -> axum::routing::MethodRouter<AppState>;

/// An error answer.
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    pub(crate) fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "API request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the store could not answer; see the server log",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"error": {"code": self.code, "message": self.message}})),
        )
            .into_response()
    }
}

pub(crate) type ApiResult = Result<Response, ApiError>;

/// Runs a store query off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)
}

pub(crate) fn parse_time(s: &str, what: &str) -> Result<i64, ApiError> {
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(t.as_millisecond());
    }
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(ms);
    }
    Err(ApiError::bad_request(format!(
        "`{what}` must be an RFC 3339 time such as 2026-11-23T10:00:00Z (or Unix milliseconds), not {s:?}"
    )))
}

pub(crate) type Params = Result<
    Query<std::collections::HashMap<String, String>>,
    axum::extract::rejection::QueryRejection,
>;

pub(crate) fn params(q: Params) -> Result<std::collections::HashMap<String, String>, ApiError> {
    q.map(|Query(m)| m)
        .map_err(|e| ApiError::bad_request(e.body_text()))
}

/// A non-negative integer parameter; `None` when absent.
pub(crate) fn number(
    p: &std::collections::HashMap<String, String>,
    key: &str,
) -> Result<Option<u64>, ApiError> {
    p.get(key)
        .map(|v| {
            v.parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!("`{key}` must be a whole number, not {v:?}"))
            })
        })
        .transpose()
}

/// Checks a write request's `Authorization: Bearer TOKEN` against `[server] api_token`, in
/// constant time. Without a configured token every write is refused.
/// Whether the request's bearer token is valid (the configured one, or a stored one).
pub fn authorize_token(s: &AppState, headers: &axum::http::HeaderMap) -> bool {
    let given = probity_ground::auth::bearer(headers);
    !given.is_empty() && token_hash_valid(s, &probity_ground::auth::hash_token(given))
}

/// Whether a token with this SHA-256 may write: the configured one, or a live stored one.
/// Checked on every use, so a revoked token (and every sign-in made with it) stops at once.
pub fn token_hash_valid(s: &AppState, sha256_hex: &str) -> bool {
    if let Some(expected) = &s.config.server.api_token
        && probity_ground::auth::constant_time_eq(
            sha256_hex.as_bytes(),
            probity_ground::auth::hash_token(expected).as_bytes(),
        )
    {
        return true;
    }
    match s.store.token_exists(sha256_hex) {
        Ok(known) => known,
        Err(e) => {
            tracing::error!(error = %e, "cannot check a token; refused");
            false
        }
    }
}

/// Dashboard sign-ins: a random session id in the cookie stands for the token it was made
/// with, which stays in this process (as its hash) and is checked again on every request.
/// The cookie never carries the token.
#[derive(Default)]
pub struct Sessions {
    /// Session id (hex) → (the token's SHA-256, when the session ends).
    by_id: std::sync::Mutex<std::collections::HashMap<String, (String, i64)>>,
}

impl Sessions {
    /// How long a sign-in lasts.
    pub const LIFETIME_MS: i64 = 12 * 3_600_000;

    /// Starts a session for a token (by its hash); returns the session id.
    pub fn start(&self, token_sha256: String, now_ms: i64) -> Option<String> {
        let mut id = [0u8; 32];
        getrandom::fill(&mut id).ok()?;
        let id = hex::encode(id);
        let mut by_id = self.by_id.lock().expect("sessions lock");
        by_id.retain(|_, (_, until)| *until > now_ms);
        by_id.insert(id.clone(), (token_sha256, now_ms + Self::LIFETIME_MS));
        Some(id)
    }

    /// The token hash behind a live session.
    pub fn token_of(&self, id: &str, now_ms: i64) -> Option<String> {
        let by_id = self.by_id.lock().expect("sessions lock");
        by_id
            .get(id)
            .filter(|(_, until)| *until > now_ms)
            .map(|(hash, _)| hash.clone())
    }

    /// Ends a session.
    pub fn end(&self, id: &str) {
        self.by_id.lock().expect("sessions lock").remove(id);
    }
}

pub(crate) fn authorize(s: &AppState, headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
    if authorize_token(s, headers) {
        return Ok(());
    }
    if s.config.server.api_token.is_none() && s.store.token_count().unwrap_or(0) == 0 {
        // Still 401 (the answer for any request without a valid token), saying how to get one.
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "write endpoints need a token, and none exists: set [server] api_token or make one with `probity token create`",
        ));
    }
    Err(ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "a valid `Authorization: Bearer` token is required",
    ))
}

pub(crate) fn public_url(s: &AppState) -> String {
    s.config.alerting.public_url.clone().unwrap_or_default()
}

pub(crate) fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body is not valid here: {e} (line {}, column {})",
            e.line(),
            e.column()
        ))
    })
}

/// A request to reload the configuration: answered with a summary, or with the problems
/// (as `probity check` prints them) when the file does not load.
pub struct ReloadRequest {
    pub reply: tokio::sync::oneshot::Sender<Result<String, String>>,
}

/// Per component, 90 days oldest first: (day start, uptime share or `None`).
pub type Uptime = std::collections::HashMap<String, Vec<(i64, Option<f64>)>>;

/// The page's 90-day uptime bars, kept for up to a minute (within one UTC day): they are
/// daily figures, and the page is public, so a crowd of visitors during an outage costs
/// one read of the daily totals a minute, not one a visit. One per configuration.
#[derive(Default)]
pub struct UptimeCache(std::sync::Mutex<Option<(i64, std::sync::Arc<Uptime>)>>);

impl UptimeCache {
    /// How long bars are kept.
    pub const KEEP_MS: i64 = 60_000;

    /// The bars as of `now_ms`: kept ones if made less than a minute before on the same
    /// day, else `make`'s (one request makes them while the others wait for them).
    pub fn get(
        &self,
        now_ms: i64,
        make: impl FnOnce() -> probity_engine::store::StoreResult<Uptime>,
    ) -> probity_engine::store::StoreResult<std::sync::Arc<Uptime>> {
        const DAY: i64 = 86_400_000;
        let mut kept = self.0.lock().expect("uptime cache lock");
        if let Some((at, bars)) = kept.as_ref()
            && (0..Self::KEEP_MS).contains(&(now_ms - at))
            && at.div_euclid(DAY) == now_ms.div_euclid(DAY)
        {
            return Ok(bars.clone());
        }
        let bars = std::sync::Arc::new(make()?);
        *kept = Some((now_ms, bars.clone()));
        Ok(bars)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bars are made once a minute at most, and again when the day turns.
    #[test]
    fn uptime_bars_are_kept_a_minute_within_a_day() {
        let cache = UptimeCache::default();
        let made = std::cell::Cell::new(0);
        let make = |n: i64| {
            made.set(made.get() + 1);
            let mut u = Uptime::new();
            u.insert("c".into(), vec![(n, Some(1.0))]);
            Ok(u)
        };
        let day = 86_400_000;
        let t0 = 5 * day + 1_000;
        let first = cache.get(t0, || make(1)).unwrap();
        let kept = cache
            .get(t0 + UptimeCache::KEEP_MS - 1, || make(2))
            .unwrap();
        assert!(std::sync::Arc::ptr_eq(&first, &kept));
        assert_eq!(made.get(), 1);
        let later = cache.get(t0 + UptimeCache::KEEP_MS, || make(3)).unwrap();
        assert_eq!(later["c"][0].0, 3);
        // A new day's bars are made at once, however recent the kept ones.
        let t1 = 6 * day - 10;
        cache.get(t1, || make(4)).unwrap();
        let next_day = cache.get(t1 + 20, || make(5)).unwrap();
        assert_eq!(next_day["c"][0].0, 5);
        // A clock that went back does not keep old bars either.
        let back = cache.get(t1, || make(6)).unwrap();
        assert_eq!(back["c"][0].0, 6);
        // A failed read is the request's error, and the next request reads again.
        let expired = t1 + UptimeCache::KEEP_MS;
        let failed = cache.get(expired, || {
            Err(probity_engine::store::StoreError::Config("down".into()))
        });
        assert!(failed.is_err());
        let again = cache.get(expired + 1, || make(7)).unwrap();
        assert_eq!(again["c"][0].0, 7);
        assert_eq!(made.get(), 6);
    }
}
