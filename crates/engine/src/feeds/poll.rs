//! Polling `[[feed]]`s: conditional requests (ETag, Last-Modified), a size limit enforced
//! while reading, a timeout, and backoff after failures. Every poll, good or bad, is stored
//! with its evidence leaf; a poll that fails changes nothing already stored.

use super::{Format, MAX_DOCUMENT};
use crate::store::{FeedPoll, PollOutcome, PollSummary, Store};
use probity_ground::config::Feed;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::watch;

/// A feed's live polling figures, for `/metrics`.
#[derive(Clone, Debug, Default)]
pub struct FeedLive {
    pub ok: u64,
    pub not_modified: u64,
    pub failed: u64,
    pub consecutive_failures: u32,
    pub last_success_ms: Option<i64>,
    pub last_duration_s: f64,
    /// Seconds from a provider's stated publication to probity's first sighting, for the
    /// newest incident that states one.
    pub sighting_lag_s: Option<f64>,
    /// Bytes of documents the feed has stored.
    pub stored_bytes: u64,
}

pub type FeedsLive = RwLock<HashMap<String, FeedLive>>;

/// What came back from one request.
#[derive(Debug)]
pub struct Fetched {
    pub status: u16,
    pub body: Vec<u8>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub retry_after: Option<Duration>,
}

/// A client for feeds: rustls, a user agent that names probity, no automatic retries.
pub fn client() -> anyhow::Result<reqwest::Client> {
    probity_ground::http_client::client(probity_ground::http_client::Purpose::Feeds, None)
}

/// Fetches a feed with its validators; reads at most [`MAX_DOCUMENT`] bytes, then gives up.
pub async fn fetch(
    client: &reqwest::Client,
    url: &str,
    timeout: Duration,
    etag: Option<&str>,
    last_modified: Option<&str>,
) -> Result<Fetched, String> {
    let mut req = client.get(url).timeout(timeout);
    if let Some(e) = etag {
        req = req.header(reqwest::header::IF_NONE_MATCH, e);
    }
    if let Some(l) = last_modified {
        req = req.header(reqwest::header::IF_MODIFIED_SINCE, l);
    }
    let resp = req
        .send()
        .await
        .map_err(probity_ground::http_client::describe)?;
    let header = |name: reqwest::header::HeaderName| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let etag = header(reqwest::header::ETAG);
    let last_modified = header(reqwest::header::LAST_MODIFIED);
    let retry_after = header(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let status = resp.status().as_u16();
    use probity_ground::http_client::{Unread, read_limited};
    let body = read_limited(resp, MAX_DOCUMENT)
        .await
        .map_err(|e| match e {
            Unread::TooLarge(Some(len)) => {
                format!("the response is {len} bytes; the limit is {MAX_DOCUMENT}")
            }
            Unread::TooLarge(None) => format!(
                "the response is larger than the {MAX_DOCUMENT}-byte limit; stopped reading"
            ),
            Unread::Broke(e) => e,
        })?;
    Ok(Fetched {
        status,
        body,
        etag,
        last_modified,
        retry_after,
    })
}

/// The most of a failed poll's body kept as evidence: enough to see what came instead of a
/// feed (an error page, a captive portal), never a disk's worth.
pub const MAX_ERROR_BODY: usize = 64 * 1024;

fn truncated(mut body: Vec<u8>) -> Vec<u8> {
    body.truncate(MAX_ERROR_BODY);
    body
}

/// Turns a document into a poll of `feed` at `at_ms`: parsed incidents (with the feed's
/// provider and name) or a failure that keeps the body (its first [`MAX_ERROR_BODY`]
/// bytes) as evidence.
pub fn poll_of(
    feed: &Feed,
    at_ms: i64,
    http_status: Option<u16>,
    body: Vec<u8>,
    etag: Option<String>,
    last_modified: Option<String>,
    duration_ms: f64,
) -> FeedPoll {
    let outcome = match super::parse(feed.format, &body, &feed.name) {
        Ok(mut incidents) => {
            for i in &mut incidents {
                i.provider = feed.provider.clone();
                i.source = feed.name.clone();
            }
            PollOutcome::Ok { body, incidents }
        }
        Err(e) => PollOutcome::Failed {
            error: e.to_string(),
            body: Some(truncated(body)),
        },
    };
    FeedPoll {
        feed: feed.name.clone(),
        provider: feed.provider.clone(),
        format: feed.format.name().into(),
        at_ms,
        http_status,
        outcome,
        etag,
        last_modified,
        duration_ms,
        overwrites_in_place: feed.format == Format::AzureRss,
    }
}

/// Polls `feed` once and stores what came back. Returns the summary and, for the caller's
/// backoff, how long the server asked to be left alone.
pub async fn poll_once(
    client: &reqwest::Client,
    store: &Arc<dyn Store>,
    feed: &Feed,
) -> anyhow::Result<(PollSummary, FeedPoll, Option<Duration>)> {
    let state = {
        let s = store.clone();
        let name = feed.name.clone();
        tokio::task::spawn_blocking(move || s.feed_states())
            .await??
            .into_iter()
            .find(|f| f.feed == name)
    };
    // Validators only after a good document: a failed poll must not make the next one
    // conditional on something never stored.
    let (etag, last_modified) = state
        .filter(|s| s.last_sha256.is_some())
        .map(|s| (s.etag, s.last_modified))
        .unwrap_or_default();
    let at_ms = jiff::Timestamp::now().as_millisecond();
    let started = std::time::Instant::now();
    let fetched = fetch(
        client,
        &feed.url,
        feed.timeout.as_std(),
        etag.as_deref(),
        last_modified.as_deref(),
    )
    .await;
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    let mut retry_after = None;
    let poll = match fetched {
        Ok(f) if f.status == 304 => FeedPoll {
            feed: feed.name.clone(),
            provider: feed.provider.clone(),
            format: feed.format.name().into(),
            at_ms,
            http_status: Some(304),
            outcome: PollOutcome::NotModified,
            etag: f.etag.or(etag),
            last_modified: f.last_modified.or(last_modified),
            duration_ms,
            overwrites_in_place: feed.format == Format::AzureRss,
        },
        Ok(f) if f.status == 200 => poll_of(
            feed,
            at_ms,
            Some(200),
            f.body,
            f.etag,
            f.last_modified,
            duration_ms,
        ),
        Ok(f) => {
            retry_after = f.retry_after;
            FeedPoll {
                feed: feed.name.clone(),
                provider: feed.provider.clone(),
                format: feed.format.name().into(),
                at_ms,
                http_status: Some(f.status),
                outcome: PollOutcome::Failed {
                    error: format!("HTTP {}", f.status),
                    body: (!f.body.is_empty()).then(|| truncated(f.body)),
                },
                etag: None,
                last_modified: None,
                duration_ms,
                overwrites_in_place: false,
            }
        }
        Err(error) => FeedPoll {
            feed: feed.name.clone(),
            provider: feed.provider.clone(),
            format: feed.format.name().into(),
            at_ms,
            http_status: None,
            outcome: PollOutcome::Failed { error, body: None },
            etag: None,
            last_modified: None,
            duration_ms,
            overwrites_in_place: false,
        },
    };
    let s = store.clone();
    let p = poll.clone();
    let summary = tokio::task::spawn_blocking(move || s.record_feed_poll(&p)).await??;
    Ok((summary, poll, retry_after))
}

/// The wait before the next poll: the interval, doubled for each failure in a row up to an
/// hour (or the interval, if longer), never less than the server's `Retry-After`; with ±10%
/// jitter so feeds started together drift apart.
pub fn next_delay(
    interval: Duration,
    consecutive_failures: u32,
    retry_after: Option<Duration>,
    jitter: f64,
) -> Duration {
    let cap = interval.max(Duration::from_secs(3600));
    let base = if consecutive_failures == 0 {
        interval
    } else {
        interval
            .saturating_mul(1u32 << (consecutive_failures - 1).min(16))
            .min(cap)
    };
    let base = base.max(retry_after.unwrap_or_default());
    base.mul_f64(1.0 + jitter.clamp(-0.1, 0.1))
}

/// Polls every feed on its interval until `shutdown` turns true.
pub async fn run(
    feeds: Vec<Feed>,
    store: Arc<dyn Store>,
    live: Arc<FeedsLive>,
    shutdown: watch::Receiver<bool>,
) {
    let client = match client() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the feed client; feeds are not polled");
            return;
        }
    };
    let mut tasks = Vec::new();
    for feed in feeds {
        let (client, store, live, mut stop) = (
            client.clone(),
            store.clone(),
            live.clone(),
            shutdown.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut failures = 0u32;
            loop {
                let delay_hint = match poll_once(&client, &store, &feed).await {
                    Ok((summary, poll, retry_after)) => {
                        if let PollOutcome::Ok { incidents, .. } = &poll.outcome {
                            sighting_lag(
                                &live,
                                &feed.name,
                                poll.at_ms,
                                incidents,
                                &summary.new_ids,
                            );
                        }
                        note(&live, &feed.name, &poll, &mut failures);
                        live.write()
                            .expect("feeds lock")
                            .entry(feed.name.clone())
                            .or_default()
                            .stored_bytes = summary.stored_bytes;
                        match &poll.outcome {
                            PollOutcome::Failed { error, .. } => tracing::warn!(
                                feed = %feed.name, url = %feed.display, %error, failures,
                                "feed poll failed; nothing stored before is changed"
                            ),
                            _ if summary.new + summary.changed + summary.removed > 0 => {
                                tracing::info!(
                                    feed = %feed.name, new = summary.new, changed = summary.changed,
                                    edited = summary.edited, removed = summary.removed,
                                    "feed changed"
                                )
                            }
                            _ => {}
                        }
                        retry_after
                    }
                    Err(e) => {
                        failures += 1;
                        tracing::error!(feed = %feed.name, error = %e, "cannot store a feed poll");
                        None
                    }
                };
                let jitter = (rand_unit() - 0.5) * 0.2;
                let delay = next_delay(feed.interval.as_std(), failures, delay_hint, jitter);
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = stop.wait_for(|s| *s) => break,
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

fn note(live: &FeedsLive, feed: &str, poll: &FeedPoll, failures: &mut u32) {
    let mut l = live.write().expect("feeds lock");
    let f = l.entry(feed.to_string()).or_default();
    f.last_duration_s = poll.duration_ms / 1000.0;
    match poll.outcome {
        PollOutcome::Ok { .. } => {
            f.ok += 1;
            *failures = 0;
            f.last_success_ms = Some(poll.at_ms);
        }
        PollOutcome::NotModified => {
            f.not_modified += 1;
            *failures = 0;
            f.last_success_ms = Some(poll.at_ms);
        }
        PollOutcome::Failed { .. } => {
            f.failed += 1;
            *failures += 1;
        }
    }
    f.consecutive_failures = *failures;
}

/// Records how long after its stated publication the newest of the incidents first seen
/// in this poll was seen.
fn sighting_lag(
    live: &FeedsLive,
    feed: &str,
    at_ms: i64,
    incidents: &[probity_core::provider::ProviderIncident],
    new_ids: &[String],
) {
    let newest = incidents
        .iter()
        .filter(|i| new_ids.contains(&i.external_id))
        .filter_map(|i| i.published_at_ms)
        .filter(|p| *p <= at_ms)
        .max();
    if let Some(p) = newest {
        let mut l = live.write().expect("feeds lock");
        l.entry(feed.to_string()).or_default().sighting_lag_s = Some((at_ms - p) as f64 / 1000.0);
    }
}

pub(crate) fn rand_unit() -> f64 {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_cap_and_respects_retry_after() {
        let five = Duration::from_secs(300);
        assert_eq!(next_delay(five, 0, None, 0.0), five);
        assert_eq!(next_delay(five, 1, None, 0.0), five);
        assert_eq!(next_delay(five, 2, None, 0.0), Duration::from_secs(600));
        assert_eq!(next_delay(five, 4, None, 0.0), Duration::from_secs(2400));
        assert_eq!(next_delay(five, 9, None, 0.0), Duration::from_secs(3600));
        assert_eq!(next_delay(five, 40, None, 0.0), Duration::from_secs(3600));
        assert_eq!(
            next_delay(five, 0, Some(Duration::from_secs(900)), 0.0),
            Duration::from_secs(900)
        );
        assert_eq!(
            next_delay(five, 0, None, 0.5),
            Duration::from_secs(330),
            "jitter is clamped to 10%"
        );
        // An interval longer than an hour is its own cap.
        let day = Duration::from_secs(86_400);
        assert_eq!(next_delay(day, 3, None, 0.0), day);
    }
}
