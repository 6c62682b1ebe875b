//! Outbound HTTP clients (reqwest with rustls), one per purpose, each naming itself in its
//! user agent so that whoever receives a request can tell what sent it. Probes do not use
//! these: they drive hyper themselves to time every phase.

use std::time::Duration;

/// What a client is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Polling providers' status feeds.
    Feeds,
    /// Delivering alerts (webhooks, Slack, PagerDuty).
    Alerts,
    /// Reading other tools' measurements (`[[source]]`).
    Sources,
    /// An agent talking to its server.
    Agent,
    /// The deployment gate: traffic webhooks and Prometheus reads.
    Gate,
    /// Asking witnesses to cosign checkpoints.
    Witness,
    /// Sending outage statements to federation peers.
    Federation,
}

/// The user agent a client for `purpose` sends.
pub fn user_agent(purpose: Purpose) -> String {
    let v = env!("CARGO_PKG_VERSION");
    match purpose {
        Purpose::Feeds => format!("probity/{v} (status feed poller)"),
        Purpose::Alerts => format!("probity/{v} (alert delivery)"),
        Purpose::Sources => format!("probity/{v} (source reader)"),
        Purpose::Agent => format!("probity-agent/{v}"),
        Purpose::Gate => format!("probity/{v} (deployment gate)"),
        Purpose::Witness => format!("probity/{v} (witness client)"),
        Purpose::Federation => format!("probity/{v} (federation)"),
    }
}

/// A builder for `purpose`: its user agent, rustls, and for feeds at most five redirects;
/// the caller adds timeouts and trust.
pub fn builder(purpose: Purpose) -> reqwest::ClientBuilder {
    let b = reqwest::Client::builder().user_agent(user_agent(purpose));
    match purpose {
        Purpose::Feeds => b.redirect(reqwest::redirect::Policy::limited(5)),
        Purpose::Alerts
        | Purpose::Sources
        | Purpose::Agent
        | Purpose::Gate
        | Purpose::Witness
        | Purpose::Federation => b,
    }
}

/// A client for `purpose` with a whole-request `timeout`, when given.
pub fn client(purpose: Purpose, timeout: Option<Duration>) -> anyhow::Result<reqwest::Client> {
    let mut b = builder(purpose);
    if let Some(t) = timeout {
        b = b.timeout(t);
    }
    Ok(b.build()?)
}

/// A reqwest error in words, with its causes (reqwest's own message is often just
/// "error sending request"), and without the URL it was for.
pub fn describe(e: reqwest::Error) -> String {
    // The URL can carry a secret (a key in the query, credentials before the host): an
    // error that leaves the process never names it.
    let e = e.without_url();
    let mut msg = if e.is_timeout() {
        "timed out".to_string()
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        let text = s.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        source = s.source();
    }
    msg
}

/// Why [`read_limited`] gave up.
#[derive(Debug, PartialEq, Eq)]
pub enum Unread {
    /// The body is larger than the limit: by its declared length (`Some`), or it kept
    /// coming past the limit (`None`: reading stopped there).
    TooLarge(Option<u64>),
    /// The connection broke off, in words ([`describe`]).
    Broke(String),
}

/// A response's body, at most `max` bytes: a declared length past `max` is refused before
/// anything is read, and reading stops as soon as the body passes it. Whatever answers is
/// outside input; its size is bounded before it is kept.
pub async fn read_limited(mut resp: reqwest::Response, max: usize) -> Result<Vec<u8>, Unread> {
    if let Some(len) = resp.content_length()
        && len > max as u64
    {
        return Err(Unread::TooLarge(Some(len)));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| Unread::Broke(describe(e)))? {
        if body.len() + chunk.len() > max {
            return Err(Unread::TooLarge(None));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_purpose_names_itself() {
        assert!(user_agent(Purpose::Feeds).ends_with("(status feed poller)"));
        assert!(user_agent(Purpose::Alerts).ends_with("(alert delivery)"));
        assert!(!user_agent(Purpose::Alerts).contains("feed"));
        assert!(user_agent(Purpose::Agent).starts_with("probity-agent/"));
    }
}
