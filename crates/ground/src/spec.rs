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
    /// Object storage: round trips and long-lived canary objects.
    ObjectStore(ObjectStoreSpec),
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
            ProbeSpec::ObjectStore(_) => "object_store",
        }
    }
}

/// Which object-storage service a URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageScheme {
    /// `s3://bucket/prefix/`: Amazon S3 and S3-compatible services.
    S3,
    /// `az://container/prefix/`: Azure Blob Storage.
    Azure,
    /// `gs://bucket/prefix/`: Google Cloud Storage.
    Gcs,
    /// `file:///directory/prefix/`: a file system (a mounted share, say).
    File,
}

/// An object-storage target: a place under which probity owns a prefix.
#[derive(Clone, Debug)]
pub struct ObjectStoreSpec {
    /// The URL as written (scheme, bucket or container, prefix). It never holds credentials.
    pub url: String,
    pub scheme: StorageScheme,
    /// The bucket or container (for `file://`, the directory).
    pub bucket: String,
    /// Probity's prefix inside it: empty, or ending in `/`.
    pub prefix: String,
    /// Where S3-compatible services, emulators and sovereign clouds answer.
    pub endpoint: Option<String>,
    /// The provider client's own settings (`aws_access_key_id`, `azure_storage_account_key`,
    /// …), secrets expanded: never log these.
    pub options: BTreeMap<String, String>,
    /// The size of each object a round trip writes (one object per size, each cycle).
    pub sizes: Vec<u64>,
    /// How many long-lived canary objects to keep.
    pub canaries: u32,
    pub canary_size: u64,
    /// How often each canary is read back and checked.
    pub canary_interval_ms: u64,
    /// Rewrite each canary when it is this old (`None`: written once, kept for good).
    pub canary_rotation_ms: Option<u64>,
}

impl ObjectStoreSpec {
    /// The name under which the canaries' manifest is kept: the URL, and the endpoint when
    /// one is set (the same bucket name on another endpoint is another place).
    pub fn store_id(&self) -> String {
        match &self.endpoint {
            Some(e) => format!("{} @ {e}", self.url),
            None => self.url.clone(),
        }
    }
}

/// Object storage sizes: `512`, `4KiB`, `1MiB`, `5MB` (a byte count, with an optional unit).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a size (write e.g. 4KiB, 1MiB or 512)"))?;
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => {
            return Err(format!(
                "unknown size unit {other:?} in {text:?} (B, KiB, MiB, GiB, KB, MB or GB)"
            ));
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("{text:?} is too large"))
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
        "object_store" => &["[INTEGRITY] == ok"],
        _ => &[],
    };
    src.iter()
        .map(|s| Condition::parse(s).expect("default conditions parse"))
        .collect()
}
