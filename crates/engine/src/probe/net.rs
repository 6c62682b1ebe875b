//! Name resolution and TCP connect, timed, shared by every prober.

use super::{Failure, IpVersion, ms_since, phase, split_host_port};
use hickory_resolver::TokioResolver;
use probity_core::result::ErrorClass;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use tokio::net::TcpStream;

/// Why a name did not resolve, as the resolver said.
#[derive(Debug)]
enum LookupFailure {
    NoSuchName,
    NoRecords,
    Timeout,
    Other(String),
}

/// A lookup failure in the words people use (the resolver's own text names its internal
/// query structures).
fn describe_lookup(host: &str, ip: IpVersion, why: LookupFailure) -> String {
    match why {
        LookupFailure::NoSuchName => format!("{host} does not exist (NXDOMAIN)"),
        LookupFailure::NoRecords => format!(
            "no {} record for {host}",
            match ip {
                IpVersion::V4 => "A",
                IpVersion::V6 => "AAAA",
                IpVersion::Any => "A or AAAA",
            }
        ),
        LookupFailure::Timeout => format!("no answer about {host} from the resolver in time"),
        LookupFailure::Other(e) => format!("looking up {host}: {e}"),
    }
}

/// What every probe shares: one resolver (with its cache off, so DNS time is real) and TLS
/// client configurations per trust setting.
pub struct ProbeContext {
    resolver: Option<TokioResolver>,
    pub(super) tls_verifiers:
        Mutex<HashMap<super::TlsOptions, Arc<rustls::client::WebPkiServerVerifier>>>,
    /// The User-Agent of HTTP probes (a target's own `headers` may set another).
    pub(super) user_agent: String,
    /// Object stores' clients and canary manifests.
    pub(super) storage: super::object_store::Storage,
}

impl ProbeContext {
    pub fn new() -> Self {
        probity_ground::process::install_crypto_provider();
        let resolver = TokioResolver::builder_tokio().ok().and_then(|mut b| {
            b.options_mut().cache_size = 0;
            b.options_mut().attempts = 1;
            b.build().ok()
        });
        ProbeContext {
            resolver,
            tls_verifiers: Mutex::new(HashMap::new()),
            user_agent: concat!("probity/", env!("CARGO_PKG_VERSION")).to_string(),
            storage: Default::default(),
        }
    }

    /// A context whose HTTP probes say which vantage they come from
    /// (`probity/VERSION (vantage NAME)`), so a target's operator can tell them apart.
    pub fn for_vantage(vantage: &str) -> Self {
        let mut c = ProbeContext::new();
        c.user_agent = format!("probity/{} (vantage {vantage})", env!("CARGO_PKG_VERSION"));
        c
    }

    /// This context keeps object stores' canaries with the manifest given (a server's).
    pub fn with_storage(mut self, storage: super::object_store::Storage) -> Self {
        self.storage = storage;
        self
    }

    /// Resolves `host` (an IP literal needs no lookup), recording the DNS phase.
    pub(super) async fn resolve(
        &self,
        host: &str,
        ip: IpVersion,
        deadline: tokio::time::Instant,
        dns_ms: &mut Option<f64>,
    ) -> Result<IpAddr, Failure> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(addr) = bare.parse::<IpAddr>() {
            return Ok(addr);
        }
        let started = tokio::time::Instant::now();
        let result = phase(deadline, "looking up the name", async {
            let resolver = self
                .resolver
                .as_ref()
                .ok_or_else(|| Failure::new(ErrorClass::Dns, "no system resolver is configured"))?;
            let lookup = resolver.lookup_ip(bare).await.map_err(|e| {
                let kind = if e.is_nx_domain() {
                    LookupFailure::NoSuchName
                } else if e.is_no_records_found() {
                    LookupFailure::NoRecords
                } else if e.as_metrics_label() == "timeout" {
                    LookupFailure::Timeout
                } else {
                    LookupFailure::Other(e.to_string())
                };
                Failure::new(ErrorClass::Dns, describe_lookup(bare, ip, kind))
            })?;
            let addrs: Vec<IpAddr> = lookup.iter().collect();
            pick(&addrs, ip).ok_or_else(|| {
                Failure::new(
                    ErrorClass::Dns,
                    format!("{bare} has no {} address", family(ip)),
                )
            })
        })
        .await;
        *dns_ms = Some(ms_since(started));
        result
    }

    /// Resolves and connects, recording the dns and connect phases, the address used and
    /// that the connection was made.
    pub(super) async fn connect(
        &self,
        host: &str,
        port: u16,
        ip: IpVersion,
        deadline: tokio::time::Instant,
        obs: &mut probity_core::condition::Observation,
        details: &mut super::Details,
    ) -> Result<TcpStream, Failure> {
        let addr = SocketAddr::new(
            self.resolve(host, ip, deadline, &mut obs.phases.dns_ms)
                .await?,
            port,
        );
        details.address = Some(addr.to_string());
        let started = tokio::time::Instant::now();
        let result = phase(deadline, "connecting", async {
            let stream = TcpStream::connect(addr)
                .await
                .map_err(|e| Failure::new(class_of(&e), format!("{addr}: {e}")))?;
            let _ = stream.set_nodelay(true);
            Ok(stream)
        })
        .await;
        obs.phases.connect_ms = Some(ms_since(started));
        obs.connected = Some(result.is_ok());
        result
    }

    /// [`Self::connect`] to a `host:port` address; returns the host with the stream.
    pub(super) async fn connect_address(
        &self,
        address: &str,
        ip: IpVersion,
        deadline: tokio::time::Instant,
        obs: &mut probity_core::condition::Observation,
        details: &mut super::Details,
    ) -> Result<(String, TcpStream), Failure> {
        let (host, port) = split_host_port(address).ok_or_else(|| {
            Failure::new(ErrorClass::Connect, format!("`{address}` is not host:port"))
        })?;
        let stream = self
            .connect(&host, port, ip, deadline, obs, details)
            .await?;
        Ok((host, stream))
    }
}

impl Default for ProbeContext {
    fn default() -> Self {
        Self::new()
    }
}

fn pick(addrs: &[IpAddr], ip: IpVersion) -> Option<IpAddr> {
    match ip {
        IpVersion::V4 => addrs.iter().find(|a| a.is_ipv4()).copied(),
        IpVersion::V6 => addrs.iter().find(|a| a.is_ipv6()).copied(),
        IpVersion::Any => addrs
            .iter()
            .find(|a| a.is_ipv4())
            .or_else(|| addrs.first())
            .copied(),
    }
}

fn family(ip: IpVersion) -> &'static str {
    match ip {
        IpVersion::V4 => "IPv4",
        IpVersion::V6 => "IPv6",
        IpVersion::Any => "IP",
    }
}

/// The class of a failed connect: the target's fault, or this machine's own shortage
/// (descriptors, memory, buffers), which says nothing of the target.
pub(super) fn class_of(e: &std::io::Error) -> ErrorClass {
    // EMFILE, ENFILE, ENOMEM, ENOBUFS (Linux numbering; elsewhere they do not occur here).
    match e.raw_os_error() {
        Some(24 | 23 | 12 | 105) => ErrorClass::Local,
        _ => ErrorClass::Connect,
    }
}

#[cfg(test)]
mod tests {

    /// Lookup failures read as people write them, never as the resolver's debug text.
    #[test]
    fn lookup_failures_are_said_plainly() {
        assert_eq!(
            describe_lookup("example.com", IpVersion::V6, LookupFailure::NoRecords),
            "no AAAA record for example.com"
        );
        assert_eq!(
            describe_lookup("nope.example", IpVersion::Any, LookupFailure::NoSuchName),
            "nope.example does not exist (NXDOMAIN)"
        );
        assert_eq!(
            describe_lookup("slow.example", IpVersion::V4, LookupFailure::Timeout),
            "no answer about slow.example from the resolver in time"
        );
    }

    use super::*;

    #[test]
    fn a_shortage_here_is_not_the_targets_failure() {
        for code in [24, 23, 12, 105] {
            let e = std::io::Error::from_raw_os_error(code);
            assert_eq!(class_of(&e), ErrorClass::Local, "{e}");
        }
        let refused = std::io::Error::from_raw_os_error(111);
        assert_eq!(class_of(&refused), ErrorClass::Connect);
    }
}
