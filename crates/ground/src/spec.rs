//! What to probe and how: the probe specifications that a `[[target]]` table becomes, with
//! the few pure helpers the configuration checks them with. The probers (`probity-engine`'s
//! `probe`) take these values; the configuration makes them.

use probity_core::condition::Condition;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// What to probe and how, with secrets already expanded. Never log this value.
#[derive(Clone, Debug)]
pub enum ProbeSpec {
    Http(HttpSpec),
    Tcp(TcpSpec),
    Tls(TlsSpec),
    Dns(DnsSpec),
    /// Pushed to (`/api/v1/heartbeat/{token}`), never probed.
    Heartbeat(HeartbeatSpec),
    /// Measured by someone else and read from a `[[source]]`, never probed.
    External,
}

impl ProbeSpec {
    /// Whether probity's schedulers probe it (heartbeats and external targets get their
    /// results from elsewhere).
    pub fn is_probed(&self) -> bool {
        !matches!(self, ProbeSpec::Heartbeat(_) | ProbeSpec::External)
    }
}

/// A push heartbeat: the job pings every `interval`; a ping missing for `grace` more is a
/// failure.
#[derive(Clone, Debug)]
pub struct HeartbeatSpec {
    /// Secret: never log it.
    pub token: String,
    pub grace_ms: u64,
}

impl ProbeSpec {
    pub fn kind(&self) -> &'static str {
        match self {
            ProbeSpec::Http(_) => "http",
            ProbeSpec::Tcp(_) => "tcp",
            ProbeSpec::Tls(_) => "tls",
            ProbeSpec::Dns(_) => "dns",
            ProbeSpec::Heartbeat(_) => "heartbeat",
            ProbeSpec::External => "external",
        }
    }
}

#[derive(Clone, Debug)]
pub struct HttpSpec {
    pub url: String,
    pub method: String,
    pub headers: BTreeMap<String, String>,
    pub body: Option<String>,
    pub follow_redirects: bool,
    pub max_redirects: u32,
    pub ip_version: IpVersion,
    pub tls: TlsOptions,
}

#[derive(Clone, Debug)]
pub struct TcpSpec {
    pub address: String,
    pub send: Option<String>,
    pub expect: Option<String>,
    pub ip_version: IpVersion,
}

#[derive(Clone, Debug)]
pub struct TlsSpec {
    pub address: String,
    pub ip_version: IpVersion,
    pub tls: TlsOptions,
}

#[derive(Clone, Debug)]
pub struct DnsSpec {
    pub name: String,
    pub record_type: String,
    /// `host:port` of the nameserver to ask; `None` means the system's first nameserver.
    pub resolver: Option<String>,
    pub expect: Vec<String>,
}

/// TLS settings shared by `http` (for https URLs) and `tls` targets.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct TlsOptions {
    /// Extra trust anchors (PEM), added to the bundled Mozilla roots.
    pub ca_file: Option<PathBuf>,
    /// The name to send as SNI and to verify, when it differs from the address's host.
    pub server_name: Option<String>,
}

/// Which address family a probe uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub enum IpVersion {
    /// IPv4 when the name has an IPv4 address, else IPv6.
    #[default]
    #[serde(rename = "any")]
    Any,
    #[serde(rename = "4")]
    V4,
    #[serde(rename = "6")]
    V6,
}

/// The record types a DNS target may ask for.
pub const RECORD_TYPES: &[&str] = &[
    "A", "AAAA", "CNAME", "TXT", "MX", "NS", "SOA", "SRV", "CAA", "PTR",
];

/// Splits `host:port` (with `[v6]:port` accepted).
pub fn split_host_port(address: &str) -> Option<(String, u16)> {
    let (host, port) = address.rsplit_once(':')?;
    let port = port.parse().ok()?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return None;
    }
    Some((host.to_string(), port))
}

/// The conditions a target gets when its configuration lists none.
pub fn default_conditions(kind: &str) -> Vec<Condition> {
    let src: &[&str] = match kind {
        "http" => &["[STATUS] < 400"],
        "tcp" => &["[CONNECTED] == true"],
        "dns" => &["[DNS_RCODE] == NOERROR"],
        _ => &[],
    };
    src.iter()
        .map(|s| Condition::parse(s).expect("default conditions parse"))
        .collect()
}
