//! The ways an alert leaves: one module per channel kind. Each takes the stored alert and
//! its event and answers `Ok(status)` once the receiver accepted it, or the status (if any)
//! and why not.

mod email;
mod pagerduty;
mod slack;
mod webhook;

use super::event::AlertEvent;
use crate::store::StoredAlert;
use probity_ground::config::{Channel, ChannelKind};
use std::time::Duration;

pub use webhook::signature;

/// What a failed delivery says: the receiver's status, if it answered, and why.
pub type Failure = (Option<u16>, String);

/// Sends one alert through its channel: `Ok(status)` when the receiver accepted it.
pub async fn send(
    client: &reqwest::Client,
    channel: &Channel,
    a: &StoredAlert,
) -> Result<u16, Failure> {
    let event = AlertEvent::parse(&a.alert.payload)
        .map_err(|e| (None, format!("the stored event cannot be read: {e}")))?;
    match &channel.kind {
        ChannelKind::Email(e) => email::send(e, a, &event).await,
        ChannelKind::Webhook { url, secret } => {
            webhook::send(client, url, secret.as_deref(), a).await
        }
        ChannelKind::Slack { url } => slack::send(client, url, a, &event).await,
        ChannelKind::PagerDuty { routing_key, url } => {
            pagerduty::send(client, url, routing_key, a, &event).await
        }
    }
}

/// POSTs a JSON `body` with the alert's idempotency key and event name.
async fn post(
    client: &reqwest::Client,
    url: &str,
    a: &StoredAlert,
    body: Vec<u8>,
    signature: Option<String>,
) -> Result<u16, Failure> {
    let mut req = client
        .post(url)
        .timeout(Duration::from_secs(10))
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("Idempotency-Key", &a.alert.key)
        .header("X-Probity-Event", &a.alert.event);
    if let Some(sig) = signature {
        req = req.header("X-Probity-Signature", sig);
    }
    match req.body(body).send().await {
        Ok(resp) if resp.status().is_success() => Ok(resp.status().as_u16()),
        Ok(resp) => Err((
            Some(resp.status().as_u16()),
            format!("HTTP {}", resp.status().as_u16()),
        )),
        Err(e) => Err((None, probity_ground::http_client::describe(e))),
    }
}
