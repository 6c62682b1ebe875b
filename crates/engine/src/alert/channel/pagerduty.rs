//! PagerDuty Events API v2: `trigger` on everything but a resolve, which `resolve`s; one
//! `dedup_key` per probity incident, so the resolve closes the page.

use super::Failure;
use crate::alert::event::{AlertEvent, EventKind};
use crate::store::StoredAlert;
use serde_json::json;

/// The Events API v2 body for `event`.
pub(super) fn body(routing_key: &str, a: &StoredAlert, event: &AlertEvent) -> serde_json::Value {
    let resolve = matches!(event.kind, EventKind::IncidentResolved(_));
    json!({
        "routing_key": routing_key,
        "event_action": if resolve { "resolve" } else { "trigger" },
        "dedup_key": format!("probity-incident-{}", a.alert.incident_id.unwrap_or(0)),
        "payload": {
            "summary": event.message(),
            "source": event.kind.target(),
            "severity": if event.kind.severity() == Some("degraded") { "warning" } else { "critical" },
            "timestamp": event.kind.at(),
            "custom_details": event,
        },
        "links": event.kind.url().map(|u| vec![json!({"href": u, "text": "incident"})]).unwrap_or_default(),
    })
}

pub(super) async fn send(
    client: &reqwest::Client,
    url: &str,
    routing_key: &str,
    a: &StoredAlert,
    event: &AlertEvent,
) -> Result<u16, Failure> {
    let body = body(routing_key, a, event);
    super::post(client, url, a, body.to_string().into_bytes(), None).await
}
