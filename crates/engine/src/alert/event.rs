//! What an alert says: one typed event per kind, the JSON a webhook receives (and the
//! outbox stores), and the one line every other channel renders from it. Rendering matches
//! every kind, so a new kind cannot ship without its words.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An alert's event, as a webhook receives it: `event` first, the kind's own fields, then
/// the rule that sent it and the idempotency key shared by every retry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AlertEvent {
    #[serde(flatten)]
    pub kind: EventKind,
    pub rule: String,
    pub idempotency_key: String,
}

/// The kinds of event, by their `event` name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    /// An observed incident opened.
    IncidentOpened(Opened),
    /// A heartbeat target's incident opened: the ping did not come.
    HeartbeatMissed(Opened),
    IncidentResolved(Resolved),
    /// Still open and unacknowledged after the rule's `escalate_after`.
    IncidentEscalated(StillOpen),
    /// Still open and unacknowledged: the rule's `remind_every` came round.
    IncidentReminder(StillOpen),
    /// An observed outage the provider has not declared past the grace period.
    Unacknowledged(Unacknowledged),
    /// A burn-rate alert of an SLO fires.
    SloBurn(SloBurn),
    /// An open declaration on a provider's status feed affects selected targets.
    ProviderDeclared(Declared),
    /// A certificate expires soon.
    CertExpiry(CertExpiry),
}

/// The target an event is about, with its provider's names for it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Subject {
    pub target: String,
    pub provider: Option<String>,
    pub service: Option<String>,
    pub region: Option<String>,
}

impl Subject {
    pub fn of(t: &probity_ground::config::Target) -> Subject {
        Subject {
            target: t.name.clone(),
            provider: t.provider.clone(),
            service: t.service.clone(),
            region: t.region.clone(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Opened {
    #[serde(flatten)]
    pub subject: Subject,
    pub incident_id: i64,
    pub at: String,
    pub started_at: String,
    /// `degraded` or `down`.
    pub severity: String,
    pub cause: String,
    pub vantage: String,
    /// The incident in the API, when `[alerting] public_url` is set.
    pub url: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Resolved {
    #[serde(flatten)]
    pub subject: Subject,
    pub incident_id: i64,
    pub at: String,
    pub resolved_at: String,
    pub vantage: String,
    pub url: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StillOpen {
    #[serde(flatten)]
    pub subject: Subject,
    pub incident_id: i64,
    pub at: String,
    pub started_at: String,
    pub severity: String,
    pub cause: String,
    pub open_for_s: i64,
    pub vantage: String,
    pub url: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Unacknowledged {
    #[serde(flatten)]
    pub subject: Subject,
    pub incident_id: i64,
    pub url: Option<String>,
    pub at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SloBurn {
    pub slo: String,
    /// The SLO's first target.
    pub target: Option<String>,
    pub targets: Vec<String>,
    pub severity: String,
    pub factor: f64,
    pub long_burn_rate: Option<f64>,
    pub short_burn_rate: Option<f64>,
    pub budget_remaining: Option<f64>,
    /// Always `null`: not about one observed incident.
    pub incident_id: Option<i64>,
    pub at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Declared {
    pub provider: String,
    pub feed: String,
    pub external_id: String,
    pub title: String,
    pub impact: String,
    pub status: String,
    pub services: Vec<String>,
    pub regions: Vec<String>,
    pub started_at: Option<String>,
    pub first_seen_at: String,
    pub url: Option<String>,
    /// The selected targets it affects; `target` is the first.
    pub targets: Vec<String>,
    pub target: String,
    /// Always `null`.
    pub incident_id: Option<i64>,
    pub at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CertExpiry {
    #[serde(flatten)]
    pub subject: Subject,
    pub not_after: String,
    pub days_left: f64,
    /// Always `null`.
    pub incident_id: Option<i64>,
    pub at: String,
}

impl EventKind {
    /// The event's name, as in `[[alert]] on` and the `X-Probity-Event` header.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::IncidentOpened(_) => "incident_opened",
            EventKind::HeartbeatMissed(_) => "heartbeat_missed",
            EventKind::IncidentResolved(_) => "incident_resolved",
            EventKind::IncidentEscalated(_) => "incident_escalated",
            EventKind::IncidentReminder(_) => "incident_reminder",
            EventKind::Unacknowledged(_) => "unacknowledged",
            EventKind::SloBurn(_) => "slo_burn",
            EventKind::ProviderDeclared(_) => "provider_declared",
            EventKind::CertExpiry(_) => "cert_expiry",
        }
    }

    /// The target it is about (an SLO's first target; none for an SLO without one).
    pub fn target(&self) -> Option<&str> {
        match self {
            EventKind::IncidentOpened(e) | EventKind::HeartbeatMissed(e) => Some(&e.subject.target),
            EventKind::IncidentResolved(e) => Some(&e.subject.target),
            EventKind::IncidentEscalated(e) | EventKind::IncidentReminder(e) => {
                Some(&e.subject.target)
            }
            EventKind::Unacknowledged(e) => Some(&e.subject.target),
            EventKind::SloBurn(e) => e.target.as_deref(),
            EventKind::ProviderDeclared(e) => Some(&e.target),
            EventKind::CertExpiry(e) => Some(&e.subject.target),
        }
    }

    /// When it happened (RFC 3339).
    pub fn at(&self) -> &str {
        match self {
            EventKind::IncidentOpened(e) | EventKind::HeartbeatMissed(e) => &e.at,
            EventKind::IncidentResolved(e) => &e.at,
            EventKind::IncidentEscalated(e) | EventKind::IncidentReminder(e) => &e.at,
            EventKind::Unacknowledged(e) => &e.at,
            EventKind::SloBurn(e) => &e.at,
            EventKind::ProviderDeclared(e) => &e.at,
            EventKind::CertExpiry(e) => &e.at,
        }
    }

    /// The incident's severity, for events about an open incident.
    pub fn severity(&self) -> Option<&str> {
        match self {
            EventKind::IncidentOpened(e) | EventKind::HeartbeatMissed(e) => Some(&e.severity),
            EventKind::IncidentEscalated(e) | EventKind::IncidentReminder(e) => Some(&e.severity),
            _ => None,
        }
    }

    /// The link to the incident, or to the provider's declaration.
    pub fn url(&self) -> Option<&str> {
        match self {
            EventKind::IncidentOpened(e) | EventKind::HeartbeatMissed(e) => e.url.as_deref(),
            EventKind::IncidentResolved(e) => e.url.as_deref(),
            EventKind::IncidentEscalated(e) | EventKind::IncidentReminder(e) => e.url.as_deref(),
            EventKind::Unacknowledged(e) => e.url.as_deref(),
            EventKind::ProviderDeclared(e) => e.url.as_deref(),
            EventKind::SloBurn(_) | EventKind::CertExpiry(_) => None,
        }
    }
}

impl AlertEvent {
    /// Reads an event from the outbox's JSON.
    pub fn parse(payload: &str) -> Result<AlertEvent, serde_json::Error> {
        serde_json::from_str(payload)
    }

    /// One line a person reads: what, where, since when, and the link.
    pub fn message(&self) -> String {
        let link = self.kind.url().map(|u| format!(" {u}")).unwrap_or_default();
        match &self.kind {
            EventKind::IncidentOpened(e) | EventKind::HeartbeatMissed(e) => format!(
                "probity: {} is {} since {} ({}); incident {}, seen from {}.{link}",
                e.subject.target, e.severity, e.started_at, e.cause, e.incident_id, e.vantage
            ),
            EventKind::IncidentResolved(e) => format!(
                "probity: {} recovered at {}; incident {} resolved.{link}",
                e.subject.target, e.resolved_at, e.incident_id
            ),
            EventKind::IncidentEscalated(e) | EventKind::IncidentReminder(e) => format!(
                "probity: {} {} is still {} after {} s, unacknowledged ({}); incident {}.{link}",
                if matches!(self.kind, EventKind::IncidentEscalated(_)) {
                    "ESCALATED:"
                } else {
                    "reminder:"
                },
                e.subject.target,
                e.severity,
                e.open_for_s,
                e.cause,
                e.incident_id
            ),
            EventKind::Unacknowledged(e) => format!(
                "probity: the provider of {} has not acknowledged incident {}, which probity observed.{link}",
                e.subject.target, e.incident_id
            ),
            EventKind::SloBurn(e) => format!(
                "probity: SLO {} is burning its error budget at {:.1}× ({} alert, {}× threshold); budget left {}.",
                e.slo,
                e.long_burn_rate.unwrap_or(0.0),
                e.severity,
                e.factor,
                e.budget_remaining
                    .map_or("unknown".into(), |b| format!("{:.1}%", b * 100.0)),
            ),
            EventKind::ProviderDeclared(e) => format!(
                "probity: {} declares \"{}\" ({}, {}), affecting {}.{link}",
                e.provider,
                e.title,
                e.impact,
                e.status,
                e.targets.join(", ")
            ),
            EventKind::CertExpiry(e) => format!(
                "probity: the certificate of {} expires at {} ({} days left).",
                e.subject.target, e.not_after, e.days_left
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject() -> Subject {
        Subject {
            target: "web".into(),
            provider: Some("acme".into()),
            service: None,
            region: None,
        }
    }

    #[test]
    fn the_webhook_body_is_the_documented_shape_and_reads_back() {
        let e = AlertEvent {
            kind: EventKind::IncidentOpened(Opened {
                subject: subject(),
                incident_id: 12,
                at: "2026-11-23T13:55:03.728Z".into(),
                started_at: "2026-11-23T13:55:03.728Z".into(),
                severity: "down".into(),
                cause: "http_status: [STATUS] < 400 (got 503)".into(),
                vantage: "local".into(),
                url: Some("https://probity.example.com/api/v1/incidents/12".into()),
            }),
            rule: "web-down".into(),
            idempotency_key: "incident-12-incident_opened-web-down-ops-hook".into(),
        };
        let text = serde_json::to_string(&e).unwrap();
        assert_eq!(
            text,
            r#"{"event":"incident_opened","target":"web","provider":"acme","service":null,"region":null,"incident_id":12,"at":"2026-11-23T13:55:03.728Z","started_at":"2026-11-23T13:55:03.728Z","severity":"down","cause":"http_status: [STATUS] < 400 (got 503)","vantage":"local","url":"https://probity.example.com/api/v1/incidents/12","rule":"web-down","idempotency_key":"incident-12-incident_opened-web-down-ops-hook"}"#
        );
        assert_eq!(AlertEvent::parse(&text).unwrap(), e);
        assert_eq!(
            e.message(),
            "probity: web is down since 2026-11-23T13:55:03.728Z (http_status: [STATUS] < 400 (got 503)); incident 12, seen from local. https://probity.example.com/api/v1/incidents/12"
        );
    }

    #[test]
    fn every_kind_has_its_words() {
        let at = "2026-11-23T14:00:00.000Z".to_string();
        let still = StillOpen {
            subject: subject(),
            incident_id: 3,
            at: at.clone(),
            started_at: at.clone(),
            severity: "degraded".into(),
            cause: "slow".into(),
            open_for_s: 900,
            vantage: "local".into(),
            url: None,
        };
        let cases = [
            (
                EventKind::IncidentEscalated(still.clone()),
                "probity: ESCALATED: web is still degraded after 900 s, unacknowledged (slow); incident 3.",
            ),
            (
                EventKind::IncidentReminder(still),
                "probity: reminder: web is still degraded after 900 s, unacknowledged (slow); incident 3.",
            ),
            (
                EventKind::SloBurn(SloBurn {
                    slo: "api".into(),
                    target: Some("web".into()),
                    targets: vec!["web".into()],
                    severity: "page".into(),
                    factor: 14.4,
                    long_burn_rate: Some(20.0),
                    short_burn_rate: Some(30.0),
                    budget_remaining: Some(0.5),
                    incident_id: None,
                    at: at.clone(),
                }),
                "probity: SLO api is burning its error budget at 20.0× (page alert, 14.4× threshold); budget left 50.0%.",
            ),
            (
                EventKind::CertExpiry(CertExpiry {
                    subject: subject(),
                    not_after: at.clone(),
                    days_left: 3.5,
                    incident_id: None,
                    at: at.clone(),
                }),
                "probity: the certificate of web expires at 2026-11-23T14:00:00.000Z (3.5 days left).",
            ),
        ];
        for (kind, words) in cases {
            let e = AlertEvent {
                kind,
                rule: "r".into(),
                idempotency_key: "k".into(),
            };
            assert_eq!(e.message(), words);
            let v: serde_json::Value = serde_json::to_value(&e).unwrap();
            assert_eq!(v["event"], e.kind.name());
            // Every body has these keys, `null` where they do not apply.
            for k in ["target", "incident_id", "at"] {
                assert!(v.get(k).is_some(), "{k} in {v}");
            }
            assert_eq!(AlertEvent::parse(&v.to_string()).unwrap(), e);
        }
    }
}
