//! `[alerting]`, `[[channel]]` and `[[alert]]`: where alerts go and which events go where.

use super::common::*;
use super::target::*;
use probity_core::condition::closest;
use probity_core::duration::HumanDuration;
use serde::Deserialize;
use std::path::Path;
use toml::Spanned;

/// Where alerts go (`[[channel]]`). Secrets are expanded here: never print a channel.
#[derive(Clone, Debug)]
pub struct Channel {
    pub name: String,
    pub kind: ChannelKind,
}

#[derive(Clone, Debug)]
pub enum ChannelKind {
    /// JSON body, signed with HMAC-SHA256 of the body when a secret is set.
    Webhook { url: String, secret: Option<String> },
    /// A Slack incoming webhook.
    Slack { url: String },
    /// PagerDuty Events API v2.
    PagerDuty { routing_key: String, url: String },
    /// Email over SMTP.
    Email(EmailChannel),
}

/// An SMTP relay and the addresses to write to.
#[derive(Clone, Debug)]
pub struct EmailChannel {
    pub smtp_host: String,
    pub smtp_port: u16,
    pub from: String,
    pub to: Vec<String>,
    pub username: Option<String>,
    /// Secret: never print it.
    pub password: Option<String>,
    /// `starttls` (required), `tls` (implicit, port 465) or `none` (a relay on loopback).
    pub tls: String,
}

impl ChannelKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            ChannelKind::Webhook { .. } => "webhook",
            ChannelKind::Slack { .. } => "slack",
            ChannelKind::PagerDuty { .. } => "pagerduty",
            ChannelKind::Email(_) => "email",
        }
    }
}

/// What alerts on what (`[[alert]]`).
#[derive(Clone, Debug)]
pub struct AlertRule {
    pub name: String,
    pub on: Vec<String>,
    pub targets: Vec<String>,
    pub providers: Vec<String>,
    pub services: Vec<String>,
    pub regions: Vec<String>,
    pub tags: Vec<String>,
    pub channels: Vec<String>,
    /// Unacknowledged this long after it opened, an incident goes to `escalate_to` too.
    pub escalate_after: Option<HumanDuration>,
    pub escalate_to: Vec<String>,
    /// While open and unacknowledged, a reminder this often.
    pub remind_every: Option<HumanDuration>,
    /// For `cert_expiry`: alert when a certificate expires within this (default 14d).
    pub cert_expiry_within: HumanDuration,
}

impl AlertRule {
    /// Whether the rule covers `t`: every selector given matches (empty ones match all).
    pub fn selects(&self, t: &Target) -> bool {
        let any = |list: &[String], v: Option<&String>| {
            list.is_empty() || v.is_some_and(|v| list.contains(v))
        };
        any(&self.targets, Some(&t.name))
            && any(&self.providers, t.provider.as_ref())
            && any(&self.services, t.service.as_ref())
            && any(&self.regions, t.region.as_ref())
            && (self.tags.is_empty() || self.tags.iter().any(|g| t.tags.contains(g)))
    }
}

/// Delivery settings (`[alerting]`).
#[derive(Clone, Debug)]
pub struct AlertingConfig {
    /// The longest wait between two delivery attempts.
    pub max_backoff: HumanDuration,
    /// The address people reach the API at, for links in messages.
    pub public_url: Option<String>,
}

impl Default for AlertingConfig {
    fn default() -> Self {
        AlertingConfig {
            max_backoff: HumanDuration::from_secs(300),
            public_url: None,
        }
    }
}

/// The events `[[alert]] on` accepts.
pub const ALERT_EVENTS: &[&str] = &[
    "incident_opened",
    "incident_resolved",
    "heartbeat_missed",
    "provider_declared",
    "cert_expiry",
    "unacknowledged",
    "slo_burn",
];

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Channel")]
pub(super) struct ChannelToml {
    #[schemars(with = "String")]
    pub(super) name: Spanned<String>,
    #[serde(rename = "type")]
    #[schemars(with = "String")]
    pub(super) kind: Spanned<String>,
    #[schemars(with = "Option<String>")]
    pub(super) url: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub(super) secret: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub(super) routing_key: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub(super) smtp_host: Option<Spanned<String>>,
    pub(super) smtp_port: Option<u16>,
    #[schemars(with = "Option<String>")]
    pub(super) from: Option<Spanned<String>>,
    #[schemars(with = "Option<OneOrMany>")]
    pub(super) to: Option<Spanned<OneOrMany>>,
    #[schemars(with = "Option<String>")]
    pub(super) username: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub(super) password: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub(super) tls: Option<Spanned<String>>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "AlertRule")]
pub(super) struct AlertToml2 {
    #[schemars(with = "String")]
    pub(super) name: Spanned<String>,
    #[schemars(with = "Vec<String>")]
    pub(super) on: Vec<Spanned<String>>,
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub(super) targets: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) providers: Vec<String>,
    #[serde(default)]
    pub(super) services: Vec<String>,
    #[serde(default)]
    pub(super) regions: Vec<String>,
    #[serde(default)]
    pub(super) tags: Vec<String>,
    #[schemars(with = "Vec<String>")]
    pub(super) channels: Vec<Spanned<String>>,
    #[schemars(with = "Option<DurationSchema>")]
    pub(super) escalate_after: Option<Spanned<HumanDuration>>,
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub(super) escalate_to: Vec<Spanned<String>>,
    #[schemars(with = "Option<DurationSchema>")]
    pub(super) remind_every: Option<Spanned<HumanDuration>>,
    #[schemars(with = "Option<DurationSchema>")]
    pub(super) cert_expiry_within: Option<HumanDuration>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Alerting")]
pub(super) struct AlertingToml {
    #[schemars(with = "Option<DurationSchema>")]
    pub(super) max_backoff: Option<Spanned<HumanDuration>>,
    pub(super) public_url: Option<String>,
}

pub(super) fn build_channel(
    ck: &mut Checker<'_>,
    raw: ChannelToml,
    base_dir: &Path,
) -> Option<Channel> {
    let before = ck.problems.len();
    let name = raw.name.get_ref().clone();
    let ctx = format!("channel `{name}`");
    let mut secret = |v: &Option<Spanned<String>>, key: &str, required: bool| -> Option<String> {
        match v {
            None => {
                if required {
                    ck.at(raw.name.span(), format!("{ctx}: `{key}` is required"));
                }
                None
            }
            Some(v) => match expand_secrets(v.get_ref(), base_dir) {
                Ok(x) => Some(x),
                Err(e) => {
                    ck.at(v.span(), format!("{ctx}: {e}"));
                    None
                }
            },
        }
    };
    let kind = match raw.kind.get_ref().as_str() {
        "webhook" => ChannelKind::Webhook {
            url: secret(&raw.url, "url", true).unwrap_or_default(),
            secret: secret(&raw.secret, "secret", false),
        },
        "slack" => ChannelKind::Slack {
            url: secret(&raw.url, "url", true).unwrap_or_default(),
        },
        "pagerduty" => ChannelKind::PagerDuty {
            routing_key: secret(&raw.routing_key, "routing_key", true).unwrap_or_default(),
            url: secret(&raw.url, "url", false)
                .unwrap_or_else(|| "https://events.pagerduty.com/v2/enqueue".into()),
        },
        "email" => {
            let host = secret(&raw.smtp_host, "smtp_host", true).unwrap_or_default();
            let from = secret(&raw.from, "from", true).unwrap_or_default();
            let username = secret(&raw.username, "username", false);
            let password = secret(&raw.password, "password", false);
            let to: Vec<String> = match &raw.to {
                Some(t) => match t.get_ref() {
                    OneOrMany::One(s) => vec![s.clone()],
                    OneOrMany::Many(v) => v.clone(),
                },
                None => Vec::new(),
            };
            if to.is_empty() {
                ck.at(raw.name.span(), format!("{ctx}: `to` is required"));
            }
            for addr in std::iter::once(&from).chain(&to) {
                if !addr.is_empty() && addr.parse::<lettre::message::Mailbox>().is_err() {
                    ck.at(
                        raw.to.as_ref().map_or(raw.name.span(), |t| t.span()),
                        format!("{ctx}: `{addr}` is not an email address"),
                    );
                }
            }
            let tls = raw
                .tls
                .as_ref()
                .map_or("starttls".to_string(), |t| t.get_ref().clone());
            if !["starttls", "tls", "none"].contains(&tls.as_str()) {
                ck.at(
                    raw.tls.as_ref().map_or(raw.name.span(), |t| t.span()),
                    format!("{ctx}: `tls` is starttls, tls or none, not `{tls}`"),
                );
            }
            if username.is_some() != password.is_some() {
                ck.at(
                    raw.name.span(),
                    format!("{ctx}: `username` and `password` go together"),
                );
            }
            let port = raw
                .smtp_port
                .unwrap_or(if tls == "tls" { 465 } else { 587 });
            let c = ChannelKind::Email(EmailChannel {
                smtp_host: host,
                smtp_port: port,
                from,
                to,
                username,
                password,
                tls,
            });
            return (ck.problems.len() == before).then_some(Channel { name, kind: c });
        }
        other => {
            let known = ["webhook", "slack", "pagerduty", "email"];
            let hint = closest(other, &known)
                .map(|k| format!("; did you mean `{k}`?"))
                .unwrap_or_default();
            ck.at(
                raw.kind.span(),
                format!(
                    "{ctx}: unknown type `{other}` (one of webhook, slack, pagerduty, email){hint}"
                ),
            );
            return None;
        }
    };
    let url = match &kind {
        ChannelKind::Webhook { url, .. }
        | ChannelKind::Slack { url }
        | ChannelKind::PagerDuty { url, .. } => url,
        ChannelKind::Email(_) => unreachable!("returned above"),
    };
    if ck.problems.len() == before && !(url.starts_with("http://") || url.starts_with("https://")) {
        ck.at(
            raw.url.as_ref().map_or(raw.name.span(), |u| u.span()),
            format!("{ctx}: `url` must start with http:// or https://"),
        );
    }
    (ck.problems.len() == before).then_some(Channel { name, kind })
}

/// Reads every `[[alert]]` table: its events known, escalation given whole, durations long
/// enough, every channel and target it names existing.
pub(super) fn read_alerts(
    ck: &mut Checker<'_>,
    tables: Vec<Spanned<toml::de::DeTable<'_>>>,
    channels: &[Channel],
    targets: &[Target],
) -> Vec<AlertRule> {
    let mut alerts: Vec<AlertRule> = Vec::new();
    for table in tables {
        let Some(raw) = read_table::<AlertToml2>(ck, table, "[[alert]]") else {
            continue;
        };
        let ctx = format!("alert `{}`", raw.name.get_ref());
        for e in &raw.on {
            if !ALERT_EVENTS.contains(&e.get_ref().as_str()) {
                let hint = closest(e.get_ref(), ALERT_EVENTS)
                    .map(|k| format!("; did you mean `{k}`?"))
                    .unwrap_or_default();
                ck.at(
                    e.span(),
                    format!("{ctx}: unknown event `{}`{hint}", e.get_ref()),
                );
            }
        }
        if raw.escalate_after.is_some() == raw.escalate_to.is_empty() {
            ck.at(
                raw.name.span(),
                format!("{ctx}: `escalate_after` and `escalate_to` go together"),
            );
        }
        for d in [&raw.escalate_after, &raw.remind_every]
            .into_iter()
            .flatten()
        {
            if d.get_ref().as_millis() < 1000 {
                ck.at(d.span(), format!("{ctx}: must be at least 1s"));
            }
        }
        for c in raw.channels.iter().chain(&raw.escalate_to) {
            if !channels.iter().any(|x| &x.name == c.get_ref()) {
                ck.at(
                    c.span(),
                    format!("{ctx}: no [[channel]] named `{}`", c.get_ref()),
                );
            }
        }
        for t in &raw.targets {
            if !targets.iter().any(|x| &x.name == t.get_ref()) {
                ck.at(
                    t.span(),
                    format!("{ctx}: no target named `{}`", t.get_ref()),
                );
            }
        }
        alerts.push(AlertRule {
            name: raw.name.into_inner(),
            on: raw.on.into_iter().map(Spanned::into_inner).collect(),
            targets: raw.targets.into_iter().map(Spanned::into_inner).collect(),
            providers: raw.providers,
            services: raw.services,
            regions: raw.regions,
            tags: raw.tags,
            channels: raw.channels.into_iter().map(Spanned::into_inner).collect(),
            escalate_after: raw.escalate_after.map(Spanned::into_inner),
            escalate_to: raw
                .escalate_to
                .into_iter()
                .map(Spanned::into_inner)
                .collect(),
            remind_every: raw.remind_every.map(Spanned::into_inner),
            cert_expiry_within: raw
                .cert_expiry_within
                .unwrap_or(HumanDuration::from_secs(14 * 86_400)),
        });
    }
    alerts
}

impl NamedTable for ChannelToml {
    fn name(&self) -> &Spanned<String> {
        &self.name
    }
}
