//! Alerts that are never lost. The recorder puts an alert in the outbox in the same
//! transaction as the incident change that causes it ([`Alerting::for_change`]); the
//! deliverer ([`run`]) sends what is due, at least once, with exponential backoff and
//! jitter, and records every attempt. Each alert has one idempotency key for all its
//! retries, so a receiver can drop duplicates: a kill between sending and recording an
//! attempt repeats that one alert, with the same key.

pub mod channel;
pub mod event;
mod rules;

pub use channel::signature;
pub use event::{AlertEvent, EventKind};
pub use rules::{Now, derived, escalations};

use crate::store::{AlertAttempt, Store, StoredAlert};
use probity_ground::config::{AlertRule, AlertingConfig, Channel, Config, Target};
use probity_ground::time::Stamp;
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
    /// Each feed's component map, for `provider_declared` rules.
    pub components: Arc<probity_core::provider::ComponentMaps>,
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
                components: c.reconcile.components.clone(),
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
                let mut d = s.provider_incidents(&crate::store::ProviderFilter {
                    since_ms: Some(now - 86_400_000),
                    ..Default::default()
                })?;
                crate::feeds::map_components(&a.components, &mut d);
                d
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
            let acked = s.acknowledged_open()?;
            let with_acks: Vec<_> = open
                .into_iter()
                .map(|i| {
                    let a = acked.contains(&i.id);
                    (i, a)
                })
                .collect();
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
                Some(c) => channel::send(&client, c, &a).await,
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
    /// The event, as the webhook receives it (`null` if the stored one cannot be read).
    pub payload: Option<AlertEvent>,
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
        payload: AlertEvent::parse(&a.alert.payload).ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
