//! `probity demo`: the first five minutes. Starts a local misbehaving "cloud", writes a
//! configuration that watches it, runs probity on it and narrates what happens.

pub mod cloud;

use cloud::{Cloud, Script};
use probity_core::duration::HumanDuration;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Where the API listens (a free port is taken if this one is busy).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Where to keep the demo's data (a new temporary directory by default).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Stop after this long (runs until Ctrl-C by default).
    #[arg(long)]
    pub duration: Option<HumanDuration>,
    /// Compress the script to seconds (for tests and the impatient).
    #[arg(long)]
    pub fast: bool,
}

/// The demo's timeline and probe interval.
struct Plan {
    interval: &'static str,
    script: Script,
}

fn plan(fast: bool) -> Plan {
    let s = Duration::from_secs;
    let ms = Duration::from_millis;
    if fast {
        Plan {
            interval: "250ms",
            script: Script {
                outage: ms(2000)..ms(5000),
                slow: ms(2500)..ms(5000),
                slow_by: ms(900),
                cache_outage: ms(3500)..ms(6500),
                cert_days: 10,
                regional: ms(1500)..ms(4500),
                corruption: ms(3000)..ms(6000),
            },
        }
    } else {
        Plan {
            interval: "5s",
            script: Script {
                outage: s(60)..s(150),
                slow: s(90)..s(150),
                slow_by: ms(1200),
                cache_outage: s(180)..s(240),
                cert_days: 10,
                regional: s(30)..s(120),
                corruption: s(200)..s(270),
            },
        }
    }
}

/// The configuration the demo runs, watching `cloud`.
pub fn demo_config(cloud: &Cloud, listen: &str, data_dir: &Path, interval: &str) -> String {
    let data = data_dir.display().to_string().replace('\\', "\\\\");
    format!(
        r#"# probity demo configuration: a local "cloud" that misbehaves on a script.
[server]
listen = "{listen}"
data_dir = "{data}"

[evidence]
origin = "demo.probity.test/log"
checkpoint_interval = "{checkpoints}"

[[target]]
name = "storage-api"
provider = "demo-cloud"
service = "storage"
region = "demo-1"
kind = "http"
url = "http://{http}/storage"
interval = "{interval}"
timeout = "2s"
conditions = ["[STATUS] == 200", '[BODY].status == "UP"']
tags = ["demo"]

[[target]]
name = "compute-api"
provider = "demo-cloud"
service = "compute"
region = "demo-1"
kind = "http"
url = "http://{http}/compute"
interval = "{interval}"
timeout = "3s"
conditions = ["[STATUS] == 200", "[LATENCY] < 600ms"]
tags = ["demo"]

[[target]]
name = "web-https"
provider = "demo-cloud"
service = "web"
region = "demo-1"
kind = "http"
url = "https://localhost:{https_port}/health"
ca_file = "demo-ca.pem"
interval = "{interval}"
conditions = ["[STATUS] == 200", "[CERT_EXPIRY] > 14d", '[HEADER:Content-Type] contains "json"']
tags = ["demo"]

[[target]]
name = "cache-tcp"
provider = "demo-cloud"
service = "cache"
region = "demo-1"
kind = "tcp"
address = "{tcp}"
send = "PING"
expect = "+PONG"
interval = "{interval}"
timeout = "{tcp_timeout}"
tags = ["demo"]

[[target]]
name = "api-dns"
provider = "demo-cloud"
service = "dns"
kind = "dns"
resolver = "{dns}"
interval = "{interval}"
conditions = ["[DNS_RCODE] == NOERROR", '[DNS_ANSWERS] contains "127.0.0.1"']
tags = ["demo"]
[target.dns]
name = "{dns_name}"
record_type = "A"

# The cloud's object storage (a directory here): objects written, read back and compared
# byte for byte, and three long-lived canaries checked against their manifest.
[[target]]
name = "blob-store"
provider = "demo-cloud"
service = "object-storage"
region = "demo-1"
kind = "object_store"
url = "file://{blob}"
interval = "{interval}"
canaries = 3
canary_size = "1KiB"
canary_interval = "{canary_interval}"
tags = ["demo"]

# A content network's edge, probed from three vantage points: the server itself (`local`)
# and two agents. An incident needs two of them to see it fail; one region failing alone
# is a regional degradation.
[[target]]
name = "cdn-edge"
provider = "demo-cloud"
service = "cdn"
kind = "http"
url = "http://{http}/cdn"
interval = "{interval}"
quorum = 2
tags = ["demo"]

[[vantage]]
name = "eu-west"
region = "eu-west-1"
targets = ["cdn-edge"]

[[vantage]]
name = "us-east"
region = "us-east-1"
targets = ["cdn-edge"]

# Set what was observed against what the status page declared. The demo's timeline is
# minutes (or seconds), so it shortens what production leaves at 5m, 5m and 2h.
[reconcile]
tolerance = "{tolerance}"
min_duration = "{min_duration}"
grace = "{grace}"

# The storage API's SLA, by the demo cloud's own terms: 99.9% a month, measured as the mean
# of 5-minute error rates, as object stores do. The demo's outage breaches it.
[[sla]]
name = "demo-storage"
targets = ["storage-api"]
commitment = 99.9
tiers = [{{ below = 99.9, credit = 10 }}, {{ below = 99.0, credit = 25 }}, {{ below = 95.0, credit = 100 }}]
basis = "error_rate"
interval_minutes = 5
claim_months_after = 2
monthly_bill = 1200

# An objective of our own for the storage API, with the SRE Workbook's burn-rate alerts.
[[slo]]
name = "storage-availability"
targets = ["storage-api"]
objective = 99.5
window = "30d"

# Our own public status page at /status, with incidents posted from what probity sees.
[status]
title = "Demo services"
auto_incidents = true

[[component]]
name = "Storage"
targets = ["storage-api"]

[[component]]
name = "Compute"
targets = ["compute-api"]

[[component]]
name = "Website"
targets = ["web-https"]

[[component]]
name = "Cache"
targets = ["cache-tcp"]

[[component]]
name = "DNS"
targets = ["api-dns"]

# The cloud's own status page, in Atlassian Statuspage's format.
[[feed]]
name = "demo-status"
provider = "demo-cloud"
format = "statuspage"
url = "http://{http}/status/api/v2/incidents.json"
interval = "{feed_interval}"
"#,
        http = cloud.http,
        https_port = cloud.https.port(),
        tcp = cloud.tcp,
        dns = cloud.dns,
        dns_name = cloud::DNS_NAME,
        blob = cloud.blob.display().to_string().replace('\\', "\\\\"),
        canary_interval = if interval == "250ms" { "1s" } else { "15s" },
        checkpoints = if interval == "250ms" { "1s" } else { "10s" },
        feed_interval = if interval == "250ms" { "1s" } else { "15s" },
        tcp_timeout = if interval == "250ms" { "1s" } else { "3s" },
        tolerance = if interval == "250ms" { "1s" } else { "30s" },
        min_duration = if interval == "250ms" { "1s" } else { "30s" },
        grace = if interval == "250ms" { "2s" } else { "60s" },
    )
}

pub fn main(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let rt = probity_ground::process::runtime()?;
    rt.block_on(demo(args))?;
    Ok(ExitCode::SUCCESS)
}

async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    let plan = plan(args.fast);
    let tmp;
    let data_dir = match &args.data_dir {
        Some(d) => d.clone(),
        None => {
            tmp = tempfile_dir()?;
            tmp.clone()
        }
    };
    std::fs::create_dir_all(&data_dir)?;
    // The configuration is written inside the data directory and its paths are relative
    // to itself: name the directory absolutely, or `--data-dir d` would store into `d/d`.
    let data_dir = data_dir.canonicalize()?;
    let cloud = Cloud::start(plan.script.clone(), &data_dir).await?;
    // Take the requested port if it is free, otherwise any free one; the socket bound here
    // is the one served on, so nobody can take it in between.
    let listener = std::net::TcpListener::bind(&args.listen)
        .or_else(|_| std::net::TcpListener::bind("127.0.0.1:0"))?;
    let listen = listener.local_addr()?.to_string();
    let config_path = data_dir.join("demo.toml");
    std::fs::write(
        &config_path,
        demo_config(&cloud, &listen, &data_dir, plan.interval),
    )?;
    let config = probity_ground::config::load(&config_path)
        .map_err(|e| anyhow::anyhow!("demo configuration: {e}"))?;
    // A token for the dashboard, as `probity token create` makes them, and one for each
    // of the two agents the demo runs in-process (`probity token create --agent NAME`).
    let (dashboard_token, agent_tokens) = {
        let store = probity_engine::store::SqliteStore::open(&config.server.data_dir)?;
        let dashboard = crate::cli::token::issue(&store, "demo dashboard")?;
        let mut agents = Vec::new();
        for v in &config.vantages {
            agents.push((v.clone(), crate::cli::token::issue_agent(&store, &v.name)?));
        }
        (dashboard, agents)
    };

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopper = stop_tx.clone();
    tokio::spawn(async move {
        probity_ground::process::termination().await;
        let _ = stopper.send(true);
    });
    if let Some(d) = args.duration {
        let stopper = stop_tx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(d.as_std()).await;
            let _ = stopper.send(true);
        });
    }
    let script = plan.script.clone();
    let config_shown = config_path.clone();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let narrator_stop = stop_rx.clone();
    let runner = tokio::spawn(crate::run::run_on(
        config,
        Some(listener),
        stop_rx,
        move |addr| {
            let _ = ready_tx.send(addr);
        },
    ));
    let addr = match ready_rx.await {
        Ok(a) => a,
        Err(_) => return runner.await?,
    };
    // The agents, as `probity agent --server … --name …` would run them elsewhere.
    let mut agents = Vec::new();
    for (v, token) in agent_tokens {
        let args = crate::agent::AgentArgs {
            server: format!("http://{addr}"),
            token,
            name: v.name.clone(),
            region: v.region.clone(),
            spool: data_dir.join(format!("spool-{}", v.name)),
            spool_max_mib: 64,
            ca_file: None,
        };
        agents.push(tokio::spawn(crate::agent::run(args, narrator_stop.clone())));
    }
    let t = |d: Duration| format!("+{}:{:02}", d.as_secs() / 60, d.as_secs() % 60);
    // The script in the order it happens.
    let mut events = [
        (Duration::ZERO, format!("all healthy; the HTTPS certificate expires in {} days (fails [CERT_EXPIRY] > 14d)", script.cert_days)),
        (script.outage.start, "storage-api answers 503 (down after 3 failures)".to_string()),
        (script.slow.start, format!("compute-api slows to {} ms (degraded: [LATENCY] < 600ms)", script.slow_by.as_millis())),
        (script.outage.start + (script.outage.end - script.outage.start) / 2, "the provider's status page posts the storage outage: late, as minor, with a later start".to_string()),
        (script.outage.end.max(script.slow.end), "both recover (incidents resolve after 2 successes)".to_string()),
        (script.regional.start, "cdn-edge fails from us-east only: a regional degradation, no incident (quorum 2 of 3)".to_string()),
        (script.cache_outage.start, "cache-tcp stops answering (down after 3 timeouts); the provider's status page never says".to_string()),
        (script.outage.end + (script.outage.end - script.outage.start) * 6 / 10, "the provider's status page edits the resolved storage incident: a later start, an earlier end".to_string()),
        (script.corruption.start, "a canary object in blob-store silently changes on disk: the store serves other bytes without an error (integrity_mismatch); the status page never says".to_string()),
        (script.corruption.end, "the canary's bytes are put back (the incident resolves)".to_string()),
    ];
    events.sort_by_key(|(at, _)| *at);
    let script_lines: Vec<String> = events
        .iter()
        .enumerate()
        .map(|(i, (at, what))| {
            format!(
                "{}{}  {what}",
                if i == 0 {
                    "  script    "
                } else {
                    "            "
                },
                t(*at)
            )
        })
        .collect();
    println!(
        r#"probity demo: a local "cloud" that misbehaves on a script, watched by probity.

  open      http://{addr}/   in a browser: your status page; the dashboard is at /dashboard
            (sign in with {dashboard_token})

  cloud     http://{http}  https://localhost:{https_port} (demo CA)  tcp {tcp}  dns {dns}
  config    {config}
  data      {data}

{script_lines}

  look      curl -s http://{addr}/api/v1/targets
            curl -s http://{addr}/api/v1/incidents
            curl -s http://{addr}/api/v1/provider-incidents
            curl -s http://{addr}/api/v1/scorecard
            curl -s http://{addr}/api/v1/vantages
            curl -s http://{addr}/metrics
            {exe} check --config {config}

Ctrl-C stops the demo. What probity sees:"#,
        http = cloud.http,
        https_port = cloud.https.port(),
        tcp = cloud.tcp,
        dns = cloud.dns,
        config = config_shown.display(),
        data = data_dir.display(),
        script_lines = script_lines.join("\n"),
        // This very binary, so the line works as printed whether or not probity is installed.
        exe = std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "probity".into()),
    );
    narrate(addr, cloud.started, narrator_stop).await;
    let result = runner.await?;
    for a in agents {
        if let Ok(Err(e)) = a.await {
            tracing::warn!(error = %e, "a demo agent failed");
        }
    }
    // What the status page's word was worth, from the stored data.
    if result.is_ok()
        && let Ok(config) = probity_ground::config::load(&config_path)
    {
        println!(
            "\nThe scorecard (probity scorecard --config {}):",
            config_path.display()
        );
        let _ = crate::cli::scorecard::print(
            &config,
            probity_core::duration::HumanDuration::from_secs(3600),
            None,
        );
        if let Ok(store) = probity_engine::store::SqliteStore::open(&config.server.data_dir) {
            let now = jiff::Timestamp::now().as_millisecond();
            if let Ok(reports) = probity_engine::account::sla::reports(
                &store,
                &config,
                probity_engine::account::sla::this_month(now),
                None,
                now,
            ) {
                println!(
                    "\nThis month's SLA (probity sla report --config {}):",
                    config_path.display()
                );
                print!("{}", probity_engine::account::sla::table(&reports));
            }
        }
    }
    println!("demo stopped; its data stays in {}", data_dir.display());
    drop(cloud);
    result
}

/// Prints each target's state changes as the API reports them.
async fn narrate(
    addr: std::net::SocketAddr,
    started: tokio::time::Instant,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut last: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    let mut seen_incidents = std::collections::HashSet::new();
    let mut seen_posts = std::collections::HashSet::new();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let Ok(targets) = get_json(addr, "/api/v1/targets").await else {
            continue;
        };
        let Ok(incidents) = get_json(addr, "/api/v1/incidents").await else {
            continue;
        };
        let e = started.elapsed();
        let at = format!("+{}:{:02}", e.as_secs() / 60, e.as_secs() % 60);
        // A state is explained by its open incident's cause (the last result may already be
        // a success on the way to recovery), else by the last result's error.
        let causes: std::collections::HashMap<i64, &str> = incidents
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| Some((i["id"].as_i64()?, i["cause"].as_str()?)))
            .collect();
        for t in targets.as_array().into_iter().flatten() {
            let name = t["name"].as_str().unwrap_or("?").to_string();
            let status = t["status"].as_str().unwrap_or("?").to_string();
            let prev = last.insert(name.clone(), status.clone());
            if prev.as_deref().unwrap_or("unknown") != status {
                let regional: Vec<&str> = t["regional"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str())
                    .collect();
                let why = if !regional.is_empty() {
                    format!(
                        "  (failing from {} only: a regional degradation)",
                        regional.join(", ")
                    )
                } else {
                    t["open_incident"]
                        .as_i64()
                        .and_then(|id| causes.get(&id).copied())
                        .or_else(|| t["last_result"]["error"].as_str())
                        .map(|e| format!("  ({e})"))
                        .unwrap_or_default()
                };
                println!(
                    "  {at}  {name:<12} {} → {status}{why}",
                    prev.as_deref().unwrap_or("unknown")
                );
            }
        }
        if let Ok(posts) = get_json(addr, "/api/v1/provider-incidents").await {
            for p in posts.as_array().into_iter().flatten() {
                let key = format!("{}-{}", p["external_id"], p["status"]);
                if seen_posts.insert(key) {
                    println!(
                        "  {at}  provider's status page: \"{}\" {} (impact {}, stated start {})",
                        p["title"].as_str().unwrap_or("?"),
                        p["status"].as_str().unwrap_or("?"),
                        p["impact"].as_str().unwrap_or("?"),
                        p["started_at"].as_str().unwrap_or("none"),
                    );
                }
                // Edits after publication, each said once.
                for e in p["edits"].as_array().into_iter().flatten() {
                    let key = format!("{}-edit-{}-{}", p["external_id"], e["field"], e["seen_at"]);
                    if seen_posts.insert(key) {
                        let show = |v: &serde_json::Value| {
                            v.as_str().map_or_else(|| v.to_string(), str::to_string)
                        };
                        println!(
                            "  {at}  provider's status page edits \"{}\" after publishing it: {} {} → {}",
                            p["title"].as_str().unwrap_or("?"),
                            e["field"].as_str().unwrap_or("?"),
                            show(&e["from"]),
                            show(&e["to"]),
                        );
                    }
                }
            }
        }
        for i in incidents.as_array().into_iter().flatten() {
            let key = format!("{}-{}", i["id"], i["status"]);
            if seen_incidents.insert(key) {
                match i["resolved_at"].as_str() {
                    None => println!(
                        "  {at}  incident {} opened on {}: {}",
                        i["id"],
                        i["target"].as_str().unwrap_or("?"),
                        i["cause"].as_str().unwrap_or("")
                    ),
                    Some(end) => println!(
                        "  {at}  incident {} on {} resolved: {} → {} ({:.0} s)",
                        i["id"],
                        i["target"].as_str().unwrap_or("?"),
                        i["started_at"].as_str().unwrap_or("?"),
                        end,
                        i["duration_s"].as_f64().unwrap_or(0.0)
                    ),
                }
            }
        }
    }
}

/// A tiny HTTP GET for the narrator (the demo reads its own API like any client would).
async fn get_json(addr: std::net::SocketAddr, path: &str) -> anyhow::Result<serde_json::Value> {
    use http_body_util::BodyExt;
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp)).await?;
    tokio::spawn(conn);
    let req = hyper::Request::get(path)
        .header("host", addr.to_string())
        .body(http_body_util::Empty::<bytes::Bytes>::new())?;
    let resp = sender.send_request(req).await?;
    let body = resp.into_body().collect().await?.to_bytes();
    Ok(serde_json::from_slice(&body)?)
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let base = std::env::temp_dir().join(format!(
        "probity-demo-{}-{}",
        std::process::id(),
        jiff::Timestamp::now().as_millisecond()
    ));
    std::fs::create_dir_all(&base)?;
    Ok(base)
}
