//! Probers: one function per kind of target, each returning a [`ProbeOutput`] with per-phase
//! timings, a health verdict, the error class and the details that explain it.
//!
//! **Invariant:** a probe never fails as a Rust error: every way a target can misbehave
//! (refused, timed out, bad certificate, wrong answer) is a result to record. Each phase runs
//! against the probe's one deadline, so a timeout says which phase it hit.

mod dns;
mod http;
mod net;
pub mod object_store;
mod tcp;
mod tls;

pub use net::ProbeContext;
pub use object_store::{CanaryEntry, Storage, StorageDetails};
pub use probity_ground::spec::{
    DnsSpec, HeartbeatSpec, HttpSpec, IpVersion, ObjectStoreSpec, ProbeSpec, RECORD_TYPES, TcpSpec,
    TlsOptions, TlsSpec, default_conditions, split_host_port,
};
pub use tls::TlsDetails;

use probity_core::condition::{Condition, Observation, Verdict};
use probity_core::result::{Cause, ErrorClass, Health, Phases};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The outcome of one probe.
#[derive(Clone, Debug, Serialize)]
pub struct ProbeOutput {
    pub at_ms: i64,
    pub phases: Phases,
    pub health: Health,
    pub cause: Option<Cause>,
    pub details: Details,
    #[serde(skip)]
    pub observation: Observation,
}

/// The facts behind a result, kept with failures and shown by `probity probe`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Details {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_version: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub redirects: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_rcode: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub dns_answers: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub conditions: Vec<ConditionOutcome>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub storage: Option<object_store::StorageDetails>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ConditionOutcome {
    pub condition: String,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub got: Option<String>,
}

/// Where a probe got to before it failed: the error to record.
pub(crate) struct Failure {
    pub class: ErrorClass,
    pub detail: String,
}

impl Failure {
    pub fn new(class: ErrorClass, detail: impl Into<String>) -> Self {
        Failure {
            class,
            detail: detail.into(),
        }
    }
}

/// Runs one probe to completion within `timeout`.
pub async fn run(
    ctx: &ProbeContext,
    spec: &ProbeSpec,
    conditions: &[Condition],
    timeout: Duration,
) -> ProbeOutput {
    let at_ms = jiff::Timestamp::now().as_millisecond();
    let started = tokio::time::Instant::now();
    let deadline = started + timeout;
    let mut obs = Observation::default();
    let mut details = Details::default();
    let failure = match spec {
        ProbeSpec::Http(s) => http::probe(ctx, s, deadline, &mut obs, &mut details).await,
        ProbeSpec::Tcp(s) => tcp::probe(ctx, s, deadline, &mut obs, &mut details).await,
        ProbeSpec::Tls(s) => tls::probe(ctx, s, deadline, &mut obs, &mut details).await,
        ProbeSpec::Dns(s) => dns::probe(ctx, s, deadline, &mut obs, &mut details).await,
        ProbeSpec::ObjectStore(s) => {
            object_store::probe(ctx, s, deadline, &mut obs, &mut details).await
        }
        ProbeSpec::Heartbeat(_) => Err(Failure::new(
            ErrorClass::Protocol,
            "a heartbeat target is pushed to, not probed",
        )),
        ProbeSpec::External => Err(Failure::new(
            ErrorClass::Protocol,
            "an external target's results come from a [[source]]; it is not probed",
        )),
    }
    .err();
    obs.phases.total_ms = Some(ms_since(started));
    judge(at_ms, obs, details, failure, conditions)
}

/// Applies the conditions to what was observed. A transport failure wins over conditions
/// (they would only fail for lack of data); otherwise the worst failing condition decides.
fn judge(
    at_ms: i64,
    obs: Observation,
    mut details: Details,
    failure: Option<Failure>,
    conditions: &[Condition],
) -> ProbeOutput {
    if let Some(f) = failure {
        return ProbeOutput {
            at_ms,
            phases: obs.phases,
            health: f.class.health(),
            cause: Some(Cause {
                class: f.class,
                detail: f.detail,
            }),
            details,
            observation: obs,
        };
    }
    let json = if conditions
        .iter()
        .any(|c| matches!(c.operand, probity_core::condition::Operand::BodyJson(_)))
    {
        obs.body
            .as_deref()
            .and_then(|b| serde_json::from_str(b).ok())
    } else {
        None
    };
    let mut worst: Option<Cause> = None;
    for c in conditions {
        match c.evaluate(&obs, json.as_ref()) {
            Verdict::Pass => details.conditions.push(ConditionOutcome {
                condition: c.source.clone(),
                ok: true,
                got: None,
            }),
            Verdict::Fail(why) => {
                let class = c.operand.error_class();
                if worst
                    .as_ref()
                    .is_none_or(|w| class.health() > w.class.health())
                {
                    worst = Some(Cause {
                        class,
                        detail: why.clone(),
                    });
                }
                details.conditions.push(ConditionOutcome {
                    condition: c.source.clone(),
                    ok: false,
                    got: Some(why),
                });
            }
        }
    }
    ProbeOutput {
        at_ms,
        phases: obs.phases,
        health: worst.as_ref().map_or(Health::Up, |c| c.class.health()),
        cause: worst,
        details,
        observation: obs,
    }
}

/// Milliseconds since `t`, in whole microseconds (a finer figure says nothing about a
/// network; whole microseconds are what a compact chunk keeps in two bytes).
pub(crate) fn ms_since(t: tokio::time::Instant) -> f64 {
    probity_core::chunk::micros_to_ms(t.elapsed().as_micros())
}

/// Runs one phase against the probe's deadline, naming the phase if time runs out.
pub(crate) async fn phase<T>(
    deadline: tokio::time::Instant,
    name: &str,
    fut: impl std::future::Future<Output = Result<T, Failure>>,
) -> Result<T, Failure> {
    match tokio::time::timeout_at(deadline, fut).await {
        Ok(r) => r,
        Err(_) => Err(Failure::new(
            ErrorClass::Timeout,
            format!("timed out {name}"),
        )),
    }
}
