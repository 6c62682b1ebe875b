//! Slack incoming webhooks: the event's one line as `text`.

use super::Failure;
use crate::alert::event::AlertEvent;
use crate::store::StoredAlert;

pub(super) async fn send(
    client: &reqwest::Client,
    url: &str,
    a: &StoredAlert,
    event: &AlertEvent,
) -> Result<u16, Failure> {
    let body = serde_json::json!({"text": event.message()});
    super::post(client, url, a, body.to_string().into_bytes(), None).await
}
