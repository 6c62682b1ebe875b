//! `probity run`: scheduler, recorder, store and HTTP server wired together, and stopped in
//! the order that loses nothing: stop scheduling, let probes in flight finish, commit
//! everything they measured, then close the server.

use anyhow::Context;
use probity_engine::live::Shared;
use probity_engine::probe::ProbeContext;
use probity_engine::record::Recorder;
use probity_engine::schedule::cluster::singleton;
use probity_engine::store::Store;
use probity_ground::config::{Config, Target};
use probity_publish::api::router;
use probity_publish::state::{AppState, ReloadRequest};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// Signs a checkpoint of the evidence log if it grew since the last one (or none exists).
async fn checkpoint(
    store: &Arc<dyn Store>,
    signer: &probity_core::note::NoteSigner,
    data_dir: &std::path::Path,
) {
    let (store, signer, dir) = (store.clone(), signer.clone(), data_dir.to_path_buf());
    let res = tokio::task::spawn_blocking(move || -> anyhow::Result<Option<u64>> {
        let size = store.evidence_size()?;
        let latest = store.latest_checkpoint()?;
        if latest.as_ref().map(|c| c.size) == Some(size) {
            return Ok(None);
        }
        // Servers sharing a store sign one log: never with a key that did not sign it so far.
        probity_engine::attest::evidence::check_same_key(
            &signer,
            &dir,
            latest.as_ref().map(|c| c.note.as_str()),
        )?;
        let root = store.evidence_root(size)?;
        let note = probity_engine::attest::evidence::sign_checkpoint(&signer, size, root);
        store.add_checkpoint(&probity_engine::store::StoredCheckpoint {
            size,
            root,
            note: note.clone(),
            at_ms: jiff::Timestamp::now().as_millisecond(),
        })?;
        probity_engine::attest::evidence::remember_signed(&dir, &note)?;
        Ok(Some(size))
    })
    .await;
    match res {
        Ok(Ok(Some(size))) => tracing::debug!(size, "signed an evidence checkpoint"),
        Ok(Ok(None)) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "could not sign an evidence checkpoint"),
        Err(e) => tracing::error!(error = %e, "checkpoint task failed"),
    }
}

/// How long, after a stop is asked, the recorder goes on retrying writes the store refuses
/// (a full disk) before it gives them up and says so: well inside the units' 60 s stop
/// timeout.
const STOP_WRITE_BOUND: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs until `shutdown` turns true. `on_ready` gets the address the server listens on.
pub async fn run(
    config: Config,
    shutdown: watch::Receiver<bool>,
    on_ready: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    run_on(config, None, shutdown, on_ready).await
}

/// [`run`], serving on `listener` when given (already bound) instead of binding
/// `[server].listen`.
pub async fn run_on(
    config: Config,
    listener: Option<std::net::TcpListener>,
    mut shutdown: watch::Receiver<bool>,
    on_ready: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    let data_dir = config.server.data_dir.clone();
    let _lock = probity_ground::process::lock_data_dir(&data_dir)?;
    match probity_ground::process::raise_open_files_limit() {
        Ok((before, after)) if after > before => {
            tracing::info!(
                before,
                after,
                "raised the open-files limit to the hard limit"
            )
        }
        Ok((_, after)) => tracing::debug!(limit = after, "open-files limit"),
        Err(e) => tracing::warn!(error = %e, "cannot read or raise the open-files limit"),
    }
    let store = {
        let (store, data_dir) = (config.store.clone(), config.server.data_dir.clone());
        let opening = opening(&config);
        tokio::task::spawn_blocking(move || {
            probity_engine::store::open_for_server(&store, &data_dir).context(opening)
        })
        .await??
    };
    let signer = {
        let (dir, origin) = (
            config.server.data_dir.clone(),
            config.evidence.origin.clone(),
        );
        tokio::task::spawn_blocking(move || {
            probity_engine::attest::evidence::load_or_create_key(&dir, &origin)
        })
        .await??
    };
    {
        let (store, dir) = (store.clone(), config.server.data_dir.clone());
        let signer_check = signer.clone();
        tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            // A damaged database file is found before anything is written to it.
            store.quick_check()?;
            if store.shared() {
                let latest = store.latest_checkpoint()?;
                probity_engine::attest::evidence::check_same_key(
                    &signer_check,
                    &dir,
                    latest.as_ref().map(|c| c.note.as_str()),
                )?;
            }
            let size = store.evidence_size()?;
            probity_engine::attest::evidence::check_not_forked(&dir, size, |n| {
                Ok(store.evidence_root(n)?)
            })?;
            // What a previous run measured while the database was away goes in first, so
            // that the recorder resumes the incidents it opened.
            let replayed = probity_engine::record::spool::replay(&dir, store.as_ref())?;
            if replayed > 0 {
                tracing::info!(
                    batches = replayed,
                    "wrote what the spool kept from the last run"
                );
            }
            Ok(())
        })
        .await??;
    }
    let shared = Arc::new(Shared::default());
    // Dashboard sign-ins outlive a reload, as connections do.
    let sessions = Arc::new(probity_publish::state::Sessions::default());
    // So do the trackers of targets a reload leaves unchanged.
    let handoff: probity_engine::record::Handoff = Default::default();
    let listener = match listener {
        Some(l) => l,
        None => std::net::TcpListener::bind(&config.server.listen)
            .with_context(|| format!("listening on {}", config.server.listen))?,
    };
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    // Among the servers sharing the store (on SQLite, alone): refused here when another
    // live server has this one's name.
    let me = probity_engine::schedule::cluster::Me::new(
        &config.server.name,
        &config.server.advertise.clone().unwrap_or_else(|| {
            // Listening on every address: others reach it by the host's name.
            if addr.ip().is_unspecified() {
                format!(
                    "http://{}:{}",
                    probity_ground::config::host_name(),
                    addr.port()
                )
            } else {
                format!("http://{addr}")
            }
        }),
    );
    let mut membership =
        probity_engine::schedule::cluster::join(store.clone(), me.clone(), shared.clone())
            .await
            .context("joining the servers that share the store")?;
    let mut members: Vec<String> = membership.names.borrow().clone();
    let mut owned = owned_by(&store, &config, &members, &me.name);
    // Joining servers that run: what this one takes, it takes from them; it waits until
    // they saw it join and stopped probing those targets.
    let mut hold: std::collections::HashMap<String, tokio::time::Instant> = match &owned {
        Some(o) if members.len() > 1 => {
            let until =
                tokio::time::Instant::now() + probity_engine::schedule::cluster::HANDOVER_GRACE;
            o.iter().map(|t| (t.clone(), until)).collect()
        }
        _ => Default::default(),
    };
    // Reloads: `POST /api/v1/reload` and SIGHUP both ask here; the file is checked first,
    // and only a configuration that loads replaces the running one.
    let (reload_tx, mut reload_rx) = mpsc::channel::<ReloadRequest>(4);
    #[cfg(unix)]
    {
        let tx = reload_tx.clone();
        tokio::spawn(async move {
            let Ok(mut hup) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            else {
                return;
            };
            while hup.recv().await.is_some() {
                let (reply, answer) = tokio::sync::oneshot::channel();
                if tx.send(ReloadRequest { reply }).await.is_err() {
                    return;
                }
                match answer.await {
                    Ok(Ok(summary)) => tracing::info!(%summary, "SIGHUP: configuration reloaded"),
                    Ok(Err(problems)) => tracing::error!(
                        "SIGHUP: the configuration does not load; the running one stays:\n{problems}"
                    ),
                    Err(_) => return,
                }
            }
        });
    }
    // One HTTP server for the whole run: it hands each request to the router of the
    // generation that runs now, so a reload never closes a connection.
    let current: Current = Arc::new(std::sync::RwLock::new(None));
    let (server_stop_tx, server_stop) = watch::channel(false);
    let server = {
        let front = axum::Router::new().fallback_service(CurrentRouter(current.clone()));
        let listener = tokio::net::TcpListener::from_std(listener.try_clone()?)?;
        let limits = probity_publish::serve::Limits {
            max_connections: config.server.max_connections.unwrap_or_else(|| {
                probity_publish::serve::default_max_connections(
                    probity_ground::process::open_files_limit().unwrap_or(1024),
                )
            }),
            idle_timeout: config
                .server
                .idle_timeout
                .as_std()
                .max(std::time::Duration::from_millis(100)),
        };
        tracing::debug!(
            max_connections = limits.max_connections,
            "inbound connection limit"
        );
        tokio::spawn(probity_publish::serve::serve(
            listener,
            front,
            limits,
            server_stop,
            std::time::Duration::from_secs(10),
        ))
    };
    let mut on_ready = Some(on_ready);
    // One copy of the configuration, shared by everything that reads it (at 10,000
    // targets each copy is about 10 MB).
    let mut config = Arc::new(config);
    loop {
        let (stop_tx, stop_rx) = watch::channel(false);
        let ready = on_ready.take();
        let mut running = std::pin::pin!(generation(
            config.clone(),
            addr,
            current.clone(),
            store.clone(),
            signer.clone(),
            shared.clone(),
            sessions.clone(),
            handoff.clone(),
            Placement {
                me: me.clone(),
                owned: owned.clone(),
                hold: std::mem::take(&mut hold),
            },
            stop_rx,
            reload_tx.clone(),
            move |a| {
                if let Some(f) = ready {
                    f(a)
                }
            },
        ));
        // Until this generation ends: stop it for a shutdown, or for a reload whose file
        // loads (a file that does not is refused and changes nothing).
        let mut next = None;
        let mut stopping = false;
        loop {
            tokio::select! {
                res = &mut running => {
                    res?;
                    break;
                }
                _ = shutdown.wait_for(|s| *s), if !stopping => {
                    stopping = true;
                    let _ = stop_tx.send(true);
                }
                Ok(()) = membership.names.changed(), if !stopping => {
                    let before = std::mem::replace(&mut members, membership.names.borrow().clone());
                    let now = owned_by(&store, &config, &members, &me.name);
                    if now != owned {
                        // A target taken from a server that still runs waits until that
                        // server saw the change and stopped probing it; one whose server
                        // is gone is probed at its next slot.
                        let until = tokio::time::Instant::now()
                            + probity_engine::schedule::cluster::HANDOVER_GRACE;
                        if let (Some(old), Some(new)) = (&owned, &now) {
                            hold = new
                                .difference(old)
                                .filter(|t| {
                                    probity_core::cluster::owner(t, &before)
                                        .is_some_and(|o| members.iter().any(|m| m == o))
                                })
                                .map(|t| (t.clone(), until))
                                .collect();
                            tracing::info!(
                                gained = new.difference(old).count(),
                                held = hold.len(),
                                lost = old.difference(new).count(),
                                "the servers changed: taking this server's new share of the targets"
                            );
                        }
                        owned = now;
                        next = Some(config.clone());
                        stopping = true;
                        let _ = stop_tx.send(true);
                    }
                }
                Some(req) = reload_rx.recv(), if !stopping => match check_reload(&config) {
                    Ok((new, summary)) => {
                        let _ = req.reply.send(Ok(summary));
                        next = Some(Arc::new(new));
                        stopping = true;
                        let _ = stop_tx.send(true);
                    }
                    Err(problems) => {
                        let _ = req.reply.send(Err(problems));
                    }
                },
            }
        }
        match next {
            Some(c) if !*shutdown.borrow() => {
                tracing::info!(%addr, targets = c.targets.len(), "running the new configuration");
                owned = owned_by(&store, &c, &members, &me.name);
                config = c;
            }
            _ => break,
        }
    }
    // The others take this server's targets and jobs now rather than after the timeouts.
    membership.leave(store.clone(), &me).await;
    // Last, the server: everything measured is committed before it stops answering.
    let _ = server_stop_tx.send(true);
    server.await.context("server")?;
    tracing::info!("stopped; everything measured is stored");
    Ok(())
}

/// The targets this server probes: all of them on a store it does not share, else its
/// share among the live servers (`None`: all).
fn owned_by(
    store: &Arc<dyn Store>,
    config: &Config,
    members: &[String],
    me: &str,
) -> Option<Arc<std::collections::BTreeSet<String>>> {
    store.shared().then(|| {
        Arc::new(probity_core::cluster::owned(
            config.targets.iter().map(|t| t.name.as_str()),
            members,
            me,
        ))
    })
}

/// Where a generation stands among the servers: who this server is, the targets it probes
/// (`None`: all) and those it waits to probe (just taken over).
struct Placement {
    me: probity_engine::schedule::cluster::Me,
    owned: Option<Arc<std::collections::BTreeSet<String>>>,
    hold: std::collections::HashMap<String, tokio::time::Instant>,
}

/// The router of the generation that runs now (none before the first starts).
type Current = Arc<std::sync::RwLock<Option<axum::Router>>>;

/// Serves each request with the current generation's router.
#[derive(Clone)]
struct CurrentRouter(Current);

impl tower_service::Service<axum::extract::Request> for CurrentRouter {
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: axum::extract::Request) -> Self::Future {
        let router = self.0.read().expect("router lock").clone();
        Box::pin(async move {
            match router {
                Some(mut r) => tower_service::Service::call(&mut r, req).await,
                None => Ok(axum::response::IntoResponse::into_response((
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    "starting\n",
                ))),
            }
        })
    }
}

/// Loads the running configuration's file again; what cannot change while running is a
/// problem too.
fn check_reload(running: &Config) -> Result<(Config, String), String> {
    let new = probity_ground::config::load(&running.path).map_err(|e| e.to_string())?;
    if new.server.data_dir != running.server.data_dir {
        return Err(format!(
            "{}: [server] data_dir cannot change while probity runs (from {} to {}); restart to move it",
            running.path.display(),
            running.server.data_dir.display(),
            new.server.data_dir.display()
        ));
    }
    if new.store != running.store {
        return Err(format!(
            "{}: [store] cannot change while probity runs (it is {}); restart to move it",
            running.path.display(),
            probity_engine::store::shown(&running.store, &running.server.data_dir)
        ));
    }
    if new.evidence.origin != running.evidence.origin {
        return Err(format!(
            "{}: [evidence] origin cannot change while probity runs; the log's key signs for {:?}",
            running.path.display(),
            running.evidence.origin
        ));
    }
    let mut summary = new.summary();
    if new.server.listen != running.server.listen {
        summary.push_str("; [server] listen takes effect on restart");
    }
    Ok((new, summary))
}

/// One configuration's run: every task started from `config`, until `shutdown`. The store,
/// the signing key, live state and the listening socket outlive it, so a reload keeps
/// history, open incidents (the recorder resumes them from the store) and connections
/// queued meanwhile.
#[allow(clippy::too_many_arguments)]
async fn generation(
    config: Arc<Config>,
    addr: SocketAddr,
    current: Current,
    store: Arc<dyn Store>,
    signer: probity_core::note::NoteSigner,
    shared: Arc<Shared>,
    sessions: Arc<probity_publish::state::Sessions>,
    handoff: probity_engine::record::Handoff,
    placement: Placement,
    shutdown: watch::Receiver<bool>,
    reload: mpsc::Sender<ReloadRequest>,
    on_ready: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    let mut shutdown = shutdown;
    let targets: Vec<Arc<Target>> = config.targets.clone();
    // What this server records: its share when it shares the store (the API still answers
    // for every target).
    let mine: Vec<Arc<Target>> = match &placement.owned {
        Some(owned) => targets
            .iter()
            .filter(|t| owned.contains(&t.name))
            .cloned()
            .collect(),
        None => targets.clone(),
    };
    let me = placement.me.clone();
    let alerting = probity_engine::alert::Alerting::from_config(&config);
    // Agents' pushes reach the recorder through their own channel, answered after commit.
    let (push_tx, push_rx) = mpsc::channel(256);
    let source_push_tx = push_tx.clone();
    // OpenTelemetry, when `[telemetry]` names a collector: built per configuration, flushed
    // when it stops.
    let telemetry = match probity_engine::telemetry::Telemetry::start(&config.telemetry) {
        Ok(t) => t.map(Arc::new),
        Err(e) => {
            tracing::error!(error = %e, "OpenTelemetry export is off: its exporter did not start");
            None
        }
    };
    let carried = handoff.lock().expect("handoff lock").take();
    let recorder = Recorder::carrying(store.clone(), shared.clone(), &mine, carried)?
        .with_handoff(handoff)
        .with_alerting(alerting.clone())
        .with_pushes(push_rx)
        .with_telemetry(telemetry.clone())
        .with_stop(shutdown.clone(), STOP_WRITE_BOUND);
    // On a database, an outage is not a full disk: batches wait on local disk meanwhile.
    let recorder = if store.shared() {
        recorder.with_spool(probity_engine::record::spool::Spool::open(
            &config.server.data_dir,
        )?)
    } else {
        recorder
    };
    let (tx, rx) = mpsc::channel(16_384);
    // Heartbeat targets are pushed to, not scheduled: their watchdog feeds the recorder too.
    let pushed: Vec<Arc<Target>> = mine
        .iter()
        .filter(|t| matches!(t.spec, probity_engine::probe::ProbeSpec::Heartbeat(_)))
        .cloned()
        .collect();
    // The server's own vantage probes what `[[vantage]] name = "local"` gives it (every
    // probed target when it is not declared).
    let local: Vec<String> = config
        .targets_for_vantage(probity_ground::vantage::LOCAL)
        .iter()
        .map(|t| t.name.clone())
        .collect();
    let scheduled: Vec<Arc<Target>> = mine
        .iter()
        .filter(|t| local.contains(&t.name))
        .cloned()
        .collect();
    shared.cluster.write().expect("cluster lock").owned = mine.len() as u64;
    let (heartbeats, heartbeat_task) =
        probity_engine::schedule::heartbeat::start(pushed, &store, tx.clone(), shutdown.clone());
    let recorder = tokio::spawn(recorder.run(rx));
    // With controls, the scheduler's results pass through the gate that marks them
    // unmeasured when the server itself cannot reach out.
    let local_controls = config.controls_of(probity_ground::vantage::LOCAL);
    let (scheduler_tx, gate_task) = if local_controls.is_empty() {
        (tx, None)
    } else {
        let (gtx, grx) = mpsc::channel(16_384);
        let controls: Vec<Arc<Target>> = targets
            .iter()
            .filter(|t| local_controls.contains(&t.name))
            .cloned()
            .collect();
        let task = tokio::spawn(probity_engine::schedule::vantage::gate(
            grx,
            tx,
            local_controls,
            probity_engine::schedule::vantage::hold_max(&controls),
            shared.local_controls_ok.clone(),
        ));
        (gtx, Some(task))
    };

    let app = router(AppState {
        shared: shared.clone(),
        store: store.clone(),
        targets: Arc::new(targets.clone()),
        feeds: Arc::new(config.feeds.clone()),
        reconcile: config.reconcile.clone(),
        config: config.clone(),
        heartbeats,
        pushes: Some(push_tx),
        reload: Some(reload),
        telemetry: telemetry.clone(),
        sessions,
        signer: signer.clone(),
        recorded: placement.owned.clone(),
        status_uptime: Default::default(),
    });
    // From now on requests reach this configuration.
    *current.write().expect("router lock") = Some(app);

    let pruner = {
        let (store, shared) = (store.clone(), shared.clone());
        let (raw, roll) = (config.server.raw_retention, config.server.rollup_retention);
        let compact_after = config.server.compact_after;
        tokio::spawn(singleton(
            store.clone(),
            me.clone(),
            "prune",
            shutdown.clone(),
            move |mut stop| {
                let (store, shared) = (store.clone(), shared.clone());
                async move {
                    loop {
                        let now = jiff::Timestamp::now().as_millisecond();
                        let s = store.clone();
                        let res = tokio::task::spawn_blocking(move || {
                            let pruned = s
                                .prune(now - raw.as_millis() as i64, now - roll.as_millis() as i64);
                            // Then what is past the head window into chunks, an hour of
                            // leaves a pass (a few targets a transaction).
                            match s.compact(now - compact_after.as_millis() as i64) {
                                Ok(c) if c.results > 0 => tracing::info!(
                                    results = c.results,
                                    chunks = c.chunks,
                                    leaves = c.leaves,
                                    "compacted results"
                                ),
                                Ok(_) => {}
                                Err(e) => tracing::warn!(error = %e, "compacting results failed"),
                            }
                            // The day's size, after pruning: what the store takes to hold
                            // its retention (`store stats`, /metrics).
                            if let Err(e) = s.disk_bytes().and_then(|b| s.note_size(now, b)) {
                                tracing::warn!(error = %e, "noting the store's size failed");
                            }
                            pruned
                        })
                        .await;
                        match res {
                            Ok(Ok(p)) if p != probity_engine::store::Pruned::default() => {
                                if p.rollups > 0 {
                                    // Minutes the reconciliation kept may be gone.
                                    shared.touched.reset();
                                }
                                tracing::info!(
                                    results = p.results,
                                    rollups = p.rollups,
                                    feed_documents = p.feed_documents,
                                    feed_polls = p.feed_polls,
                                    statements = p.statements,
                                    "pruned data past retention"
                                )
                            }
                            Ok(Err(e)) => tracing::warn!(error = %e, "pruning failed"),
                            _ => {}
                        }
                        tokio::select! {
                            _ = tokio::time::sleep(std::time::Duration::from_secs(3600)) => {}
                            _ = stop.wait_for(|s| *s) => break,
                        }
                    }
                }
            },
        ))
    };

    let checkpointer = {
        let store = store.clone();
        let signer = signer.clone();
        let dir = config.server.data_dir.clone();
        let every = config.evidence.checkpoint_interval.as_std();
        let peers = config.witness.peers.clone();
        let client = probity_ground::http_client::client(
            probity_ground::http_client::Purpose::Witness,
            Some(std::time::Duration::from_secs(10)),
        )?;
        // Outage statements go out after each checkpoint, which proves their records.
        let federation = config.federation.clone();
        let federation_client = probity_ground::http_client::client(
            probity_ground::http_client::Purpose::Federation,
            Some(std::time::Duration::from_secs(10)),
        )?;
        let targets = Arc::new(targets.clone());
        tokio::spawn(singleton(
            store.clone(),
            me.clone(),
            "checkpoint",
            shutdown.clone(),
            move |mut stop| {
                let (store, signer, dir, peers, client) = (
                    store.clone(),
                    signer.clone(),
                    dir.clone(),
                    peers.clone(),
                    client.clone(),
                );
                let (federation, targets, federation_client) = (
                    federation.clone(),
                    targets.clone(),
                    federation_client.clone(),
                );
                async move {
                    loop {
                        checkpoint(&store, &signer, &dir).await;
                        if !peers.is_empty() {
                            probity_engine::attest::cosign::ask_all(&store, &peers, &client).await;
                        }
                        probity_engine::attest::federation::share(
                            &store,
                            &signer,
                            &federation,
                            &targets,
                            &federation_client,
                        )
                        .await;
                        tokio::select! {
                            _ = tokio::time::sleep(every) => {}
                            _ = stop.wait_for(|s| *s) => break,
                        }
                    }
                }
            },
        ))
    };

    // Targets other servers record are shown as the store has them.
    let follower = placement.owned.as_ref().map(|owned| {
        let others = targets
            .iter()
            .filter(|t| !owned.contains(&t.name))
            .map(|t| t.name.clone())
            .collect();
        tokio::spawn(probity_engine::schedule::cluster::follow(
            store.clone(),
            shared.clone(),
            others,
            shutdown.clone(),
        ))
    });

    let reconciler = {
        let (store, shared, targets, cfg) = (
            store.clone(),
            shared.clone(),
            targets.clone(),
            config.reconcile.clone(),
        );
        let slos = Arc::new(config.slos.clone());
        let mut stop = shutdown.clone();
        // What each target measured, kept between passes: a pass reads only the minutes
        // written since the last one and those that entered the window.
        let cache = Arc::new(std::sync::Mutex::new(
            probity_engine::account::measured::MeasuredCache::default(),
        ));
        // Each SLO's minutes, kept the same way.
        let slo_cache = Arc::new(std::sync::Mutex::new(
            probity_engine::account::slo::SloCache::default(),
        ));
        tokio::spawn(async move {
            loop {
                if store.shared() {
                    // Other servers write minutes this one is not told of: read them all.
                    shared.touched.reset();
                }
                // The marks are taken before either pass reads: a write after this is
                // marked for the next pass.
                let touched = Arc::new(shared.touched.take());
                let (store2, slos2, slo_cache, touched2) = (
                    store.clone(),
                    slos.clone(),
                    slo_cache.clone(),
                    touched.clone(),
                );
                let slo_res = tokio::task::spawn_blocking(move || {
                    let now = jiff::Timestamp::now().as_millisecond();
                    slo_cache.lock().expect("slo cache lock").statuses(
                        store2.as_ref(),
                        &slos2,
                        now,
                        &touched2,
                    )
                })
                .await;
                match slo_res {
                    Ok(Ok(v)) => *shared.slos.write().expect("slos lock") = v,
                    Ok(Err(e)) => tracing::warn!(error = %e, "SLO evaluation failed"),
                    Err(e) => tracing::warn!(error = %e, "SLO task failed"),
                }
                let (store, targets, cfg) = (store.clone(), targets.clone(), cfg.clone());
                let cache = cache.clone();
                let res = tokio::task::spawn_blocking(move || {
                    let now = jiff::Timestamp::now().as_millisecond();
                    let window = (now - 30 * 86_400_000, now);
                    let mut cache = cache.lock().expect("measured cache lock");
                    let inputs = probity_engine::account::reconcile::gather_cached(
                        store.as_ref(),
                        &targets,
                        &cfg,
                        window,
                        now,
                        &mut cache,
                        &touched,
                    )?;
                    let r = inputs.reconcile();
                    let unack: Vec<(i64, String)> = inputs
                        .observed
                        .iter()
                        .zip(&r.outcomes)
                        .filter(|(_, o)| {
                            o.verdict == probity_core::reconcile::Verdict::Unacknowledged
                        })
                        .map(|(o, _)| (o.id, o.target.clone()))
                        .collect();
                    Ok::<_, probity_engine::store::StoreError>((
                        inputs
                            .scorecards(&r, None)
                            .into_iter()
                            .map(|(c, _)| c)
                            .collect(),
                        unack,
                    ))
                })
                .await;
                match res {
                    Ok(Ok((cards, unack))) => {
                        *shared.scorecards.write().expect("scorecards lock") = cards;
                        *shared.unacknowledged.write().expect("unacknowledged lock") = unack;
                    }
                    Ok(Err(e)) => tracing::warn!(error = %e, "reconciliation failed"),
                    Err(e) => tracing::warn!(error = %e, "reconciliation task failed"),
                }
                tokio::select! {
                    _ = tokio::time::sleep(std::time::Duration::from_secs(5)) => {}
                    _ = stop.wait_for(|s| *s) => break,
                }
            }
        })
    };

    // Alerts in the outbox (from this run or one before it) are delivered from the start.
    // The outbox is delivered by one server at a time (every alert once per idempotency
    // key), as are escalations and the status page's automatic incidents.
    let deliverer = alerting.clone().map(|a| {
        let s = store.clone();
        tokio::spawn(singleton(
            store.clone(),
            me.clone(),
            "alerts",
            shutdown.clone(),
            move |stop| probity_engine::alert::run(s.clone(), a.clone(), stop),
        ))
    });
    let status_auto = config.status.auto_incidents.then(|| {
        let (s, c) = (store.clone(), config.clone());
        tokio::spawn(singleton(
            store.clone(),
            me.clone(),
            "status-auto",
            shutdown.clone(),
            move |stop| probity_publish::status_auto::run_auto(s.clone(), c.clone(), stop),
        ))
    });
    let escalator = alerting.clone().map(|a| {
        let (s, t, sh) = (store.clone(), targets.clone(), shared.clone());
        tokio::spawn(singleton(
            store.clone(),
            me.clone(),
            "escalate",
            shutdown.clone(),
            move |stop| {
                probity_engine::alert::escalate(s.clone(), a.clone(), t.clone(), sh.clone(), stop)
            },
        ))
    });

    // `[[source]]`s: results measured by other tools, through the recorder's push path.
    let source_reader = (!config.sources.is_empty()).then(|| {
        tokio::spawn(probity_engine::schedule::sources::run(
            config.sources.clone(),
            Arc::new(targets.clone()),
            source_push_tx.clone(),
            shutdown.clone(),
        ))
    });
    let feed_poller = (!config.feeds.is_empty()).then(|| {
        let (f, s, l) = (config.feeds.clone(), store.clone(), shared.feeds.clone());
        tokio::spawn(singleton(
            store.clone(),
            me.clone(),
            "feeds",
            shutdown.clone(),
            move |stop| probity_engine::feeds::poll::run(f.clone(), s.clone(), l.clone(), stop),
        ))
    });

    tracing::info!(%addr, targets = targets.len(), feeds = config.feeds.len(), "probity is running");
    on_ready(addr);
    // Object stores' canaries are checked against the manifest kept so far.
    let manifest = store
        .canaries()
        .map_err(|e| anyhow::anyhow!("reading the canaries' manifest: {e}"))?;
    let ctx = Arc::new(
        ProbeContext::for_vantage(probity_ground::vantage::LOCAL).with_storage(
            probity_engine::probe::Storage::keeping(
                manifest,
                probity_engine::probe::object_store::secret_of(&signer),
            ),
        ),
    );
    probity_engine::schedule::run_holding(
        scheduled,
        &placement.hold,
        probity_engine::schedule::prober(ctx),
        scheduler_tx,
        shared,
        config.server.max_concurrency,
        shutdown.clone(),
    )
    .await;
    // The scheduler has returned: every probe it started has handed in its result and the
    // channel is closed, so the recorder drains and commits it all before returning.
    let _ = heartbeat_task.await;
    if let Some(s) = source_reader {
        // A read in flight finishes and is recorded; the readers stop before their next.
        let _ = s.await;
    }
    drop(source_push_tx);
    if let Some(g) = gate_task {
        let _ = g.await;
    }
    let unstored = recorder.await.context("recorder")?;
    if let Some(p) = feed_poller {
        // A poll in flight finishes and is stored; the pollers stop before their next one.
        let _ = shutdown.wait_for(|s| *s).await;
        let _ = p.await;
    }
    // A last checkpoint covers everything the recorder committed.
    let _ = checkpointer.await;
    checkpoint(&store, &signer, &config.server.data_dir).await;
    let _ = shutdown.wait_for(|s| *s).await;
    if let Some(a) = status_auto {
        let _ = a.await;
    }
    if let Some(e) = escalator {
        let _ = e.await;
    }
    if let Some(d) = deliverer {
        // An attempt in flight is finished and recorded; what is left waits in the outbox.
        let _ = d.await;
    }
    let _ = pruner.await;
    reconciler.abort();
    if let Some(f) = follower {
        f.abort();
    }
    if let Some(t) = telemetry {
        // What the batch exporters hold is sent before the next configuration starts.
        let _ = tokio::task::spawn_blocking(move || t.shutdown()).await;
    }
    if !unstored.is_empty() {
        anyhow::bail!(
            "stopped with {} results ({} more from agents, which keep and resend them) and {} incident changes NOT stored: the store refused every write for {} s after the stop was asked ({})",
            unstored.results,
            unstored.pushed_results,
            unstored.incident_changes,
            STOP_WRITE_BOUND.as_secs(),
            unstored.last_error.as_deref().unwrap_or("no error text")
        );
    }
    Ok(())
}

/// Opens (creating if needed) the store the configuration names: `[store] url`'s
/// PostgreSQL database, or SQLite under `data_dir`.
pub fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    probity_engine::store::open(&config.store, &config.server.data_dir)
        .with_context(|| opening(config))
}

/// What an error opening the store is about: the store, as it may be shown.
fn opening(config: &Config) -> String {
    format!(
        "opening the store ({})",
        probity_engine::store::shown(&config.store, &config.server.data_dir)
    )
}
