//! What one probe observed: per-phase timings, a health verdict and, when it failed, an
//! error class with the detail that explains it.

use serde::{Deserialize, Serialize};

/// Per-phase timings in milliseconds. A phase that did not happen (no DNS lookup for an IP
/// literal, no TLS for plain HTTP, a phase never reached) is `None`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Phases {
    pub dns_ms: Option<f64>,
    pub connect_ms: Option<f64>,
    pub tls_ms: Option<f64>,
    pub ttfb_ms: Option<f64>,
    pub total_ms: Option<f64>,
}

/// The verdict on one result. Ordered by severity.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Reachable and every condition holds.
    Up,
    /// Reachable, but a latency or content condition fails.
    Degraded,
    /// Unreachable, or the service answered with a failure.
    Down,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Up => "up",
            Health::Degraded => "degraded",
            Health::Down => "down",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "up" => Some(Health::Up),
            "degraded" => Some(Health::Degraded),
            "down" => Some(Health::Down),
            _ => None,
        }
    }
}

/// Why a probe failed, coarsely: the stable vocabulary used in the API and in metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// The name did not resolve, or a DNS probe got a wrong answer.
    Dns,
    /// The TCP connection was refused, reset or unreachable.
    Connect,
    /// The probe did not finish within its timeout.
    Timeout,
    /// The TLS handshake failed or the certificate is invalid (expired, wrong name, untrusted).
    Tls,
    /// The HTTP status did not meet the status condition.
    HttpStatus,
    /// The connection broke while the request or response was in flight.
    Protocol,
    /// This machine could not probe at all (out of file descriptors, memory or network
    /// buffers): it says nothing of the target, so such a result is recorded unmeasured.
    Local,
    /// Redirects were followed `max_redirects` times and the answer was still a redirect
    /// (a loop, or a chain longer than allowed).
    Redirects,
    /// A latency, content or certificate-lifetime condition failed.
    Condition,
    /// Failed, for a reason the source did not say (imported history).
    Unknown,
    /// Object storage returned other bytes than were written (a checksum differs).
    IntegrityMismatch,
    /// An object that was written and acknowledged is gone.
    ObjectMissing,
    /// Object storage served an older version after a newer one was acknowledged.
    StaleRead,
    /// A listing left out an object that exists (or showed one that does not).
    ListingInconsistent,
}

impl ErrorClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Dns => "dns",
            ErrorClass::Connect => "connect",
            ErrorClass::Timeout => "timeout",
            ErrorClass::Tls => "tls",
            ErrorClass::HttpStatus => "http_status",
            ErrorClass::Protocol => "protocol",
            ErrorClass::Local => "local",
            ErrorClass::Redirects => "redirects",
            ErrorClass::Condition => "condition",
            ErrorClass::Unknown => "unknown",
            ErrorClass::IntegrityMismatch => "integrity_mismatch",
            ErrorClass::ObjectMissing => "object_missing",
            ErrorClass::StaleRead => "stale_read",
            ErrorClass::ListingInconsistent => "listing_inconsistent",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "dns" => ErrorClass::Dns,
            "connect" => ErrorClass::Connect,
            "timeout" => ErrorClass::Timeout,
            "tls" => ErrorClass::Tls,
            "http_status" => ErrorClass::HttpStatus,
            "protocol" => ErrorClass::Protocol,
            "local" => ErrorClass::Local,
            "redirects" => ErrorClass::Redirects,
            "condition" => ErrorClass::Condition,
            "unknown" => ErrorClass::Unknown,
            "integrity_mismatch" => ErrorClass::IntegrityMismatch,
            "object_missing" => ErrorClass::ObjectMissing,
            "stale_read" => ErrorClass::StaleRead,
            "listing_inconsistent" => ErrorClass::ListingInconsistent,
            _ => return None,
        })
    }
    /// The health a failure of this class implies: content and latency problems leave the
    /// service reachable (degraded); everything else is down.
    pub fn health(self) -> Health {
        match self {
            ErrorClass::Condition => Health::Degraded,
            _ => Health::Down,
        }
    }
    /// True for the classes that say stored data was lost, changed or served stale: the
    /// storage answered, but not with what it had acknowledged.
    pub fn is_integrity(self) -> bool {
        matches!(
            self,
            ErrorClass::IntegrityMismatch
                | ErrorClass::ObjectMissing
                | ErrorClass::StaleRead
                | ErrorClass::ListingInconsistent
        )
    }
}

/// The cause of a failed result or incident: its class and a human explanation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cause {
    pub class: ErrorClass,
    pub detail: String,
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.class.as_str(), self.detail)
    }
}
