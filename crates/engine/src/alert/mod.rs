//! Alerts that are never lost. The recorder puts an alert in the outbox in the same
//! transaction as the incident change that causes it ([`Alerting::for_change`]); the
//! deliverer ([`run`]) sends what is due, at least once, with exponential backoff and
//! jitter, and records every attempt. Each alert has one idempotency key for all its
//! retries, so a receiver can drop duplicates: a kill between sending and recording an
//! attempt repeats that one alert, with the same key.

use crate::store::{AlertAttempt, IncidentChange, NewAlert, Store, StoredAlert};
use hmac::{KeyInit, Mac};
use probity_ground::config::{AlertRule, AlertingConfig, Channel, ChannelKind, Config, Target};
use probity_ground::time::{Stamp, rfc3339};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How long delivery is tried before an alert is given up as expired.
pub const GIVE_UP_AFTER_MS: i64 = 24 * 3_600_000;

/// The rules and channels, ready for the recorder and the deliverer.
#[derive(Clone, Debug)]
pub struct Alerting {
    pub rules: Vec<AlertRule>,
    pub channels: Vec<Channel>,
    pub settings: AlertingConfig,
    /// Alerts on a target are silenced while one of these is on for it.
    pub maintenance: Vec<probity_ground::config::MaintenanceConfig>,
    /// The SLOs, for `slo_burn` rules to know which targets each covers.
    pub slos: Vec<probity_ground::config::SloConfig>,
}

impl Alerting {
    pub fn from_config(c: &Config) -> Option<Arc<Alerting>> {
        (!c.alerts.is_empty()).then(|| {
            Arc::new(Alerting {
                rules: c.alerts.clone(),
                channels: c.channels.clone(),
                settings: c.alerting.clone(),
                maintenance: c.maintenance.clone(),
                slos: c.slos.clone(),
            })
        })
    }

    fn incident_url(&self, id: i64) -> Option<String> {
        self.settings
            .public_url
            .as_ref()
            .map(|u| format!("{}/api/v1/incidents/{id}", u.trim_end_matches('/')))
    }

    /// Whether a maintenance window silences `target` at `at_ms`.
    pub fn silenced(&self, target: &str, at_ms: i64) -> bool {
        self.maintenance
            .iter()
            .any(|m| m.targets.iter().any(|t| t == target) && m.window.active_at(at_ms))
    }

    /// The alerts an incident change causes: one per matching rule and channel; none while
    /// a maintenance window is on for the target.
    pub fn for_change(
        &self,
        target: &Target,
        change: &IncidentChange,
        now_ms: i64,
    ) -> Vec<NewAlert> {
        let at = match change {
            IncidentChange::Open { started_at_ms, .. } => *started_at_ms,
            IncidentChange::Resolve { resolved_at_ms, .. } => *resolved_at_ms,
            IncidentChange::Escalate { .. } => now_ms,
        };
        if self.silenced(&target.name, at) {
            tracing::info!(target = %target.name, incident = change.id(), "alert silenced by a maintenance window");
            return Vec::new();
        }
        let (event, payload) = match change {
            IncidentChange::Open {
                id,
                started_at_ms,
                severity,
                cause,
                ..
            } => (
                "incident_opened",
                json!({
                    "event": "incident_opened",
                    "target": target.name,
                    "provider": target.provider,
                    "service": target.service,
                    "region": target.region,
                    "incident_id": id,
                    "at": rfc3339(*started_at_ms),
                    "started_at": rfc3339(*started_at_ms),
                    "severity": severity.as_str(),
                    "cause": cause.to_string(),
                    "vantage": probity_ground::vantage::LOCAL,
                    "url": self.incident_url(*id),
                }),
            ),
            IncidentChange::Resolve {
                id, resolved_at_ms, ..
            } => (
                "incident_resolved",
                json!({
                    "event": "incident_resolved",
                    "target": target.name,
                    "provider": target.provider,
                    "service": target.service,
                    "region": target.region,
                    "incident_id": id,
                    "at": rfc3339(*resolved_at_ms),
                    "resolved_at": rfc3339(*resolved_at_ms),
                    "vantage": probity_ground::vantage::LOCAL,
                    "url": self.incident_url(*id),
                }),
            ),
            IncidentChange::Escalate { .. } => return Vec::new(),
        };
        let heartbeat = matches!(target.spec, crate::probe::ProbeSpec::Heartbeat(_));
        let mut out = Vec::new();
        for rule in &self.rules {
            if !rule.selects(target) {
                continue;
            }
            // A heartbeat's incident opening is a missed heartbeat, for rules that ask.
            let event = if rule.on.iter().any(|e| e == event) {
                event
            } else if heartbeat
                && event == "incident_opened"
                && rule.on.iter().any(|e| e == "heartbeat_missed")
            {
                "heartbeat_missed"
            } else {
                continue;
            };
            for channel in &rule.channels {
                let key = format!("incident-{}-{event}-{}-{channel}", change.id(), rule.name);
                let mut p = payload.clone();
                p["event"] = json!(event);
                p["rule"] = json!(rule.name);
                p["idempotency_key"] = json!(key);
                out.push(NewAlert {
                    key,
                    rule: rule.name.clone(),
                    channel: channel.clone(),
                    event: event.into(),
                    target: Some(target.name.clone()),
                    incident_id: Some(change.id()),
                    payload: p.to_string(),
                    created_at_ms: now_ms,
                });
            }
        }
        out
    }
}

/// Escalations and reminders due for `open` incidents at `now_ms` (pure: the caller reads
/// the incidents and their acknowledgments). Keys are derived from the incident, the step
/// and the rule, so writing the same one twice is harmless.
pub fn escalations(
    alerting: &Alerting,
    targets: &[Arc<Target>],
    open: &[(crate::store::IncidentRecord, bool)],
    now_ms: i64,
) -> Vec<NewAlert> {
    let mut out = Vec::new();
    for (inc, acked) in open {
        if *acked || alerting.silenced(&inc.target, now_ms) {
            continue;
        }
        let Some(target) = targets.iter().find(|t| t.name == inc.target) else {
            continue;
        };
        let age = now_ms - inc.started_at_ms;
        for rule in &alerting.rules {
            if !rule.selects(target) {
                continue;
            }
            let opened_rule = rule
                .on
                .iter()
                .any(|e| e == "incident_opened" || e == "heartbeat_missed");
            if !opened_rule {
                continue;
            }
            let mut push = |event: &str, step: String, channels: &[String]| {
                for channel in channels {
                    let key = format!("incident-{}-{step}-{}-{channel}", inc.id, rule.name);
                    let payload = json!({
                        "event": event,
                        "target": target.name,
                        "provider": target.provider,
                        "service": target.service,
                        "region": target.region,
                        "incident_id": inc.id,
                        "at": rfc3339(now_ms),
                        "started_at": rfc3339(inc.started_at_ms),
                        "severity": inc.severity.as_str(),
                        "cause": inc.cause.to_string(),
                        "open_for_s": age / 1000,
                        "vantage": probity_ground::vantage::LOCAL,
                        "url": alerting.incident_url(inc.id),
                        "rule": rule.name,
                        "idempotency_key": key,
                    });
                    out.push(NewAlert {
                        key,
                        rule: rule.name.clone(),
                        channel: channel.clone(),
                        event: event.into(),
                        target: Some(target.name.clone()),
                        incident_id: Some(inc.id),
                        payload: payload.to_string(),
                        created_at_ms: now_ms,
                    });
                }
            };
            if let Some(after) = rule.escalate_after
                && age >= after.as_millis() as i64
            {
                push("incident_escalated", "escalated".into(), &rule.escalate_to);
            }
            if let Some(every) = rule.remind_every {
                let n = age / (every.as_millis() as i64).max(1);
                if n >= 1 {
                    push("incident_reminder", format!("reminder{n}"), &rule.channels);
                }
            }
        }
    }
    out
}

fn derived_alert(
    rule: &AlertRule,
    event: &str,
    key_stem: &str,
    target: Option<&str>,
    payload: Value,
    now_ms: i64,
) -> Vec<NewAlert> {
    rule.channels
        .iter()
        .map(|channel| {
            let key = format!("{key_stem}-{event}-{}-{channel}", rule.name);
            let mut p = payload.clone();
            p["event"] = json!(event);
            // Every event body carries these keys, `null` where they do not apply.
            for k in ["target", "incident_id"] {
                if p.get(k).is_none() {
                    p[k] = Value::Null;
                }
            }
            p["rule"] = json!(rule.name);
            p["idempotency_key"] = json!(key);
            p["at"] = json!(rfc3339(now_ms));
            NewAlert {
                key,
                rule: rule.name.clone(),
                channel: channel.clone(),
                event: event.into(),
                target: target.map(str::to_string),
                incident_id: None,
                payload: p.to_string(),
                created_at_ms: now_ms,
            }
        })
        .collect()
}

/// Alerts on what is true now rather than on a change the recorder writes: an open
/// provider declaration on a watched service (`provider_declared`, once per declaration),
/// a certificate expiring soon (`cert_expiry`, once per certificate). Keys are derived from
/// what they are about, so writing one twice is harmless.
/// What the derived alerts look at, read by the caller.
pub struct Now<'a> {
    pub declared: &'a [crate::store::StoredProviderIncident],
    pub certs: &'a [(String, i64)],
    /// Unacknowledged observed incidents: (id, target).
    pub unacknowledged: &'a [(i64, String)],
    pub slos: &'a [(String, probity_core::slo::Status)],
}

pub fn derived(
    alerting: &Alerting,
    targets: &[Arc<Target>],
    now: &Now<'_>,
    now_ms: i64,
) -> Vec<NewAlert> {
    let (declared, certs) = (now.declared, now.certs);
    let mut out = Vec::new();
    for rule in &alerting.rules {
        if rule.on.iter().any(|e| e == "unacknowledged") {
            for (id, name) in now.unacknowledged {
                let Some(t) = targets.iter().find(|t| &t.name == name) else {
                    continue;
                };
                if !rule.selects(t) || alerting.silenced(name, now_ms) {
                    continue;
                }
                let payload = json!({
                    "target": name,
                    "provider": t.provider,
                    "service": t.service,
                    "region": t.region,
                    "incident_id": id,
                    "url": alerting.incident_url(*id),
                });
                let mut a = derived_alert(
                    rule,
                    "unacknowledged",
                    &format!("incident-{id}"),
                    Some(name),
                    payload,
                    now_ms,
                );
                for x in &mut a {
                    x.incident_id = Some(*id);
                }
                out.extend(a);
            }
        }
        if rule.on.iter().any(|e| e == "slo_burn") {
            for (name, status) in now.slos {
                let Some(slo) = alerting.slos.iter().find(|s| &s.name == name) else {
                    continue;
                };
                let covers = slo.targets.iter().any(|n| {
                    targets
                        .iter()
                        .any(|t| &t.name == n && rule.selects(t) && !alerting.silenced(n, now_ms))
                });
                if !covers {
                    continue;
                }
                for a in status.alerts.iter().filter(|a| a.firing) {
                    // One alert per burn alert per long window while it fires.
                    let episode = now_ms.div_euclid(a.long_ms.max(1));
                    let payload = json!({
                        "slo": name,
                        "target": slo.targets.first(),
                        "targets": slo.targets,
                        "severity": a.severity,
                        "factor": a.factor,
                        "long_burn_rate": a.long_burn_rate,
                        "short_burn_rate": a.short_burn_rate,
                        "budget_remaining": status.budget_remaining,
                    });
                    out.extend(derived_alert(
                        rule,
                        "slo_burn",
                        &format!("slo-{name}-{}-{}-{episode}", a.severity, a.long_ms),
                        slo.targets.first().map(String::as_str),
                        payload,
                        now_ms,
                    ));
                }
            }
        }
        if rule.on.iter().any(|e| e == "provider_declared") {
            for p in declared {
                let i = &p.incident;
                let open = i.resolved_at_ms.is_none()
                    && p.removed_at_ms.is_none()
                    && !matches!(i.status.as_str(), "resolved" | "completed" | "postmortem")
                    && i.impact != probity_core::provider::Impact::Maintenance;
                if !open {
                    continue;
                }
                let affected: Vec<&str> = targets
                    .iter()
                    .filter(|t| rule.selects(t) && probity_core::names::affects(i, t.names()))
                    .filter(|t| !alerting.silenced(&t.name, now_ms))
                    .map(|t| t.name.as_str())
                    .collect();
                if affected.is_empty() {
                    continue;
                }
                let payload = json!({
                    "provider": i.provider,
                    "feed": p.feed,
                    "external_id": i.external_id,
                    "title": i.title,
                    "impact": i.impact.as_str(),
                    "status": i.status,
                    "services": i.services,
                    "regions": i.regions,
                    "started_at": i.started_at_ms.map(rfc3339),
                    "first_seen_at": rfc3339(p.first_seen_at_ms),
                    "url": i.url,
                    "targets": affected,
                    "target": affected[0],
                });
                out.extend(derived_alert(
                    rule,
                    "provider_declared",
                    &format!("provider-{}-{}", p.feed, i.external_id),
                    Some(affected[0]),
                    payload,
                    now_ms,
                ));
            }
        }
        if rule.on.iter().any(|e| e == "cert_expiry") {
            for (name, not_after_s) in certs {
                let Some(t) = targets.iter().find(|t| &t.name == name) else {
                    continue;
                };
                let left_ms = not_after_s * 1000 - now_ms;
                if !rule.selects(t)
                    || left_ms > rule.cert_expiry_within.as_millis() as i64
                    || alerting.silenced(name, now_ms)
                {
                    continue;
                }
                let payload = json!({
                    "target": name,
                    "provider": t.provider,
                    "service": t.service,
                    "region": t.region,
                    "not_after": rfc3339(not_after_s * 1000),
                    "days_left": (left_ms as f64 / 86_400_000.0 * 10.0).round() / 10.0,
                });
                out.extend(derived_alert(
                    rule,
                    "cert_expiry",
                    &format!("cert-{name}-{not_after_s}"),
                    Some(name),
                    payload,
                    now_ms,
                ));
            }
        }
    }
    out
}

/// Writes due escalations, reminders and derived alerts into the outbox every second
/// until `shutdown`.
pub async fn escalate(
    store: Arc<dyn Store>,
    alerting: Arc<Alerting>,
    targets: Vec<Arc<Target>>,
    shared: Arc<crate::live::Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let (s, a, t) = (store.clone(), alerting.clone(), targets.clone());
        let certs: Vec<(String, i64)> = shared
            .targets
            .read()
            .expect("live lock")
            .iter()
            .filter_map(|(n, l)| Some((n.clone(), l.cert_not_after_s?)))
            .collect();
        let unack = shared
            .unacknowledged
            .read()
            .expect("unacknowledged lock")
            .clone();
        let slos = shared.slos.read().expect("slos lock").clone();
        let res = tokio::task::spawn_blocking(move || -> crate::store::StoreResult<()> {
            let now = jiff::Timestamp::now().as_millisecond();
            let wants_declared = a
                .rules
                .iter()
                .any(|r| r.on.iter().any(|e| e == "provider_declared"));
            let declared = if wants_declared {
                s.provider_incidents(&crate::store::ProviderFilter {
                    since_ms: Some(now - 86_400_000),
                    ..Default::default()
                })?
            } else {
                Vec::new()
            };
            let now_state = Now {
                declared: &declared,
                certs: &certs,
                unacknowledged: &unack,
                slos: &slos,
            };
            s.enqueue_alerts(&derived(&a, &t, &now_state, now))?;
            let open = s.incidents(crate::store::IncidentFilter::Open)?;
            let mut with_acks = Vec::with_capacity(open.len());
            for i in open {
                let acked = s.incident_ack(i.id)?.is_some();
                with_acks.push((i, acked));
            }
            let due = escalations(&a, &t, &with_acks, jiff::Timestamp::now().as_millisecond());
            s.enqueue_alerts(&due)
        })
        .await;
        if let Ok(Err(e)) = res {
            tracing::warn!(error = %e, "escalation check failed; retrying");
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.wait_for(|s| *s) => break,
        }
    }
}

/// One line a person reads: what, where, since when.
pub fn message(p: &Value) -> String {
    let target = p["target"].as_str().unwrap_or("?");
    let id = p["incident_id"].as_i64().unwrap_or(0);
    let link = p["url"]
        .as_str()
        .map(|u| format!(" {u}"))
        .unwrap_or_default();
    match p["event"].as_str() {
        Some("provider_declared") => format!(
            "probity: {} declares \"{}\" ({}, {}), affecting {}.{}",
            p["provider"].as_str().unwrap_or("?"),
            p["title"].as_str().unwrap_or("?"),
            p["impact"].as_str().unwrap_or("?"),
            p["status"].as_str().unwrap_or("?"),
            p["targets"]
                .as_array()
                .map(|a| a
                    .iter()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(", "))
                .unwrap_or_default(),
            p["url"]
                .as_str()
                .map(|u| format!(" {u}"))
                .unwrap_or_default(),
        ),
        Some("unacknowledged") => format!(
            "probity: the provider of {target} has not acknowledged incident {id}, which probity observed.{link}"
        ),
        Some("slo_burn") => format!(
            "probity: SLO {} is burning its error budget at {:.1}× ({} alert, {}× threshold); budget left {}.",
            p["slo"].as_str().unwrap_or("?"),
            p["long_burn_rate"].as_f64().unwrap_or(0.0),
            p["severity"].as_str().unwrap_or("?"),
            p["factor"],
            p["budget_remaining"]
                .as_f64()
                .map_or("unknown".into(), |b| format!("{:.1}%", b * 100.0)),
        ),
        Some("cert_expiry") => format!(
            "probity: the certificate of {target} expires at {} ({} days left).",
            p["not_after"].as_str().unwrap_or("?"),
            p["days_left"],
        ),
        Some("incident_escalated") | Some("incident_reminder") => format!(
            "probity: {} {target} is still {} after {} s, unacknowledged ({}); incident {id}.{link}",
            if p["event"] == "incident_escalated" {
                "ESCALATED:"
            } else {
                "reminder:"
            },
            p["severity"].as_str().unwrap_or("down"),
            p["open_for_s"].as_i64().unwrap_or(0),
            p["cause"].as_str().unwrap_or("?"),
        ),
        Some("incident_opened") | Some("heartbeat_missed") => format!(
            "probity: {target} is {} since {} ({}); incident {id}, seen from {}.{link}",
            p["severity"].as_str().unwrap_or("down"),
            p["started_at"].as_str().unwrap_or("?"),
            p["cause"].as_str().unwrap_or("?"),
            p["vantage"].as_str().unwrap_or("?"),
        ),
        Some("incident_resolved") => format!(
            "probity: {target} recovered at {}; incident {id} resolved.{link}",
            p["resolved_at"].as_str().unwrap_or("?")
        ),
        _ => format!("probity: {}", p),
    }
}

/// `sha256=HEX` of HMAC-SHA256(secret, body): the `X-Probity-Signature` header.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Sends one alert through its channel: `Ok(status)` for a 2xx answer.
async fn send(
    client: &reqwest::Client,
    channel: &Channel,
    a: &StoredAlert,
) -> Result<u16, (Option<u16>, String)> {
    let payload: Value = serde_json::from_str(&a.alert.payload).unwrap_or(Value::Null);
    if let ChannelKind::Email(e) = &channel.kind {
        return send_email(e, a, &payload).await;
    }
    let (url, body, signature) = match &channel.kind {
        ChannelKind::Email(_) => unreachable!("sent above"),
        ChannelKind::Webhook { url, secret } => {
            let body = a.alert.payload.clone().into_bytes();
            let sig = secret.as_ref().map(|s| signature(s, &body));
            (url.clone(), body, sig)
        }
        ChannelKind::Slack { url } => (
            url.clone(),
            json!({"text": message(&payload)}).to_string().into_bytes(),
            None,
        ),
        ChannelKind::PagerDuty { routing_key, url } => {
            let resolve = a.alert.event == "incident_resolved";
            let body = json!({
                "routing_key": routing_key,
                "event_action": if resolve { "resolve" } else { "trigger" },
                // One PagerDuty incident per probity incident: its resolve closes it.
                "dedup_key": format!("probity-incident-{}", a.alert.incident_id.unwrap_or(0)),
                "payload": {
                    "summary": message(&payload),
                    "source": payload["target"],
                    "severity": if payload["severity"] == "degraded" { "warning" } else { "critical" },
                    "timestamp": payload["at"],
                    "custom_details": payload,
                },
                "links": payload["url"].as_str().map(|u| vec![json!({"href": u, "text": "incident"})]).unwrap_or_default(),
            });
            (url.clone(), body.to_string().into_bytes(), None)
        }
    };
    let mut req = client
        .post(&url)
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

/// Sends an alert by email: the message line as the subject, the event as the body. The
/// Message-ID carries the idempotency key, so a repeat is recognisable.
async fn send_email(
    e: &probity_ground::config::EmailChannel,
    a: &StoredAlert,
    payload: &Value,
) -> Result<u16, (Option<u16>, String)> {
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
    let err = |m: String| (None, m);
    let text = message(payload);
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
        serde_json::to_string_pretty(payload).unwrap_or_default()
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

/// The wait before attempt `attempts + 1`: 1 s doubled per attempt, capped, ±20% jitter.
pub fn backoff(attempts: u32, max: Duration, jitter: f64) -> Duration {
    let base = Duration::from_secs(1).saturating_mul(1u32 << attempts.min(20));
    base.min(max).mul_f64(1.0 + jitter.clamp(-0.2, 0.2))
}

/// Delivers what is due until `shutdown` turns true. An alert whose channel is no longer
/// configured waits (it is not dropped) and says so in its last error.
pub async fn run(
    store: Arc<dyn Store>,
    alerting: Arc<Alerting>,
    mut shutdown: watch::Receiver<bool>,
) {
    let client = match probity_ground::http_client::client(
        probity_ground::http_client::Purpose::Alerts,
        None,
    ) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the alert client; alerts stay in the outbox");
            return;
        }
    };
    loop {
        let now = jiff::Timestamp::now().as_millisecond();
        let s = store.clone();
        let due = tokio::task::spawn_blocking(move || s.due_alerts(now, 50))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()));
        let due = match due {
            Ok(due) => due,
            // The alerts stay in the outbox: read them again after a pause.
            Err(e) => {
                tracing::error!(error = %e, "cannot read the alert outbox; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    _ = shutdown.wait_for(|s| *s) => break,
                }
            }
        };
        for a in due {
            let channel = alerting.channels.iter().find(|c| c.name == a.alert.channel);
            let started = std::time::Instant::now();
            let result = match channel {
                Some(c) => send(&client, c, &a).await,
                None => Err((
                    None,
                    format!("no channel named `{}` is configured", a.alert.channel),
                )),
            };
            let at = jiff::Timestamp::now().as_millisecond();
            let (ok, http_status, error) = match result {
                Ok(status) => (true, Some(status), None),
                Err((status, e)) => (false, status, Some(e)),
            };
            let attempts = a.attempts + 1;
            let (state, next) = if ok {
                ("delivered", at)
            } else if at - a.alert.created_at_ms > GIVE_UP_AFTER_MS {
                ("expired", at)
            } else {
                let jitter = (crate::feeds::poll::rand_unit() - 0.5) * 0.4;
                let wait = backoff(attempts - 1, alerting.settings.max_backoff.as_std(), jitter);
                ("pending", at + wait.as_millis() as i64)
            };
            if let Some(e) = &error {
                tracing::warn!(alert = %a.alert.key, channel = %a.alert.channel, attempts, error = %e, "alert delivery failed; will retry");
            } else {
                tracing::info!(alert = %a.alert.key, channel = %a.alert.channel, "alert delivered");
            }
            let attempt = AlertAttempt {
                at_ms: at,
                ok,
                http_status,
                error,
                duration_ms: started.elapsed().as_secs_f64() * 1000.0,
            };
            let s = store.clone();
            let id = a.id;
            let recorded = tokio::task::spawn_blocking(move || {
                s.record_alert_attempt(id, &attempt, state, next)
            })
            .await;
            if !matches!(recorded, Ok(Ok(()))) {
                // The outbox still says pending: it is sent again, under the same
                // idempotency key, which is what receivers deduplicate by.
                tracing::error!(alert = %a.alert.key, ok, "could not record a delivery attempt; the alert stays due");
            }
        }
        // Sleep until the next alert is due (new ones arrive at most this late).
        let s = store.clone();
        let next = tokio::task::spawn_blocking(move || s.next_alert_due())
            .await
            .ok()
            .and_then(Result::ok)
            .flatten();
        let now = jiff::Timestamp::now().as_millisecond();
        let wait = next.map_or(250, |n| (n - now).clamp(0, 250)) as u64;
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(wait.max(20))) => {}
            _ = shutdown.wait_for(|s| *s) => break,
        }
    }
}

/// An alert and its delivery attempts, as the API gives them.
#[derive(Clone, Debug, serde::Serialize, schemars::JsonSchema)]
pub struct AlertView {
    pub id: i64,
    pub idempotency_key: String,
    pub rule: String,
    pub channel: String,
    pub event: String,
    pub target: Option<String>,
    pub incident_id: Option<i64>,
    pub created_at: Stamp,
    /// `pending`, `delivered` or `expired`.
    pub state: String,
    pub attempts: Vec<AttemptView>,
    pub next_attempt_at: Option<Stamp>,
    pub delivered_at: Option<Stamp>,
    pub last_error: Option<String>,
    /// The event the channel renders its message from.
    pub payload: Value,
}

/// One delivery attempt.
#[derive(Clone, Debug, serde::Serialize, schemars::JsonSchema)]
pub struct AttemptView {
    pub at: Stamp,
    pub ok: bool,
    pub http_status: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: f64,
}

/// The view of an alert and its attempts, for the API.
pub fn json(a: &StoredAlert, attempts: &[AlertAttempt]) -> AlertView {
    AlertView {
        id: a.id,
        idempotency_key: a.alert.key.clone(),
        rule: a.alert.rule.clone(),
        channel: a.alert.channel.clone(),
        event: a.alert.event.clone(),
        target: a.alert.target.clone(),
        incident_id: a.alert.incident_id,
        created_at: Stamp::ms(a.alert.created_at_ms),
        state: a.state.clone(),
        attempts: attempts
            .iter()
            .map(|t| AttemptView {
                at: Stamp::ms(t.at_ms),
                ok: t.ok,
                http_status: t.http_status,
                error: t.error.clone(),
                duration_ms: (t.duration_ms * 1000.0).round() / 1000.0,
            })
            .collect(),
        next_attempt_at: (a.state == "pending").then(|| Stamp::ms(a.next_attempt_ms)),
        delivered_at: Stamp::opt(a.delivered_at_ms),
        last_error: a.last_error.clone(),
        payload: serde_json::from_str::<Value>(&a.alert.payload).unwrap_or(Value::Null),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hmac_sha256_of_the_body() {
        // RFC 4231, test case 2.
        let mac = signature("Jefe", b"what do ya want for nothing?");
        assert_eq!(
            mac,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn backoff_doubles_to_its_cap() {
        let max = Duration::from_secs(300);
        assert_eq!(backoff(0, max, 0.0), Duration::from_secs(1));
        assert_eq!(backoff(3, max, 0.0), Duration::from_secs(8));
        assert_eq!(backoff(30, max, 0.0), max);
        assert_eq!(
            backoff(0, max, 0.9),
            Duration::from_millis(1200),
            "jitter ±20%"
        );
    }
}
