//! `probity init`: a commented starting `probity.toml` that `probity check` accepts.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct InitArgs {
    /// Where to write it.
    #[arg(long, short, default_value = probity_ground::config::DEFAULT_PATH)]
    pub config: PathBuf,
    /// Also watch a cloud provider: its status feed, and a target on one of its public
    /// endpoints set against that feed.
    #[arg(long, value_parser = ["azure", "aws", "gcp"])]
    pub provider: Option<String>,
    /// Replace the file if it exists.
    #[arg(long)]
    pub force: bool,
}

const BASE: &str = r#"# probity.toml: what probity watches and how. Every key: docs/configuration.md.
# Check it with `probity check`, run it with `probity run`, then open http://127.0.0.1:8080/.

[server]
listen = "127.0.0.1:8080"   # the API, dashboard, status page and /metrics
data_dir = "probity-data"   # the store and the evidence log's key, beside this file
# The API's write paths and the dashboard need a token; keep it out of this file:
# api_token = "${env:PROBITY_API_TOKEN}"

# What to probe, and when it counts as up. Kinds: http, tcp, dns, heartbeat.
[[target]]
name = "website"
kind = "http"
url = "https://example.com/"
interval = "30s"
conditions = ["[STATUS] < 400", "[LATENCY] < 2s"]

# Your own public status page, at /status: each component stands for targets.
[[component]]
name = "Website"
targets = ["website"]
"#;

/// What `--provider` adds: the provider's status feed and a target on a public endpoint
/// of theirs, named the way the feed names it, so declarations are matched to it.
struct ProviderPart {
    provider: &'static str,
    /// Who declares, in the comment.
    who: &'static str,
    feed_name: &'static str,
    feed_what: &'static str,
    format: &'static str,
    feed_url: &'static str,
    target: &'static str,
    url: &'static str,
    service: &'static str,
    region: Option<&'static str>,
}

const PROVIDERS: [ProviderPart; 3] = [
    ProviderPart {
        provider: "azure",
        who: "Microsoft",
        feed_name: "azure",
        feed_what: "Azure's status feed",
        format: "azure-rss",
        feed_url: "https://rssfeed.azure.status.microsoft/en-us/status/feed/",
        target: "azure-resource-manager",
        url: "https://management.azure.com/",
        service: "Azure Resource Manager",
        region: None,
    },
    ProviderPart {
        provider: "aws",
        who: "Amazon",
        feed_name: "aws-s3-eu-west-1",
        feed_what: "AWS's status feed for S3 in eu-west-1",
        format: "aws-rss",
        feed_url: "https://status.aws.amazon.com/rss/s3-eu-west-1.rss",
        target: "aws-s3-eu-west-1",
        url: "https://s3.eu-west-1.amazonaws.com/",
        service: "s3",
        region: Some("eu-west-1"),
    },
    ProviderPart {
        provider: "gcp",
        who: "Google",
        feed_name: "gcp",
        feed_what: "Google Cloud's incidents feed",
        format: "gcp-json",
        feed_url: "https://status.cloud.google.com/incidents.json",
        target: "gcp-cloud-storage",
        url: "https://storage.googleapis.com/",
        service: "Cloud Storage",
        region: None,
    },
];

fn provider_part(provider: &str) -> String {
    let Some(p) = PROVIDERS.iter().find(|p| p.provider == provider) else {
        return String::new();
    };
    format!(
        r#"
# {what}: what {who} declares, set against what probity observes
# (`probity scorecard`, docs/reconciliation.md).
[[feed]]
name = "{feed}"
format = "{format}"
url = "{feed_url}"

[[target]]
name = "{target}"
kind = "http"
url = "{url}"
interval = "1m"
conditions = ["[STATUS] < 500"]   # unauthenticated calls are refused (4xx): that is up
provider = "{provider}"
service = "{service}"
{region}"#,
        what = p.feed_what,
        who = p.who,
        feed = p.feed_name,
        format = p.format,
        feed_url = p.feed_url,
        target = p.target,
        url = p.url,
        provider = p.provider,
        service = p.service,
        region = p
            .region
            .map(|r| format!("region = \"{r}\"\n"))
            .unwrap_or_default(),
    )
}

pub fn init(a: InitArgs) -> anyhow::Result<ExitCode> {
    if a.config.exists() && !a.force {
        eprintln!(
            "{} exists; leaving it as it is (pass --force to replace it)",
            a.config.display()
        );
        return Ok(ExitCode::from(2));
    }
    let mut text = BASE.to_string();
    if let Some(p) = &a.provider {
        text.push_str(&provider_part(p));
    }
    std::fs::write(&a.config, text)?;
    println!(
        "wrote {}; next: probity check --config {0}, then probity run --config {0}",
        a.config.display()
    );
    Ok(ExitCode::SUCCESS)
}
