//! `probity probe`: one probe now, shown as a better `curl -w`: a phase timeline, the TLS
//! facts, each condition and the verdict. `--json` prints the whole result.

use probity_core::condition::Condition;
use probity_core::duration::HumanDuration;
use probity_core::result::Health;
use probity_engine::probe::{
    self, DnsSpec, HttpSpec, IpVersion, ProbeContext, ProbeOutput, ProbeSpec, TcpSpec, TlsOptions,
    TlsSpec,
};
use probity_ground::config;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct ProbeArgs {
    /// A target's name from the configuration, a URL, a host:port (tcp, tls) or a DNS name.
    pub target: String,
    /// What kind of probe; guessed from TARGET when left out.
    #[arg(long, value_parser = ["http", "tcp", "tls", "dns"])]
    pub kind: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    /// Configuration to look TARGET up in.
    #[arg(long, short, default_value = config::DEFAULT_PATH)]
    pub config: PathBuf,
    /// A condition to check (repeatable), e.g. '[STATUS] == 200'.
    #[arg(long = "condition", short = 'C')]
    pub conditions: Vec<String>,
    /// Give up after this long.
    #[arg(long, default_value = "10s")]
    pub timeout: HumanDuration,
    /// HTTP method.
    #[arg(long, short = 'X', default_value = "GET")]
    pub method: String,
    /// HTTP header, `Name: value` (repeatable).
    #[arg(long = "header", short = 'H')]
    pub headers: Vec<String>,
    /// Follow HTTP redirects.
    #[arg(long, short = 'L')]
    pub follow: bool,
    /// Extra trust anchors (PEM) for TLS.
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// DNS record type.
    #[arg(long, default_value = "A")]
    pub record_type: String,
    /// DNS server to ask, host:port.
    #[arg(long)]
    pub resolver: Option<String>,
    /// Use IPv4 only.
    #[arg(short = '4', conflicts_with = "ipv6")]
    pub ipv4: bool,
    /// Use IPv6 only.
    #[arg(short = '6')]
    pub ipv6: bool,
}

fn ad_hoc(a: &ProbeArgs) -> anyhow::Result<(ProbeSpec, String)> {
    let ip_version = if a.ipv4 {
        IpVersion::V4
    } else if a.ipv6 {
        IpVersion::V6
    } else {
        IpVersion::Any
    };
    let tls = TlsOptions {
        ca_file: a.ca_file.clone(),
        server_name: None,
    };
    let kind = a.kind.clone().unwrap_or_else(|| {
        if a.target.starts_with("http://") || a.target.starts_with("https://") {
            "http".into()
        } else if probe::split_host_port(&a.target).is_some() {
            "tcp".into()
        } else {
            "dns".into()
        }
    });
    let spec = match kind.as_str() {
        "http" => {
            let mut headers = std::collections::BTreeMap::new();
            for h in &a.headers {
                let (k, v) = h
                    .split_once(':')
                    .ok_or_else(|| anyhow::anyhow!("header {h:?} is not `Name: value`"))?;
                headers.insert(k.trim().to_string(), v.trim().to_string());
            }
            ProbeSpec::Http(HttpSpec {
                url: a.target.clone(),
                method: a.method.to_ascii_uppercase(),
                headers,
                body: None,
                follow_redirects: a.follow,
                max_redirects: 10,
                ip_version,
                tls,
            })
        }
        "tcp" | "tls" => {
            anyhow::ensure!(
                probe::split_host_port(&a.target).is_some(),
                "{} is not host:port (kind {kind})",
                a.target
            );
            if kind == "tcp" {
                ProbeSpec::Tcp(TcpSpec {
                    address: a.target.clone(),
                    send: None,
                    expect: None,
                    ip_version,
                })
            } else {
                ProbeSpec::Tls(TlsSpec {
                    address: a.target.clone(),
                    ip_version,
                    tls,
                })
            }
        }
        _ => ProbeSpec::Dns(DnsSpec {
            name: a.target.clone(),
            record_type: a.record_type.to_ascii_uppercase(),
            resolver: a.resolver.clone(),
            expect: Vec::new(),
        }),
    };
    Ok((spec, a.target.clone()))
}

pub fn main(a: ProbeArgs) -> anyhow::Result<ExitCode> {
    // A name from the configuration wins when the file exists and has it.
    let mut names: Option<Vec<String>> = None;
    let from_config = if a.config.exists() {
        match config::load(&a.config) {
            Ok(c) => {
                names = Some(c.targets.iter().map(|t| t.name.clone()).collect());
                c.targets.into_iter().find(|t| t.name == a.target)
            }
            Err(e) if a.config.as_os_str() != config::DEFAULT_PATH => {
                eprintln!("{e}");
                return Ok(ExitCode::from(2));
            }
            Err(_) => None,
        }
    } else {
        None
    };
    // A bare word (no dot, colon or slash) is a target's name, not a DNS name to guess at:
    // when no configuration has it, say so (`--kind dns` looks such a name up all the same).
    let bare = !a.target.contains(['.', ':', '/']);
    if from_config.is_none() && a.kind.is_none() && bare {
        match names {
            None => eprintln!(
                "no target `{}`: there is no configuration at {} to look it up in; give a URL, host:port or a DNS name (or --kind dns to look `{0}` up as a name)",
                a.target,
                a.config.display()
            ),
            Some(names) => eprintln!(
                "no target named `{}` in {} (targets: {}); give a URL, host:port or a DNS name (or --kind dns to look it up as a name)",
                a.target,
                a.config.display(),
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            ),
        }
        return Ok(ExitCode::from(2));
    }
    let mut conditions = Vec::new();
    for c in &a.conditions {
        match Condition::parse(c) {
            Ok(c) => conditions.push(c),
            Err(e) => {
                eprintln!(
                    "--condition: {}\n    {c}\n    {}^",
                    e.message,
                    " ".repeat(e.offset)
                );
                return Ok(ExitCode::from(2));
            }
        }
    }
    let (spec, label, timeout) = match from_config {
        Some(t) => {
            if conditions.is_empty() {
                conditions = t.conditions.clone();
            }
            (
                t.spec.clone(),
                format!("{} ({})", t.name, t.display),
                t.timeout,
            )
        }
        None => {
            let (spec, label) = ad_hoc(&a)?;
            if conditions.is_empty() {
                conditions = probe::default_conditions(spec.kind());
            }
            (spec, label, a.timeout)
        }
    };
    let out = probity_ground::process::runtime()?.block_on(async {
        let ctx = ProbeContext::new();
        probe::run(&ctx, &spec, &conditions, timeout.as_std()).await
    });
    if a.json {
        let mut v = serde_json::to_value(&out)?;
        v["target"] = serde_json::json!(label);
        v["kind"] = serde_json::json!(spec.kind());
        v["ok"] = serde_json::json!(out.health == Health::Up);
        v["at"] = serde_json::json!(probity_ground::time::rfc3339(out.at_ms));
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print!("{}", render(&label, spec.kind(), &out));
    }
    Ok(if out.health == Health::Up {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The human view of one result.
pub fn render(label: &str, kind: &str, out: &ProbeOutput) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let d = &out.details;
    let _ = writeln!(
        s,
        "{label}  [{kind}]{}",
        d.address
            .as_ref()
            .map(|a| format!(" → {a}"))
            .unwrap_or_default()
    );
    let p = &out.phases;
    let total = p.total_ms.unwrap_or(0.0).max(0.001);
    const WIDTH: f64 = 40.0;
    let mut offset = 0.0;
    let phases = match &d.storage {
        Some(st) => [
            ("put", st.phases.put_ms),
            ("get", st.phases.get_ms),
            ("list", st.phases.list_ms),
            ("delete", st.phases.delete_ms),
        ],
        None => [
            ("dns", p.dns_ms),
            ("connect", p.connect_ms),
            ("tls", p.tls_ms),
            ("ttfb", p.ttfb_ms),
        ],
    };
    for (name, v) in phases {
        match v {
            Some(ms) => {
                let start = (offset / total * WIDTH).round() as usize;
                let len = ((ms / total * WIDTH).round() as usize).max(1);
                let _ = writeln!(
                    s,
                    "  {name:<8}{:>10}  {}{}",
                    fmt_ms(ms),
                    " ".repeat(start),
                    "█".repeat(len)
                );
                offset += ms;
            }
            None => {
                let _ = writeln!(s, "  {name:<8}{:>10}", "—");
            }
        }
    }
    let _ = writeln!(s, "  {:<8}{:>10}", "total", fmt_ms(total));
    if let Some(st) = &d.storage {
        let _ = writeln!(
            s,
            "  objects  {} bytes written, read back and deleted; {} canaries checked",
            st.bytes, st.canaries_checked
        );
    }
    if let Some(t) = &d.tls {
        let _ = writeln!(
            s,
            "  tls      {} {}{}",
            t.version.as_deref().unwrap_or("?"),
            t.cipher_suite.as_deref().unwrap_or(""),
            t.alpn
                .as_ref()
                .map(|a| format!(", alpn {a}"))
                .unwrap_or_default()
        );
        if let Some(subject) = &t.subject {
            let _ = writeln!(
                s,
                "  cert     {subject}, issued by {}",
                t.issuer.as_deref().unwrap_or("?")
            );
            let _ = writeln!(
                s,
                "           expires {} ({} days), chain of {}, names: {}",
                t.not_after.as_deref().unwrap_or("?"),
                t.days_left.map_or("?".into(), |d| format!("{d:.1}")),
                t.chain_length,
                if t.sans.is_empty() {
                    "none".into()
                } else {
                    t.sans.join(", ")
                }
            );
        }
        let _ = writeln!(s, "  verify   {}", t.verdict);
    }
    if let Some(code) = d.http_status {
        let _ = writeln!(
            s,
            "  http     {code} ({})",
            d.http_version.as_deref().unwrap_or("?")
        );
    }
    for r in &d.redirects {
        let _ = writeln!(s, "  redirect → {r}");
    }
    if let Some(rcode) = &d.dns_rcode {
        let _ = writeln!(
            s,
            "  dns      {rcode}: {}",
            if d.dns_answers.is_empty() {
                "no answers".into()
            } else {
                d.dns_answers.join(", ")
            }
        );
    }
    if let Some(r) = &d.reply {
        let _ = writeln!(s, "  reply    {r:?}");
    }
    for c in &d.conditions {
        match &c.got {
            None => {
                let _ = writeln!(s, "  ✔ {}", c.condition);
            }
            Some(got) => {
                let _ = writeln!(s, "  ✘ {got}");
            }
        }
    }
    let verdict = match (&out.health, &out.cause) {
        (Health::Up, _) => "up".to_string(),
        (h, Some(c)) => format!("{} — {c}", h.as_str()),
        (h, None) => h.as_str().to_string(),
    };
    let _ = writeln!(s, "verdict: {verdict}");
    s
}

fn fmt_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else {
        format!("{ms:.2} ms")
    }
}
