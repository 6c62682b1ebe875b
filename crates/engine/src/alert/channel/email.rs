//! Email over SMTP (lettre): the event's line as the subject, the line, the key and the
//! event in the body.

use super::Failure;
use crate::alert::event::AlertEvent;
use crate::store::StoredAlert;
use std::time::Duration;

/// Sends an alert by email: the message line as the subject, the event as the body. The
/// Message-ID carries the idempotency key, so a repeat is recognisable.
pub(super) async fn send(
    e: &probity_ground::config::EmailChannel,
    a: &StoredAlert,
    event: &AlertEvent,
) -> Result<u16, Failure> {
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
    let err = |m: String| (None, m);
    let text = event.message();
    let subject: String = text.chars().take(160).collect();
    let mut b = Message::builder()
        .from(e.from.parse().map_err(|x| err(format!("from: {x}")))?)
        .subject(subject)
        .message_id(Some(format!("<{}@probity>", a.alert.key)));
    for to in &e.to {
        b = b.to(to.parse().map_err(|x| err(format!("to: {x}")))?);
    }
    let body = format!(
        "{text}\n\nIdempotency-Key: {}\n\n{}\n",
        a.alert.key,
        serde_json::to_string_pretty(event).unwrap_or_default()
    );
    let msg = b
        .header(lettre::message::header::ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|x| err(x.to_string()))?;
    let builder = match e.tls.as_str() {
        "none" => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&e.smtp_host),
        "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(&e.smtp_host)
            .map_err(|x| err(x.to_string()))?,
        _ => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&e.smtp_host)
            .map_err(|x| err(x.to_string()))?,
    };
    let mut builder = builder
        .port(e.smtp_port)
        .timeout(Some(Duration::from_secs(10)));
    if let (Some(u), Some(p)) = (&e.username, &e.password) {
        builder = builder.credentials(lettre::transport::smtp::authentication::Credentials::new(
            u.clone(),
            p.clone(),
        ));
    }
    match builder.build().send(msg).await {
        Ok(resp) => Ok(resp.code().to_string().parse().unwrap_or(250)),
        Err(x) => Err((
            x.status().and_then(|c| c.to_string().parse().ok()),
            x.to_string(),
        )),
    }
}
