//! `probity agent`: probes from another place and pushes the results to the server.
//!
//! The agent fetches its assignment (the targets the server's `[[vantage]]` gives it, as
//! configuration), runs them with the same scheduler and probers as the server, passes the
//! results through its controls' [`gate`](probity_engine::schedule::vantage::gate), writes them to its
//! [`spool::Spool`] and pushes them in order. It keeps the last assignment in the spool
//! directory, so it can start and keep measuring while the server is unreachable.
//!
//! **Invariant:** a result leaves the spool only after the server answered that it is
//! stored; each carries an id made by the agent (`<vantage>:<boot>:<n>`), so a push
//! retried after a lost answer is stored once.

pub mod spool;
pub use probity_engine::record::wire;

use probity_engine::live::Shared;
use probity_engine::record::Measured;
use probity_ground::config::Target;
use spool::Spool;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::{Notify, mpsc, watch};
use wire::{Assignment, PushBody, PushResponse, PushResult};

#[derive(clap::Args, Clone, Debug)]
pub struct AgentArgs {
    /// The probity server, e.g. https://probity.example.com
    #[arg(long)]
    pub server: String,
    /// The agent's token (from `probity token create --agent NAME`); or set
    /// PROBITY_AGENT_TOKEN.
    #[arg(long, env = "PROBITY_AGENT_TOKEN", hide_env_values = true)]
    pub token: String,
    /// The vantage's name: the one the token was made for.
    #[arg(long)]
    pub name: String,
    /// Where the agent is (shown by the server unless its `[[vantage]]` says otherwise).
    #[arg(long)]
    pub region: Option<String>,
    /// Where results wait until the server has them.
    #[arg(long, default_value = "probity-spool")]
    pub spool: PathBuf,
    /// The most the spool may hold on disk, in MiB; past it the oldest results are dropped.
    #[arg(long, default_value_t = 256)]
    pub spool_max_mib: u64,
    /// Extra trust anchors (PEM) for the server's certificate.
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
}

/// `probity agent`.
pub fn main(args: AgentArgs) -> anyhow::Result<std::process::ExitCode> {
    anyhow::ensure!(
        probity_ground::vantage::valid_name(&args.name),
        "--name: a vantage's name is 1 to 64 lowercase letters, digits, `-`, `_` or `.`"
    );
    anyhow::ensure!(
        args.server.starts_with("http://") || args.server.starts_with("https://"),
        "--server must be an http:// or https:// URL, not {:?}",
        args.server
    );
    probity_ground::process::runtime()?.block_on(async {
        let (stop_tx, stop_rx) = watch::channel(false);
        tokio::spawn(async move {
            probity_ground::process::termination().await;
            tracing::info!("stopping: finishing probes in flight and spooling their results");
            let _ = stop_tx.send(true);
        });
        run(args, stop_rx).await
    })?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// The connection to the server.
struct Link {
    client: reqwest::Client,
    base: String,
    token: String,
    name: String,
    /// The servers sharing the server's store, as `/api/v1/cluster` last said: each
    /// target's results go to the one that records it.
    routes: Mutex<Routes>,
}

/// The live servers (name, address) and when they were asked for; empty: one server.
#[derive(Default)]
struct Routes {
    members: Members,
    asked: Option<tokio::time::Instant>,
}

/// How long the list of servers is used before it is asked for again.
const ROUTES_FOR: Duration = Duration::from_secs(10);

/// The most of a push's answer the agent reads (it lists at most the batch's refusals).
const MAX_PUSH_ANSWER: usize = 4 << 20;

/// The most of `/api/v1/cluster`'s answer the agent reads (a member is about 200 bytes).
const MAX_CLUSTER_ANSWER: usize = 1 << 20;

/// The members of a `/api/v1/cluster` answer (name, and the address when the agent may
/// send its token there), and the addresses it may not use: an address must be an
/// `http://` or `https://` URL, and `https://` when `--server` is (a member advertised as
/// `http://` would have the token cross the network in clear). A member without an address
/// still counts for who records what: its targets' results go to `--server`, which refuses
/// them (421) and they wait in the spool. Empty when the store is not shared (one server).
fn members_of(base: &str, view: &serde_json::Value) -> (Members, Vec<(String, String)>) {
    let mut members = Vec::new();
    let mut refused = Vec::new();
    if view["shared_store"] != true {
        return (members, refused);
    }
    let secure = base.starts_with("https://");
    for m in view["members"].as_array().map_or(&[][..], |m| m.as_slice()) {
        let (Some(name), Some(address)) = (m["name"].as_str(), m["address"].as_str()) else {
            continue;
        };
        let address = address.trim_end_matches('/').to_string();
        let usable = address.starts_with("https://") || (!secure && address.starts_with("http://"));
        members.push((name.to_string(), usable.then(|| address.clone())));
        if !usable {
            refused.push((name.to_string(), address));
        }
    }
    (members, refused)
}

/// Live servers by name, each with the address results may be sent to (none: not usable).
type Members = Vec<(String, Option<String>)>;

impl Link {
    fn new(a: &AgentArgs) -> anyhow::Result<Link> {
        let mut b =
            probity_ground::http_client::builder(probity_ground::http_client::Purpose::Agent)
                .timeout(Duration::from_secs(30))
                .connect_timeout(Duration::from_secs(10));
        if let Some(ca) = &a.ca_file {
            let pem = std::fs::read(ca)
                .map_err(|e| anyhow::anyhow!("--ca-file {}: {e}", ca.display()))?;
            for cert in reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| anyhow::anyhow!("--ca-file {}: {e}", ca.display()))?
            {
                b = b.add_root_certificate(cert);
            }
        }
        Ok(Link {
            client: b.build()?,
            base: a.server.trim_end_matches('/').to_string(),
            token: a.token.clone(),
            name: a.name.clone(),
            routes: Mutex::new(Routes::default()),
        })
    }

    /// The servers sharing the store, asked for at most every [`ROUTES_FOR`] (or at once
    /// after `stale`); when the server cannot say, the last list is kept (so results still
    /// reach the others while it is down).
    async fn members(&self, stale: bool) -> Members {
        {
            let r = self.routes.lock().expect("routes lock");
            if !stale && r.asked.is_some_and(|at| at.elapsed() < ROUTES_FOR) {
                return r.members.clone();
            }
        }
        let asked = self
            .client
            .get(format!("{}/api/v1/cluster", self.base))
            .send()
            .await;
        let view: Option<serde_json::Value> = match asked {
            Ok(resp) if resp.status().is_success() => {
                probity_ground::http_client::read_limited(resp, MAX_CLUSTER_ANSWER)
                    .await
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok())
            }
            _ => None,
        };
        let mut r = self.routes.lock().expect("routes lock");
        r.asked = Some(tokio::time::Instant::now());
        if let Some(v) = view {
            let (members, refused) = members_of(&self.base, &v);
            for (name, address) in refused {
                tracing::warn!(
                    server = %name,
                    address = %address,
                    "not sending results to this server: its address is not an {} URL like --server's, \
                     and the agent's token would travel to it",
                    if self.base.starts_with("https://") { "https://" } else { "http(s)://" }
                );
            }
            r.members = members;
        }
        r.members.clone()
    }

    /// Fetches the assignment; also measures the clock offset from it.
    async fn assignment(&self) -> anyhow::Result<(Assignment, i64, i64)> {
        let t1 = now_ms();
        let resp = self
            .client
            .get(format!("{}/api/v1/agent/targets", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot reach the server: {}",
                    probity_ground::http_client::describe(e)
                )
            })?;
        let t4 = now_ms();
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| {
            anyhow::anyhow!(
                "the server's answer broke off: {}",
                probity_ground::http_client::describe(e)
            )
        })?;
        if status.as_u16() == 401 || status.as_u16() == 403 {
            return Err(Refused(format!(
                "the server refused the agent's token ({}): {}",
                status.as_u16(),
                api_message(&body)
            ))
            .into());
        }
        anyhow::ensure!(
            status.is_success(),
            "the server refused the assignment ({status}): {}",
            String::from_utf8_lossy(&body[..body.len().min(500)])
        );
        let a: Assignment = serde_json::from_slice(&body)?;
        if a.vantage != self.name {
            return Err(Refused(format!(
                "the token belongs to vantage `{}`, not `{}`",
                a.vantage, self.name
            ))
            .into());
        }
        let (offset, rtt) =
            probity_core::quorum::clock_offset(t1, a.server_time_ms, a.server_time_ms, t4);
        Ok((a, offset, rtt))
    }
}

/// The server refused the agent's token: retrying cannot help.
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// The error message inside an API error body, or the body itself.
fn api_message(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(500)]).into_owned())
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// Turns an assignment into targets.
fn targets_of(a: &Assignment) -> anyhow::Result<Vec<Arc<Target>>> {
    let config = probity_ground::config::parse("assignment", &a.config, std::path::Path::new("."))
        .map_err(|e| anyhow::anyhow!("the assigned targets do not load here:\n{e}"))?;
    Ok(config.targets)
}

/// State the pusher reports with each push.
#[derive(Default)]
struct Clock {
    offset_ms: Option<i64>,
    rtt_ms: Option<i64>,
}

/// Runs the agent until `stop` turns true.
pub async fn run(args: AgentArgs, mut stop: watch::Receiver<bool>) -> anyhow::Result<()> {
    let link = Arc::new(Link::new(&args)?);
    let spool = Arc::new(Mutex::new(Spool::open(
        &args.spool,
        args.spool_max_mib.saturating_mul(1024 * 1024),
    )?));
    let saved = args.spool.join("assignment.json");
    let clock = Arc::new(Mutex::new(Clock::default()));
    // The assignment: from the server, else the one saved last time.
    let mut assignment = loop {
        match link.assignment().await {
            Ok((a, offset, rtt)) => {
                *clock.lock().expect("clock lock") = Clock {
                    offset_ms: Some(offset),
                    rtt_ms: Some(rtt),
                };
                save_assignment(&saved, &a);
                break a;
            }
            Err(e) => {
                if e.downcast_ref::<Refused>().is_some() {
                    return Err(e);
                }
                if let Some(a) = std::fs::read(&saved)
                    .ok()
                    .and_then(|b| serde_json::from_slice::<Assignment>(&b).ok())
                    .filter(|a| a.vantage == args.name)
                {
                    tracing::warn!(error = %e, "the server is unreachable; probing the targets it assigned last time");
                    break a;
                }
                tracing::warn!(error = %e, "waiting for the server to give this agent its targets");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                    _ = stop.wait_for(|s| *s) => return Ok(()),
                }
            }
        }
    };
    let boot = {
        let mut b = [0u8; 8];
        getrandom::fill(&mut b).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        hex::encode(b)
    };
    let controls_ok: Arc<RwLock<Option<bool>>> = Arc::new(RwLock::new(None));
    let written = Arc::new(Notify::new());
    let (reload_tx, mut reload_rx) = mpsc::channel::<()>(1);
    // Set by the pusher when the server refuses the token: the agent stops.
    let (fatal_tx, mut fatal_rx) = watch::channel::<Option<String>>(None);
    let pusher = tokio::spawn(push_loop(
        link.clone(),
        spool.clone(),
        clock.clone(),
        controls_ok.clone(),
        written.clone(),
        args.region.clone(),
        assignment.max_batch,
        assignment.config_version.clone(),
        reload_tx,
        fatal_tx,
        stop.clone(),
    ));
    let mut seq: u64 = 0;
    loop {
        let targets = targets_of(&assignment)?;
        tracing::info!(
            vantage = %args.name,
            targets = targets.len(),
            controls = assignment.controls.len(),
            "agent is probing"
        );
        let controls: Vec<Arc<Target>> = targets
            .iter()
            .filter(|t| assignment.controls.contains(&t.name))
            .cloned()
            .collect();
        let (probe_tx, probe_rx) = mpsc::channel::<Measured>(4096);
        let (gated_tx, mut gated_rx) = mpsc::channel::<Measured>(4096);
        let gate = tokio::spawn(probity_engine::schedule::vantage::gate(
            probe_rx,
            gated_tx,
            assignment.controls.clone(),
            probity_engine::schedule::vantage::hold_max(&controls),
            controls_ok.clone(),
        ));
        let (round_stop_tx, round_stop_rx) = watch::channel(false);
        let scheduler = tokio::spawn(probity_engine::schedule::run(
            targets,
            probity_engine::schedule::prober(Arc::new(
                probity_engine::probe::ProbeContext::for_vantage(&args.name),
            )),
            probe_tx,
            Arc::new(Shared::default()),
            2048,
            round_stop_rx,
        ));
        // Spool writer: everything the gate passes, in batches, synced before counted.
        let writer = {
            let (spool, written, name, boot) = (
                spool.clone(),
                written.clone(),
                args.name.clone(),
                boot.clone(),
            );
            let start = seq;
            tokio::spawn(async move {
                let mut n = start;
                while let Some(first) = gated_rx.recv().await {
                    let mut batch = vec![first];
                    while let Ok(m) = gated_rx.try_recv() {
                        batch.push(m);
                        if batch.len() >= 1000 {
                            break;
                        }
                    }
                    let results: Vec<PushResult> = batch
                        .iter()
                        .map(|m| {
                            n += 1;
                            PushResult::from_output(
                                format!("{name}:{boot}:{n}"),
                                &m.target.name,
                                &m.output,
                                m.unmeasured,
                            )
                        })
                        .collect();
                    let s = spool.clone();
                    let res = tokio::task::spawn_blocking(move || {
                        s.lock().expect("spool lock").append(&results)
                    })
                    .await;
                    match res {
                        Ok(Ok(())) => written.notify_one(),
                        Ok(Err(e)) => {
                            tracing::error!(error = %e, "cannot write to the spool; results lost")
                        }
                        Err(e) => tracing::error!(error = %e, "spool task failed"),
                    }
                }
                n
            })
        };
        let reload = tokio::select! {
            _ = stop.wait_for(|s| *s) => false,
            Some(()) = reload_rx.recv() => true,
            _ = fatal_rx.wait_for(|f| f.is_some()) => false,
        };
        let _ = round_stop_tx.send(true);
        let _ = scheduler.await;
        let _ = gate.await;
        seq = writer.await.unwrap_or(seq);
        if !reload {
            break;
        }
        match link.assignment().await {
            Ok((a, offset, rtt)) => {
                *clock.lock().expect("clock lock") = Clock {
                    offset_ms: Some(offset),
                    rtt_ms: Some(rtt),
                };
                save_assignment(&saved, &a);
                tracing::info!(version = %a.config_version, "the assignment changed");
                assignment = a;
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not fetch the new assignment; keeping the old one")
            }
        }
    }
    if let Some(e) = fatal_rx.borrow().clone() {
        pusher.abort();
        anyhow::bail!(Refused(e));
    }
    // One last push of what is spooled, briefly; the rest waits for the next start.
    written.notify_one();
    let _ = tokio::time::timeout(Duration::from_secs(5), pusher).await;
    tracing::info!(
        backlog = spool.lock().expect("spool lock").backlog(),
        "agent stopped; results not yet delivered stay in the spool"
    );
    Ok(())
}

fn save_assignment(path: &std::path::Path, a: &Assignment) {
    let tmp = path.with_extension("json.tmp");
    let ok = serde_json::to_vec(a)
        .ok()
        .and_then(|b| std::fs::write(&tmp, b).ok())
        .and_then(|_| std::fs::rename(&tmp, path).ok());
    if ok.is_none() {
        tracing::warn!(path = %path.display(), "could not save the assignment");
    }
}

/// Pushes the spool's contents in order, forever; asks for a reload when the server's
/// assignment version differs from `version`.
#[allow(clippy::too_many_arguments)]
async fn push_loop(
    link: Arc<Link>,
    spool: Arc<Mutex<Spool>>,
    clock: Arc<Mutex<Clock>>,
    controls_ok: Arc<RwLock<Option<bool>>>,
    written: Arc<Notify>,
    region: Option<String>,
    max_batch: usize,
    mut version: String,
    reload: mpsc::Sender<()>,
    fatal: watch::Sender<Option<String>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut max_batch = max_batch.clamp(1, wire::MAX_PUSH_RESULTS);
    let mut backoff = Duration::from_millis(250);
    let mut last_push = tokio::time::Instant::now();
    // Whether the list of servers must be asked for again before the next push.
    let mut stale_routes = false;
    'push: loop {
        let stopping = *stop.borrow();
        let s = spool.clone();
        let read = tokio::task::spawn_blocking(move || {
            let s = s.lock().expect("spool lock");
            s.read(max_batch)
                .map(|(r, p)| (r, p, s.backlog(), s.dropped()))
        })
        .await;
        let (results, pos, backlog, dropped) = match read {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "cannot read the spool");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            Err(_) => return,
        };
        if results.is_empty() {
            if stopping {
                return;
            }
            // Nothing to send: push an empty batch now and then, so that the server knows
            // the agent is alive and its clock is measured.
            if last_push.elapsed() < Duration::from_secs(10) {
                tokio::select! {
                    _ = written.notified() => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.changed() => {}
                }
                continue;
            }
        }
        let count = results.len() as u64;
        let (offset, rtt) = {
            let c = clock.lock().expect("clock lock");
            (c.offset_ms, c.rtt_ms)
        };
        // Each result goes to the server that records its target; with one server, all
        // to it (and the keep-alive push too).
        let members = link.members(std::mem::take(&mut stale_routes)).await;
        let mut groups: std::collections::BTreeMap<String, Vec<PushResult>> =
            std::collections::BTreeMap::new();
        if members.len() > 1 {
            let names: Vec<String> = members.iter().map(|(n, _)| n.clone()).collect();
            for r in results {
                let to = probity_core::cluster::owner(&r.target, &names)
                    .and_then(|o| members.iter().find(|(n, _)| n == o))
                    .and_then(|(_, a)| a.clone())
                    .unwrap_or_else(|| link.base.clone());
                groups.entry(to).or_default().push(r);
            }
        } else {
            groups.insert(link.base.clone(), results);
        }
        if groups.is_empty() {
            groups.insert(link.base.clone(), Vec::new());
        }
        let mut outcome: Result<(), String> = Ok(());
        for (to, results) in groups {
            let body = PushBody {
                vantage: link.name.clone(),
                sent_at_ms: now_ms(),
                clock_offset_ms: offset,
                rtt_ms: rtt,
                backlog: backlog.saturating_sub(count),
                dropped,
                controls_ok: *controls_ok.read().expect("controls lock"),
                region: region.clone(),
                version: Some(env!("CARGO_PKG_VERSION").to_string()),
                results,
            };
            let t1 = body.sent_at_ms;
            let n = body.results.len();
            let sent = link
                .client
                .post(format!("{to}/api/v1/agent/results"))
                .bearer_auth(&link.token)
                .header("content-type", "application/json")
                .body(serde_json::to_vec(&body).unwrap_or_default())
                .send()
                .await;
            last_push = tokio::time::Instant::now();
            let part = match sent {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let t4 = now_ms();
                    let text = probity_ground::http_client::read_limited(resp, MAX_PUSH_ANSWER)
                        .await
                        .unwrap_or_default();
                    match status {
                        200 | 422 => match serde_json::from_slice::<PushResponse>(&text) {
                            Ok(r) => {
                                let (o, d) = probity_core::quorum::clock_offset(
                                    t1,
                                    r.received_at_ms,
                                    r.replied_at_ms,
                                    t4,
                                );
                                *clock.lock().expect("clock lock") = Clock {
                                    offset_ms: Some(o),
                                    rtt_ms: Some(d),
                                };
                                for rej in &r.rejected {
                                    tracing::error!(id = %rej.id, error = %rej.error, "the server rejected a result; dropping it");
                                }
                                if r.config_version != version {
                                    version = r.config_version.clone();
                                    let _ = reload.try_send(());
                                }
                                Ok(())
                            }
                            Err(e) => Err(format!("unreadable answer ({status}): {e}")),
                        },
                        413 if max_batch > 1 => {
                            max_batch = (max_batch / 2).max(1);
                            tracing::warn!(
                                max_batch,
                                "the server found the batch too big; halving it"
                            );
                            continue 'push;
                        }
                        401 | 403 => {
                            let msg = format!(
                                "the server refused the agent's token ({status}): {}; results stay in the spool",
                                api_message(&text)
                            );
                            tracing::error!("{msg}");
                            let _ = fatal.send(Some(msg));
                            return;
                        }
                        400 => {
                            // The server cannot read what this agent wrote: resending would
                            // never succeed, so drop it, loudly.
                            tracing::error!(results = n, answer = %String::from_utf8_lossy(&text), "the server refused a batch as malformed; dropping it");
                            Ok(())
                        }
                        421 => {
                            // The servers changed: ask which records what, and send again
                            // (what another server took already counts as a duplicate).
                            stale_routes = true;
                            Err(format!("{to}: {}", api_message(&text)))
                        }
                        _ => Err(format!(
                            "{to} answered {status}: {}",
                            String::from_utf8_lossy(&text[..text.len().min(300)])
                        )),
                    }
                }
                Err(e) => {
                    stale_routes = true;
                    Err(format!(
                        "cannot reach {to}: {}",
                        probity_ground::http_client::describe(e)
                    ))
                }
            };
            if let Err(e) = part {
                outcome = Err(e);
                break;
            }
        }
        match outcome {
            Ok(()) => {
                backoff = Duration::from_millis(250);
                if count > 0 {
                    let s = spool.clone();
                    let res = tokio::task::spawn_blocking(move || {
                        s.lock().expect("spool lock").ack(pos, count)
                    })
                    .await;
                    if let Ok(Err(e)) = res {
                        tracing::error!(error = %e, "cannot move the spool's cursor");
                    }
                }
            }
            Err(e) => {
                if stopping {
                    return;
                }
                tracing::warn!(error = %e, backlog, retry_in_ms = backoff.as_millis() as u64, "push failed; results stay spooled");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.changed() => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(addresses: &[&str]) -> serde_json::Value {
        let members: Vec<_> = addresses
            .iter()
            .enumerate()
            .map(|(i, a)| serde_json::json!({"name": format!("s{i}"), "address": a}))
            .collect();
        serde_json::json!({"shared_store": true, "members": members})
    }

    #[test]
    fn the_token_goes_only_where_the_server_s_scheme_allows() {
        let v = view(&["https://a.example/", "http://b.example", "ftp://c.example"]);
        let (members, refused) = members_of("https://probity.example", &v);
        assert_eq!(
            members,
            vec![
                ("s0".to_string(), Some("https://a.example".to_string())),
                ("s1".to_string(), None),
                ("s2".to_string(), None),
            ]
        );
        assert_eq!(
            refused,
            vec![
                ("s1".to_string(), "http://b.example".to_string()),
                ("s2".to_string(), "ftp://c.example".to_string()),
            ]
        );
        // Over http the agent already sends its token in clear; https members are fine.
        let (members, refused) = members_of("http://probity.example", &v);
        assert_eq!(members[1].1.as_deref(), Some("http://b.example"));
        assert_eq!(refused.len(), 1);
        // One server: no members at all.
        let (members, _) = members_of("https://x", &serde_json::json!({"shared_store": false}));
        assert!(members.is_empty());
    }
}
