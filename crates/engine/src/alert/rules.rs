//! Which alerts the rules ask for: on an incident change (written by the recorder in the
//! change's transaction), escalations and reminders of open incidents, and alerts on what
//! is true now (a provider declaration, an expiring certificate, an unacknowledged outage,
//! a burning SLO). Pure: the callers read the store and the live state. Keys are derived
//! from what an alert is about, so writing one twice is harmless.

use super::Alerting;
use super::event::{
    AlertEvent, CertExpiry, Declared, EventKind, Opened, Resolved, SloBurn, StillOpen, Subject,
    Unacknowledged,
};
use crate::store::{IncidentChange, NewAlert};
use probity_ground::config::{AlertRule, Target};
use probity_ground::time::rfc3339;
use std::sync::Arc;

/// An outbox entry for `kind`, sent by `rule` on `channel` under `key`.
fn alert(
    rule: &AlertRule,
    channel: &str,
    key: String,
    kind: EventKind,
    incident_id: Option<i64>,
    now_ms: i64,
) -> NewAlert {
    let event = AlertEvent {
        kind,
        rule: rule.name.clone(),
        idempotency_key: key.clone(),
    };
    NewAlert {
        key,
        rule: rule.name.clone(),
        channel: channel.to_string(),
        event: event.kind.name().into(),
        target: event.kind.target().map(str::to_string),
        incident_id,
        payload: serde_json::to_string(&event).expect("an event is JSON"),
        created_at_ms: now_ms,
    }
}

impl Alerting {
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
        let vantage = probity_ground::vantage::LOCAL.to_string();
        let kind = match change {
            IncidentChange::Open {
                id,
                started_at_ms,
                severity,
                cause,
                ..
            } => EventKind::IncidentOpened(Opened {
                subject: Subject::of(target),
                incident_id: *id,
                at: rfc3339(*started_at_ms),
                started_at: rfc3339(*started_at_ms),
                severity: severity.as_str().into(),
                cause: cause.to_string(),
                vantage,
                url: self.incident_url(*id),
            }),
            IncidentChange::Resolve {
                id, resolved_at_ms, ..
            } => EventKind::IncidentResolved(Resolved {
                subject: Subject::of(target),
                incident_id: *id,
                at: rfc3339(*resolved_at_ms),
                resolved_at: rfc3339(*resolved_at_ms),
                vantage,
                url: self.incident_url(*id),
            }),
            IncidentChange::Escalate { .. } => return Vec::new(),
        };
        let heartbeat = matches!(target.spec, crate::probe::ProbeSpec::Heartbeat(_));
        let mut out = Vec::new();
        for rule in &self.rules {
            if !rule.selects(target) {
                continue;
            }
            // A heartbeat's incident opening is a missed heartbeat, for rules that ask.
            let kind = if rule.on.iter().any(|e| e == kind.name()) {
                kind.clone()
            } else if let (true, EventKind::IncidentOpened(o)) = (heartbeat, &kind)
                && rule.on.iter().any(|e| e == "heartbeat_missed")
            {
                EventKind::HeartbeatMissed(o.clone())
            } else {
                continue;
            };
            for channel in &rule.channels {
                let key = format!(
                    "incident-{}-{}-{}-{channel}",
                    change.id(),
                    kind.name(),
                    rule.name
                );
                out.push(alert(
                    rule,
                    channel,
                    key,
                    kind.clone(),
                    Some(change.id()),
                    now_ms,
                ));
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
        let still = StillOpen {
            subject: Subject::of(target),
            incident_id: inc.id,
            at: rfc3339(now_ms),
            started_at: rfc3339(inc.started_at_ms),
            severity: inc.severity.as_str().into(),
            cause: inc.cause.to_string(),
            open_for_s: age / 1000,
            vantage: probity_ground::vantage::LOCAL.into(),
            url: alerting.incident_url(inc.id),
        };
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
            let mut push = |kind: EventKind, step: String, channels: &[String]| {
                for channel in channels {
                    let key = format!("incident-{}-{step}-{}-{channel}", inc.id, rule.name);
                    out.push(alert(
                        rule,
                        channel,
                        key,
                        kind.clone(),
                        Some(inc.id),
                        now_ms,
                    ));
                }
            };
            if let Some(after) = rule.escalate_after
                && age >= after.as_millis() as i64
            {
                push(
                    EventKind::IncidentEscalated(still.clone()),
                    "escalated".into(),
                    &rule.escalate_to,
                );
            }
            if let Some(every) = rule.remind_every {
                let n = age / (every.as_millis() as i64).max(1);
                if n >= 1 {
                    push(
                        EventKind::IncidentReminder(still.clone()),
                        format!("reminder{n}"),
                        &rule.channels,
                    );
                }
            }
        }
    }
    out
}

/// One alert per channel of `rule` for a derived event, keyed by `key_stem`.
fn derived_alert(
    rule: &AlertRule,
    key_stem: &str,
    kind: EventKind,
    incident_id: Option<i64>,
    now_ms: i64,
) -> Vec<NewAlert> {
    rule.channels
        .iter()
        .map(|channel| {
            let key = format!("{key_stem}-{}-{}-{channel}", kind.name(), rule.name);
            alert(rule, channel, key, kind.clone(), incident_id, now_ms)
        })
        .collect()
}

/// What the derived alerts look at, read by the caller.
pub struct Now<'a> {
    pub declared: &'a [crate::store::StoredProviderIncident],
    pub certs: &'a [(String, i64)],
    /// Unacknowledged observed incidents: (id, target).
    pub unacknowledged: &'a [(i64, String)],
    pub slos: &'a [(String, probity_core::slo::Status)],
}

/// Alerts on what is true now rather than on a change the recorder writes: an open
/// provider declaration on a watched service (`provider_declared`, once per declaration),
/// a certificate expiring soon (`cert_expiry`, once per certificate), an unacknowledged
/// outage (`unacknowledged`, once per incident), a firing SLO burn alert (`slo_burn`, once
/// per alert per long window).
pub fn derived(
    alerting: &Alerting,
    targets: &[Arc<Target>],
    now: &Now<'_>,
    now_ms: i64,
) -> Vec<NewAlert> {
    let at = rfc3339(now_ms);
    let mut out = Vec::new();
    for rule in &alerting.rules {
        let wants = |e: &str| rule.on.iter().any(|x| x == e);
        if wants("unacknowledged") {
            for (id, name) in now.unacknowledged {
                let Some(t) = targets.iter().find(|t| &t.name == name) else {
                    continue;
                };
                if !rule.selects(t) || alerting.silenced(name, now_ms) {
                    continue;
                }
                let kind = EventKind::Unacknowledged(Unacknowledged {
                    subject: Subject::of(t),
                    incident_id: *id,
                    url: alerting.incident_url(*id),
                    at: at.clone(),
                });
                out.extend(derived_alert(
                    rule,
                    &format!("incident-{id}"),
                    kind,
                    Some(*id),
                    now_ms,
                ));
            }
        }
        if wants("slo_burn") {
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
                    let kind = EventKind::SloBurn(SloBurn {
                        slo: name.clone(),
                        target: slo.targets.first().cloned(),
                        targets: slo.targets.clone(),
                        severity: a.severity.clone(),
                        factor: a.factor,
                        long_burn_rate: a.long_burn_rate,
                        short_burn_rate: a.short_burn_rate,
                        budget_remaining: status.budget_remaining,
                        incident_id: None,
                        at: at.clone(),
                    });
                    out.extend(derived_alert(
                        rule,
                        &format!("slo-{name}-{}-{}-{episode}", a.severity, a.long_ms),
                        kind,
                        None,
                        now_ms,
                    ));
                }
            }
        }
        if wants("provider_declared") {
            for p in now.declared {
                let i = &p.incident;
                let open = i.resolved_at_ms.is_none()
                    && p.removed_at_ms.is_none()
                    && !matches!(i.status.as_str(), "resolved" | "completed" | "postmortem")
                    && i.impact != probity_core::provider::Impact::Maintenance;
                if !open {
                    continue;
                }
                let affected: Vec<String> = targets
                    .iter()
                    .filter(|t| rule.selects(t) && probity_core::names::affects(i, t.names()))
                    .filter(|t| !alerting.silenced(&t.name, now_ms))
                    .map(|t| t.name.clone())
                    .collect();
                let Some(first) = affected.first().cloned() else {
                    continue;
                };
                let kind = EventKind::ProviderDeclared(Declared {
                    provider: i.provider.clone(),
                    feed: p.feed.clone(),
                    external_id: i.external_id.clone(),
                    title: i.title.clone(),
                    impact: i.impact.as_str().into(),
                    status: i.status.clone(),
                    services: i.services.clone(),
                    regions: i.regions.clone(),
                    started_at: i.started_at_ms.map(rfc3339),
                    first_seen_at: rfc3339(p.first_seen_at_ms),
                    url: i.url.clone(),
                    targets: affected,
                    target: first,
                    incident_id: None,
                    at: at.clone(),
                });
                out.extend(derived_alert(
                    rule,
                    &format!("provider-{}-{}", p.feed, i.external_id),
                    kind,
                    None,
                    now_ms,
                ));
            }
        }
        if wants("cert_expiry") {
            for (name, not_after_s) in now.certs {
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
                let kind = EventKind::CertExpiry(CertExpiry {
                    subject: Subject::of(t),
                    not_after: rfc3339(not_after_s * 1000),
                    days_left: (left_ms as f64 / 86_400_000.0 * 10.0).round() / 10.0,
                    incident_id: None,
                    at: at.clone(),
                });
                out.extend(derived_alert(
                    rule,
                    &format!("cert-{name}-{not_after_s}"),
                    kind,
                    None,
                    now_ms,
                ));
            }
        }
    }
    out
}
