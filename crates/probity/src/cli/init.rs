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
fn provider_part(provider: &str) -> &'static str {
    match provider {
        "azure" => {
            r#"
# Azure's status feed: what Microsoft declares, set against what probity observes
# (`probity scorecard`, docs/reconciliation.md).
[[feed]]
name = "azure"
format = "azure-rss"
url = "https://rssfeed.azure.status.microsoft/en-us/status/feed/"

[[target]]
name = "azure-resource-manager"
kind = "http"
url = "https://management.azure.com/"
interval = "1m"
conditions = ["[STATUS] < 500"]   # unauthenticated calls are refused (4xx): that is up
provider = "azure"
service = "Azure Resource Manager"
"#
        }
        "aws" => {
            r#"
# AWS's status feed for S3 in eu-west-1: what Amazon declares, set against what probity
# observes (`probity scorecard`, docs/reconciliation.md).
[[feed]]
name = "aws-s3-eu-west-1"
format = "aws-rss"
url = "https://status.aws.amazon.com/rss/s3-eu-west-1.rss"

[[target]]
name = "aws-s3-eu-west-1"
kind = "http"
url = "https://s3.eu-west-1.amazonaws.com/"
interval = "1m"
conditions = ["[STATUS] < 500"]   # unauthenticated calls are refused (4xx): that is up
provider = "aws"
service = "s3"
region = "eu-west-1"
"#
        }
        _ => {
            r#"
# Google Cloud's incidents feed: what Google declares, set against what probity observes
# (`probity scorecard`, docs/reconciliation.md).
[[feed]]
name = "gcp"
format = "gcp-json"
url = "https://status.cloud.google.com/incidents.json"

[[target]]
name = "gcp-cloud-storage"
kind = "http"
url = "https://storage.googleapis.com/"
interval = "1m"
conditions = ["[STATUS] < 500"]   # unauthenticated calls are refused (4xx): that is up
provider = "gcp"
service = "Cloud Storage"
"#
        }
    }
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
        text.push_str(provider_part(p));
    }
    std::fs::write(&a.config, text)?;
    println!(
        "wrote {}; next: probity check --config {0}, then probity run --config {0}",
        a.config.display()
    );
    Ok(ExitCode::SUCCESS)
}
