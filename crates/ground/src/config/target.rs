//! `[[target]]`: what to probe and how, turned into a checked [`Target`].

use super::common::*;
use crate::spec::{DnsSpec, HttpSpec, IpVersion, ProbeSpec, TcpSpec, TlsOptions, TlsSpec};
use probity_core::condition::{Condition, closest};
use probity_core::duration::HumanDuration;
use probity_core::observe::Thresholds;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use toml::Spanned;

/// One thing to watch, ready to probe.
#[derive(Clone, Debug)]
pub struct Target {
    pub name: String,
    pub provider: Option<String>,
    pub service: Option<String>,
    pub region: Option<String>,
    pub kind: String,
    pub interval: HumanDuration,
    pub timeout: HumanDuration,
    pub conditions: Vec<Condition>,
    pub thresholds: Thresholds,
    pub tags: Vec<String>,
    pub provider_service: Option<String>,
    pub provider_region: Option<String>,
    /// What to probe, with secrets expanded: never print this.
    pub spec: ProbeSpec,
    /// What to show for the target: the URL or address as written, secrets unexpanded.
    pub display: String,
    /// How many vantages must agree (from the target, else `[server] quorum`).
    pub quorum: probity_core::quorum::Quorum,
    /// The `[[target]]` table as written (secrets unexpanded): what an agent receives.
    pub source: TargetSource,
}

/// A `[[target]]` table as written, kept as its TOML text with the text's SHA-256: every
/// target has one, so it is kept small (a parsed table took about a kilobyte a target in
/// B-tree nodes and strings); the digest is what a reload compares.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TargetSource {
    text: Box<str>,
    digest: [u8; 32],
}

impl TargetSource {
    pub fn new(table: &toml::Table) -> Self {
        use sha2::Digest;
        let text = table.to_string();
        TargetSource {
            digest: sha2::Sha256::digest(text.as_bytes()).into(),
            text: text.into(),
        }
    }

    /// The table again (an agent's assignment is made of these).
    pub fn table(&self) -> toml::Table {
        // The text was written from a table: it reads back as the same table.
        self.text.parse().unwrap_or_default()
    }

    /// The SHA-256 of the table's TOML text.
    pub fn digest(&self) -> [u8; 32] {
        self.digest
    }
}

/// Reads every `[[target]]` table. Every problem of every table is reported, a duplicate
/// name's too; only a target with a name of its own and no problem is kept.
pub(super) fn read_targets(
    ck: &mut Checker<'_>,
    tables: Vec<Spanned<toml::de::DeTable<'_>>>,
    base_dir: &Path,
    quorum: probity_core::quorum::Quorum,
) -> Vec<Target> {
    let mut targets = Vec::new();
    let mut names = Names::new("target");
    for table in tables {
        let table = strip_unknown(ck, table, keys_of::<TargetToml>(), "in [[target]]");
        // Names are checked for duplicates even when the rest of the target is broken.
        let name_value = table
            .get_ref()
            .iter()
            .find(|(k, _)| k.get_ref() == "name")
            .map(|(_, v)| v);
        // A duplicate is reported and the rest of the table still checked, so that every
        // problem shows at once; only a target with a name of its own is kept.
        let unique = match name_value
            .and_then(|v| v.get_ref().as_str().map(|s| (s.to_string(), v.span())))
        {
            Some((name, span)) => names.claim(ck, &name, span),
            None => true,
        };
        // Conditions are checked from the raw table, so they are reported even when another
        // key of the target has a type error that stops deserialisation.
        let conditions = check_conditions(ck, table.get_ref());
        let raw = match TargetToml::deserialize(toml::de::Deserializer::from(table)) {
            Ok(t) => t,
            Err(e) => {
                ck.toml_error(&e, "[[target]]");
                continue;
            }
        };
        if let Some(t) = build_target(ck, raw, conditions, base_dir, quorum)
            && unique
        {
            targets.push(t);
        }
    }
    targets
}

pub(super) const KINDS: &[&str] = &[
    "http",
    "tcp",
    "tls",
    "dns",
    "heartbeat",
    "external",
    "object_store",
];

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "DnsQuery")]
pub(super) struct DnsToml {
    #[schemars(with = "Option<String>")]
    pub(super) name: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub(super) record_type: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub(super) resolver: Option<Spanned<String>>,
    pub(super) expect: Option<OneOrMany>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Target")]
pub(super) struct TargetToml {
    /// Unique name, used in the API and metrics.
    #[schemars(with = "String")]
    pub(super) name: Spanned<String>,
    /// Who runs it (azure, aws, gcp, …).
    pub(super) provider: Option<String>,
    /// The service, as free text.
    pub(super) service: Option<String>,
    /// Where it runs, as free text.
    pub(super) region: Option<String>,
    /// What to probe: http, tcp, tls, dns, object_store, heartbeat (pushed, not probed)
    /// or external (read from a [[source]]).
    #[schemars(
        with = "String",
        extend("enum" = ["http", "tcp", "tls", "dns", "heartbeat", "external", "object_store"])
    )]
    pub(super) kind: Spanned<String>,
    /// How often to probe (at least 100ms). Default 30s.
    #[schemars(with = "Option<DurationSchema>")]
    pub(super) interval: Option<Spanned<HumanDuration>>,
    /// How long one probe may take, all phases together. Default 10s.
    #[schemars(with = "Option<DurationSchema>")]
    pub(super) timeout: Option<Spanned<HumanDuration>>,
    /// Parsed from the raw table by `check_conditions`; listed here for its type check.
    #[serde(rename = "conditions")]
    pub(super) _conditions: Option<Vec<String>>,
    /// Failing results in a row that open an incident. Default 3.
    #[schemars(with = "Option<u32>")]
    pub(super) failure_threshold: Option<Spanned<u32>>,
    /// Successful results in a row that resolve it. Default 2.
    #[schemars(with = "Option<u32>")]
    pub(super) success_threshold: Option<Spanned<u32>>,
    /// Labels to select targets by.
    #[serde(default)]
    pub(super) tags: Vec<String>,
    /// The provider's own name for the service, for matching its status feeds.
    pub(super) provider_service: Option<String>,
    /// The provider's own name for the region, for matching its status feeds.
    pub(super) provider_region: Option<String>,
    /// http: the URL to request (may reference ${env:…} or ${file:…}); object_store: the
    /// bucket or container and probity's prefix (s3://, az://, gs:// or file://).
    #[schemars(with = "Option<String>")]
    pub(super) url: Option<Spanned<String>>,
    /// http: the request method. Default GET.
    #[schemars(with = "Option<String>")]
    pub(super) method: Option<Spanned<String>>,
    /// http: request headers (values may reference secrets).
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    pub(super) headers: Option<BTreeMap<String, Spanned<String>>>,
    /// http: the request body.
    #[schemars(with = "Option<String>")]
    pub(super) body: Option<Spanned<String>>,
    /// http: follow redirects. Default true.
    pub(super) follow_redirects: Option<bool>,
    /// http: most redirects to follow. Default 5.
    pub(super) max_redirects: Option<u32>,
    /// http, tcp, tls: any, ipv4 or ipv6.
    #[schemars(with = "Option<String>")]
    pub(super) ip_version: Option<Spanned<String>>,
    /// http, tls: extra trust anchors (PEM), added to the bundled roots.
    #[schemars(with = "Option<String>")]
    pub(super) ca_file: Option<Spanned<String>>,
    /// http, tls: the name to send as SNI and verify, when it differs from the host.
    #[schemars(with = "Option<String>")]
    pub(super) server_name: Option<Spanned<String>>,
    /// tcp, tls: host:port to connect to.
    #[schemars(with = "Option<String>")]
    pub(super) address: Option<Spanned<String>>,
    /// tcp: what to send after connecting.
    #[schemars(with = "Option<String>")]
    pub(super) send: Option<Spanned<String>>,
    /// tcp: what the reply must contain; dns: the answers expected.
    #[schemars(with = "Option<OneOrMany>")]
    pub(super) expect: Option<Spanned<OneOrMany>>,
    /// dns: the record type to ask for. Default A.
    #[schemars(with = "Option<String>")]
    pub(super) record_type: Option<Spanned<String>>,
    /// dns: host:port of the nameserver to ask. Default the system's first.
    #[schemars(with = "Option<String>")]
    pub(super) resolver: Option<Spanned<String>>,
    /// dns: the query, as a sub-table (name, record_type, resolver, expect).
    #[schemars(with = "Option<DnsToml>")]
    pub(super) dns: Option<Spanned<DnsToml>>,
    /// heartbeat: how long after the last ping the target turns down.
    #[schemars(with = "Option<DurationSchema>")]
    pub(super) grace: Option<Spanned<HumanDuration>>,
    /// heartbeat: the secret in the ping URL (at least 16 characters).
    #[schemars(with = "Option<String>")]
    pub(super) token: Option<Spanned<String>>,
    /// object_store: where an S3-compatible service (or an emulator) answers.
    #[schemars(with = "Option<String>")]
    pub(super) endpoint: Option<Spanned<String>>,
    /// object_store: the provider client's settings (values may reference secrets).
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    pub(super) options: Option<BTreeMap<String, Spanned<String>>>,
    /// object_store: the size of each object a round trip writes. Default ["4KiB"].
    #[schemars(with = "Option<Vec<String>>")]
    pub(super) sizes: Option<Spanned<Vec<String>>>,
    /// object_store: how many long-lived canary objects to keep. Default 10.
    #[schemars(with = "Option<u32>")]
    pub(super) canaries: Option<Spanned<u32>>,
    /// object_store: each canary's size. Default "4KiB".
    #[schemars(with = "Option<String>")]
    pub(super) canary_size: Option<Spanned<String>>,
    /// object_store: how often each canary is read back and checked. Default 1h.
    #[schemars(with = "Option<DurationSchema>")]
    pub(super) canary_interval: Option<Spanned<HumanDuration>>,
    /// object_store: rewrite each canary when it is this old. Default: never.
    #[schemars(with = "Option<DurationSchema>")]
    pub(super) canary_rotation: Option<Spanned<HumanDuration>>,
    /// This target's own quorum: a number or "majority".
    #[schemars(with = "Option<QuorumToml>")]
    pub(super) quorum: Option<Spanned<QuorumToml>>,
}

pub(super) fn build_target(
    ck: &mut Checker<'_>,
    raw: TargetToml,
    conditions: Option<Vec<Condition>>,
    base_dir: &Path,
    default_quorum: probity_core::quorum::Quorum,
) -> Option<Target> {
    let before = ck.problems.len();
    let name = raw.name.get_ref().clone();
    let ctx = format!("target `{name}`");
    if name.trim().is_empty() {
        ck.at(raw.name.span(), "a target's `name` must not be empty");
    }
    let kind = raw.kind.get_ref().clone();
    if !KINDS.contains(&kind.as_str()) {
        let hint = closest(&kind, KINDS)
            .map(|k| format!("; did you mean `{k}`?"))
            .unwrap_or_default();
        ck.at(
            raw.kind.span(),
            format!("{ctx}: unknown kind `{kind}` (one of http, tcp, tls, dns, heartbeat, external, object_store){hint}"),
        );
        return None;
    }
    let interval = raw
        .interval
        .as_ref()
        .map_or(HumanDuration::from_secs(30), |d| *d.get_ref());
    if let Some(d) = &raw.interval
        && d.get_ref().as_millis() < 100
    {
        ck.at(
            d.span(),
            format!("{ctx}: `interval` must be at least 100ms"),
        );
    }
    let timeout = raw
        .timeout
        .as_ref()
        .map_or(HumanDuration::from_secs(10), |d| *d.get_ref());
    if let Some(d) = &raw.timeout
        && d.get_ref().as_millis() == 0
    {
        ck.at(d.span(), format!("{ctx}: `timeout` must be more than 0s"));
    }
    let mut thresholds = Thresholds::default();
    if kind == "heartbeat" {
        // One missed ping is the signal; one ping is the recovery.
        thresholds.failure = 1;
        thresholds.success = 1;
    }
    for (field, slot, key) in [
        (
            &raw.failure_threshold,
            &mut thresholds.failure,
            "failure_threshold",
        ),
        (
            &raw.success_threshold,
            &mut thresholds.success,
            "success_threshold",
        ),
    ] {
        if let Some(v) = field {
            if *v.get_ref() == 0 {
                ck.at(v.span(), format!("{ctx}: `{key}` must be at least 1"));
            }
            *slot = *v.get_ref();
        }
    }
    let conditions = conditions.unwrap_or_else(|| crate::spec::default_conditions(&kind));

    // Fields that belong to other kinds are mistakes worth pointing out.
    let kind_fields: &[(&str, bool, Option<Range<usize>>)] = &[
        ("url", raw.url.is_some(), raw.url.as_ref().map(|s| s.span())),
        (
            "method",
            raw.method.is_some(),
            raw.method.as_ref().map(|s| s.span()),
        ),
        (
            "body",
            raw.body.is_some(),
            raw.body.as_ref().map(|s| s.span()),
        ),
        (
            "address",
            raw.address.is_some(),
            raw.address.as_ref().map(|s| s.span()),
        ),
        (
            "send",
            raw.send.is_some(),
            raw.send.as_ref().map(|s| s.span()),
        ),
        (
            "record_type",
            raw.record_type.is_some(),
            raw.record_type.as_ref().map(|s| s.span()),
        ),
        (
            "resolver",
            raw.resolver.is_some(),
            raw.resolver.as_ref().map(|s| s.span()),
        ),
        (
            "ca_file",
            raw.ca_file.is_some(),
            raw.ca_file.as_ref().map(|s| s.span()),
        ),
        (
            "server_name",
            raw.server_name.is_some(),
            raw.server_name.as_ref().map(|s| s.span()),
        ),
        ("dns", raw.dns.is_some(), raw.dns.as_ref().map(|s| s.span())),
        (
            "grace",
            raw.grace.is_some(),
            raw.grace.as_ref().map(|s| s.span()),
        ),
        (
            "token",
            raw.token.is_some(),
            raw.token.as_ref().map(|s| s.span()),
        ),
        (
            "endpoint",
            raw.endpoint.is_some(),
            raw.endpoint.as_ref().map(|s| s.span()),
        ),
        (
            "options",
            raw.options.is_some(),
            raw.options
                .as_ref()
                .and_then(|o| o.values().next().map(|v| v.span())),
        ),
        (
            "sizes",
            raw.sizes.is_some(),
            raw.sizes.as_ref().map(|s| s.span()),
        ),
        (
            "canaries",
            raw.canaries.is_some(),
            raw.canaries.as_ref().map(|s| s.span()),
        ),
        (
            "canary_size",
            raw.canary_size.is_some(),
            raw.canary_size.as_ref().map(|s| s.span()),
        ),
        (
            "canary_interval",
            raw.canary_interval.is_some(),
            raw.canary_interval.as_ref().map(|s| s.span()),
        ),
        (
            "canary_rotation",
            raw.canary_rotation.is_some(),
            raw.canary_rotation.as_ref().map(|s| s.span()),
        ),
    ];
    let allowed: &[&str] = match kind.as_str() {
        "http" => &["url", "method", "body", "ca_file", "server_name"],
        "tcp" => &["address", "send"],
        "tls" => &["address", "ca_file", "server_name"],
        "heartbeat" => &["grace", "token"],
        "external" => &[],
        "object_store" => &[
            "url",
            "endpoint",
            "options",
            "sizes",
            "canaries",
            "canary_size",
            "canary_interval",
            "canary_rotation",
        ],
        _ => &["record_type", "resolver", "dns"],
    };
    for (field, present, span) in kind_fields {
        if *present && !allowed.contains(field) {
            ck.at(
                span.clone().unwrap_or(0..0),
                format!("{ctx}: `{field}` is not used by kind `{kind}`"),
            );
        }
    }

    let ip_version = match raw.ip_version.as_ref().map(|s| s.get_ref().as_str()) {
        None | Some("any") => IpVersion::Any,
        Some("4") | Some("ipv4") => IpVersion::V4,
        Some("6") | Some("ipv6") => IpVersion::V6,
        Some(other) => {
            let span = raw.ip_version.as_ref().map(|s| s.span()).unwrap_or(0..0);
            ck.at(
                span,
                format!("{ctx}: `ip_version` is \"4\", \"6\" or \"any\", not {other:?}"),
            );
            IpVersion::Any
        }
    };
    let tls = TlsOptions {
        ca_file: raw.ca_file.as_ref().map(|p| base_dir.join(p.get_ref())),
        server_name: raw.server_name.as_ref().map(|s| s.get_ref().clone()),
    };
    if let (Some(p), Some(span)) = (&tls.ca_file, raw.ca_file.as_ref().map(|s| s.span()))
        && !p.exists()
    {
        ck.at(
            span,
            format!("{ctx}: `ca_file` {} does not exist", p.display()),
        );
    }
    let storage = (kind == "object_store")
        .then(|| super::storage::object_store_spec(ck, &raw, base_dir, &ctx));
    let expect = raw.expect.map(|e| (e.span(), e.into_inner().into_vec()));
    let require = |ck: &mut Checker<'_>, field: &Option<Spanned<String>>, key: &str| {
        if field.is_none() {
            ck.at(
                raw.kind.span(),
                format!("{ctx}: kind `{kind}` needs `{key}`"),
            );
        }
    };
    let (spec, display) = match kind.as_str() {
        "external" => (
            ProbeSpec::External,
            "external: results from a [[source]]".to_string(),
        ),
        "object_store" => {
            require(ck, &raw.url, "url");
            storage.expect("made above for this kind")
        }
        "heartbeat" => {
            require(ck, &raw.token, "token");
            let token = raw
                .token
                .as_ref()
                .map(|v| secret(ck, v, base_dir, &ctx))
                .unwrap_or_default();
            if let Some(t) = &raw.token
                && !token.is_empty()
                && (token.len() < 16
                    || !token
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            {
                ck.at(
                    t.span(),
                    format!("{ctx}: a heartbeat `token` is at least 16 letters, digits, `-` or `_` (make one with `openssl rand -hex 16`)"),
                );
            }
            let grace = raw
                .grace
                .as_ref()
                .map_or(60_000, |g| g.get_ref().as_millis());
            (
                ProbeSpec::Heartbeat(crate::spec::HeartbeatSpec {
                    token,
                    grace_ms: grace,
                }),
                "push: /api/v1/heartbeat/…".to_string(),
            )
        }
        "http" => {
            require(ck, &raw.url, "url");
            let url = raw
                .url
                .as_ref()
                .map(|v| secret(ck, v, base_dir, &ctx))
                .unwrap_or_default();
            if let Some(u) = &raw.url {
                if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
                    ck.at(
                        u.span(),
                        format!("{ctx}: `url` must start with http:// or https://"),
                    );
                } else if !url.is_empty() && url.parse::<http::Uri>().is_err() {
                    ck.at(u.span(), format!("{ctx}: `url` is not a valid URL"));
                }
            }
            if let Some((span, _)) = &expect {
                ck.at(
                    span.clone(),
                    format!("{ctx}: `expect` is not used by kind `http`; use conditions"),
                );
            }
            let headers = raw
                .headers
                .iter()
                .flatten()
                .map(|(k, v)| (k.clone(), secret(ck, v, base_dir, &ctx)))
                .collect();
            let method = raw
                .method
                .as_ref()
                .map_or("GET".into(), |m| m.get_ref().to_ascii_uppercase());
            let spec = ProbeSpec::Http(HttpSpec {
                url,
                method,
                headers,
                body: raw.body.as_ref().map(|v| secret(ck, v, base_dir, &ctx)),
                follow_redirects: raw.follow_redirects.unwrap_or(false),
                max_redirects: raw.max_redirects.unwrap_or(5),
                ip_version,
                tls,
            });
            (spec, raw.url.map(|u| u.into_inner()).unwrap_or_default())
        }
        "tcp" | "tls" => {
            require(ck, &raw.address, "address");
            let address = raw
                .address
                .as_ref()
                .map(|v| secret(ck, v, base_dir, &ctx))
                .unwrap_or_default();
            if let Some(a) = &raw.address
                && !address.is_empty()
                && crate::spec::split_host_port(&address).is_none()
            {
                ck.at(a.span(), format!("{ctx}: `address` must be host:port"));
            }
            let spec = if kind == "tcp" {
                let expect = match expect {
                    Some((span, v)) if v.len() != 1 => {
                        ck.at(
                            span,
                            format!("{ctx}: for kind `tcp`, `expect` is one string"),
                        );
                        None
                    }
                    Some((_, mut v)) => v.pop(),
                    None => None,
                };
                ProbeSpec::Tcp(TcpSpec {
                    address,
                    send: raw.send.as_ref().map(|v| secret(ck, v, base_dir, &ctx)),
                    expect,
                    ip_version,
                })
            } else {
                if let Some((span, _)) = &expect {
                    ck.at(
                        span.clone(),
                        format!("{ctx}: `expect` is not used by kind `tls`"),
                    );
                }
                ProbeSpec::Tls(TlsSpec {
                    address,
                    ip_version,
                    tls,
                })
            };
            (
                spec,
                raw.address.map(|a| a.into_inner()).unwrap_or_default(),
            )
        }
        _ => {
            let dns = raw.dns.map(|d| d.into_inner());
            let pick = |sub: Option<Spanned<String>>, flat: Option<Spanned<String>>| sub.or(flat);
            let (sub_name, sub_type, sub_resolver, sub_expect) = match dns {
                Some(d) => (
                    d.name,
                    d.record_type,
                    d.resolver,
                    d.expect.map(OneOrMany::into_vec),
                ),
                None => (None, None, None, None),
            };
            let query = sub_name.map_or(name.clone(), |n| n.into_inner());
            let record_type = pick(sub_type, raw.record_type);
            let rtype = record_type
                .as_ref()
                .map_or("A".into(), |r| r.get_ref().to_ascii_uppercase());
            if !crate::spec::RECORD_TYPES.contains(&rtype.as_str()) {
                let span = record_type
                    .as_ref()
                    .map(|r| r.span())
                    .unwrap_or(raw.kind.span());
                ck.at(
                    span,
                    format!(
                        "{ctx}: unknown record_type `{rtype}` (one of {})",
                        crate::spec::RECORD_TYPES.join(", ")
                    ),
                );
            }
            let resolver = pick(sub_resolver, raw.resolver);
            if let Some(r) = &resolver
                && crate::spec::split_host_port(r.get_ref()).is_none()
                && r.get_ref().parse::<std::net::IpAddr>().is_err()
            {
                ck.at(
                    r.span(),
                    format!("{ctx}: `resolver` must be host:port, e.g. \"1.1.1.1:53\""),
                );
            }
            let expect = sub_expect.or(expect.map(|(_, v)| v)).unwrap_or_default();
            let display = format!(
                "{query} {rtype}{}",
                resolver
                    .as_ref()
                    .map(|r| format!(" @{}", r.get_ref()))
                    .unwrap_or_default()
            );
            let spec = ProbeSpec::Dns(DnsSpec {
                name: query,
                record_type: rtype,
                resolver: resolver.map(|r| r.into_inner()),
                expect,
            });
            (spec, display)
        }
    };
    let quorum = match &raw.quorum {
        Some(q) => QuorumToml::read(ck, q, &ctx).unwrap_or(default_quorum),
        None => default_quorum,
    };
    if ck.problems.len() > before {
        return None;
    }
    Some(Target {
        quorum,
        source: TargetSource::default(),
        name,
        provider: raw.provider,
        service: raw.service,
        region: raw.region,
        kind,
        interval,
        timeout,
        conditions,
        thresholds,
        tags: raw.tags,
        provider_service: raw.provider_service,
        provider_region: raw.provider_region,
        spec,
        display,
    })
}

impl Target {
    /// What the target says about itself for matching providers' incidents: its provider,
    /// and the provider's names for its service and region (`provider_service`,
    /// `provider_region`), else its own `service` and `region`.
    pub fn names(&self) -> probity_core::names::TargetNames<'_> {
        probity_core::names::TargetNames {
            provider: self.provider.as_deref(),
            service: self.provider_service.as_deref().or(self.service.as_deref()),
            region: self.provider_region.as_deref().or(self.region.as_deref()),
        }
    }
}

/// How a table chooses targets: by name, and every target matching all the selectors given.
#[derive(Clone, Copy)]
pub(super) struct Selectors<'a> {
    pub(super) names: &'a [Spanned<String>],
    pub(super) tags: &'a [String],
    pub(super) provider: Option<&'a String>,
    pub(super) service: Option<&'a String>,
    pub(super) region: Option<&'a String>,
}

/// Targets by name, plus every target matching all the selectors given; problems for
/// names that do not exist.
pub(super) fn select_targets(
    ck: &mut Checker<'_>,
    ctx: &str,
    sel: Selectors<'_>,
    targets: &[Target],
) -> Vec<String> {
    let mut chosen: Vec<String> = Vec::new();
    for t in sel.names {
        if targets.iter().any(|x| &x.name == t.get_ref()) {
            chosen.push(t.get_ref().clone());
        } else {
            let all: Vec<&str> = targets.iter().map(|x| x.name.as_str()).collect();
            let hint = closest(t.get_ref(), &all)
                .map(|k| format!("; did you mean `{k}`?"))
                .unwrap_or_default();
            ck.at(
                t.span(),
                format!("{ctx}: no target named `{}`{hint}", t.get_ref()),
            );
        }
    }
    let Selectors {
        tags,
        provider,
        service,
        region,
        ..
    } = sel;
    if !tags.is_empty() || provider.is_some() || service.is_some() || region.is_some() {
        for t in targets {
            let ok = tags.iter().all(|g| t.tags.contains(g))
                && provider.is_none_or(|p| t.provider.as_ref() == Some(p))
                && service.is_none_or(|p| t.service.as_ref() == Some(p))
                && region.is_none_or(|p| t.region.as_ref() == Some(p));
            if ok && !chosen.contains(&t.name) {
                chosen.push(t.name.clone());
            }
        }
    }
    chosen
}

/// [`select_targets`] for a table that needs at least one target (`[[slo]]`, `[[sla]]`,
/// `[[maintenance]]`): choosing none is a problem placed at `at` (the table's name),
/// unless the table already has problems of its own (`quiet`), which would explain it.
pub(super) fn select_required_targets(
    ck: &mut Checker<'_>,
    ctx: &str,
    sel: Selectors<'_>,
    targets: &[Target],
    at: std::ops::Range<usize>,
    quiet: bool,
) -> Vec<String> {
    let before = ck.problems.len();
    let chosen = select_targets(ck, ctx, sel, targets);
    if chosen.is_empty() && !quiet && ck.problems.len() == before {
        ck.at(
            at,
            format!("{ctx}: no targets: list `targets`, or select them by `tags`, `provider`, `service` or `region`"),
        );
    }
    chosen
}
