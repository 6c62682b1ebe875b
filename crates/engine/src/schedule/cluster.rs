//! Servers that share one store: each renews a heartbeat, sees who else is live, probes the
//! targets [`probity_core::cluster`] gives it, and runs a job that must run once (signing
//! checkpoints, polling feeds, delivering alerts…) only while it holds that job's lease.
//!
//! The bounds, documented in docs/scaling.md: a server that dies is seen gone after
//! [`MEMBER_TTL`], and its targets are probed by the others from their next slot after
//! that; a job's lease lapses [`LEASE_TTL`] after its holder's last renewal. A target that
//! changes hands is first probed by its new server [`HANDOVER_GRACE`] after that server
//! saw the change, by when the old one (which sees it within a heartbeat) has stopped.
//!
//! On a SQLite store the server is the only member and holds every lease: the same code
//! runs, and everything is this server's.

use crate::live::Shared;
use crate::store::{Member, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How often a server renews its heartbeat.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// A member whose heartbeat is older than this is gone.
pub const MEMBER_TTL: Duration = Duration::from_secs(5);
/// How long a job's lease lasts unless renewed (renewed every quarter of it).
pub const LEASE_TTL: Duration = Duration::from_secs(10);
/// How long a server waits before probing a target it has just been given.
pub const HANDOVER_GRACE: Duration = Duration::from_secs(2);

/// This server, as it introduces itself.
#[derive(Clone, Debug)]
pub struct Me {
    pub name: String,
    /// Random per process.
    pub instance: String,
    pub address: String,
    pub started_at_ms: i64,
}

impl Me {
    pub fn new(name: &str, address: &str) -> Me {
        let mut r = [0u8; 8];
        // Without randomness the time makes it unique enough among one name's processes.
        if getrandom::fill(&mut r).is_err() {
            r = (jiff::Timestamp::now().as_nanosecond() as u64).to_be_bytes();
        }
        Me {
            name: name.to_string(),
            instance: hex::encode(r),
            address: address.to_string(),
            started_at_ms: jiff::Timestamp::now().as_millisecond(),
        }
    }

    fn member(&self, targets: u64) -> Member {
        Member {
            name: self.name.clone(),
            instance: self.instance.clone(),
            address: self.address.clone(),
            started_at_ms: self.started_at_ms,
            heartbeat_at_ms: 0,
            targets,
        }
    }
}

/// A server's membership: the live members' names (sent when they change), and the
/// heartbeat loop that keeps it.
pub struct Membership {
    pub names: watch::Receiver<Vec<String>>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// Runs `f` on the store off the async threads (a task that fails is an error too).
async fn on_store<T: Send + 'static>(
    store: &Arc<dyn Store>,
    what: &'static str,
    f: impl FnOnce(&dyn Store) -> crate::store::StoreResult<T> + Send + 'static,
) -> crate::store::StoreResult<T> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || f(store.as_ref()))
        .await
        .unwrap_or_else(|e| {
            Err(crate::store::StoreError::Config(format!(
                "{what} task: {e}"
            )))
        })
}

async fn beat(store: &Arc<dyn Store>, me: &Member) -> crate::store::StoreResult<Vec<Member>> {
    let me = me.clone();
    on_store(store, "heartbeat", move |s| {
        s.heartbeat(&me, MEMBER_TTL.as_millis() as i64)
    })
    .await
}

fn names(members: &[Member]) -> Vec<String> {
    members.iter().map(|m| m.name.clone()).collect()
}

/// Joins the servers of `store` as `me`: the first heartbeat is made here, so a name held
/// by another live server is refused before anything runs (a process of the same name
/// killed moments ago still looks live: its heartbeat is waited out first).
pub async fn join(
    store: Arc<dyn Store>,
    me: Me,
    shared: Arc<Shared>,
) -> anyhow::Result<Membership> {
    let deadline = tokio::time::Instant::now() + MEMBER_TTL + HEARTBEAT;
    let members = loop {
        match beat(&store, &me.member(0)).await {
            Ok(m) => break m,
            Err(crate::store::StoreError::Config(msg))
                if tokio::time::Instant::now() < deadline =>
            {
                tracing::info!(%msg, "waiting for the heartbeat under this name to lapse");
                tokio::time::sleep(HEARTBEAT).await;
            }
            Err(e) => return Err(e.into()),
        }
    };
    {
        let mut c = shared.cluster.write().expect("cluster lock");
        c.me = me.name.clone();
        c.members = members.clone();
        c.last_heartbeat_ms = Some(jiff::Timestamp::now().as_millisecond());
    }
    let (names_tx, names_rx) = watch::channel(names(&members));
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        // After heartbeats failed (the database was away), every server's heartbeat is
        // old at once: until MEMBER_TTL after the first that answers again, a member
        // missing from the list is kept (it may be renewing just after this one).
        let mut failed = false;
        let mut doubt_until = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(HEARTBEAT) => {}
                _ = stopped.wait_for(|s| *s) => break,
            }
            let owned = shared.cluster.read().expect("cluster lock").owned;
            match beat(&store, &me.member(owned)).await {
                Ok(members) => {
                    if std::mem::take(&mut failed) {
                        doubt_until = tokio::time::Instant::now() + MEMBER_TTL;
                    }
                    let mut now = names(&members);
                    if tokio::time::Instant::now() < doubt_until {
                        let kept = names_tx.borrow().clone();
                        now.extend(kept);
                        now.sort();
                        now.dedup();
                    }
                    names_tx.send_if_modified(|n| {
                        let changed = *n != now;
                        if changed {
                            tracing::info!(members = ?now, "the servers sharing the store changed");
                            *n = now;
                        }
                        changed
                    });
                    let mut c = shared.cluster.write().expect("cluster lock");
                    c.members = members;
                    c.last_heartbeat_ms = Some(jiff::Timestamp::now().as_millisecond());
                    c.heartbeat_error = None;
                }
                // The store is out of reach: keep probing what this server has (the
                // others, if they reach it, take over these targets after MEMBER_TTL).
                Err(e) => {
                    failed = true;
                    tracing::warn!(error = %e, "heartbeat failed; probing on with the last known members");
                    shared
                        .cluster
                        .write()
                        .expect("cluster lock")
                        .heartbeat_error = Some(e.to_string());
                }
            }
        }
    });
    Ok(Membership {
        names: names_rx,
        stop,
        task,
    })
}

impl Membership {
    /// Stops the heartbeat and leaves, so that the others take this server's targets and
    /// jobs at once instead of after the timeouts.
    pub async fn leave(self, store: Arc<dyn Store>, me: &Me) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        let (name, instance) = (me.name.clone(), me.instance.clone());
        if let Err(e) = on_store(&store, "leave", move |s| s.leave(&name, &instance)).await {
            tracing::warn!(error = %e, "could not leave the servers' list; the others wait for the heartbeat to lapse")
        }
    }
}

async fn take_lease(
    store: &Arc<dyn Store>,
    me: &Me,
    job: &'static str,
) -> crate::store::StoreResult<Option<i64>> {
    let me = me.clone();
    on_store(store, "lease", move |s| {
        s.lease(job, &me.name, &me.instance, LEASE_TTL.as_millis() as i64)
    })
    .await
}

/// Runs the job `start` makes (given a stop signal) only while this server holds `job`'s
/// lease, until `shutdown`: it waits for the lease, starts the job, renews the lease every
/// quarter of [`LEASE_TTL`], and stops the job (waiting for it to finish what it does) when
/// the lease is lost or cannot be renewed for half of it, well before another server can
/// take it. The lease is not given up here (a reload starts the job again under the same
/// lease); leaving the servers' list gives up this server's leases.
pub async fn singleton<F, Fut>(
    store: Arc<dyn Store>,
    me: Me,
    job: &'static str,
    mut shutdown: watch::Receiver<bool>,
    start: F,
) where
    F: Fn(watch::Receiver<bool>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    loop {
        if *shutdown.borrow() {
            return;
        }
        match take_lease(&store, &me, job).await {
            Ok(Some(epoch)) => {
                tracing::info!(job, epoch, "holding the lease: this server runs the job");
                let (tx, rx) = watch::channel(false);
                let mut task = tokio::spawn(start(rx));
                let mut renewed = tokio::time::Instant::now();
                let mut finished = false;
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(LEASE_TTL / 4) => {}
                        _ = shutdown.wait_for(|s| *s) => break,
                        _ = &mut task => { finished = true; break }
                    }
                    match take_lease(&store, &me, job).await {
                        Ok(Some(_)) => renewed = tokio::time::Instant::now(),
                        Ok(None) => {
                            tracing::warn!(job, "lost the lease: another server runs the job now");
                            break;
                        }
                        Err(e) if renewed.elapsed() >= LEASE_TTL / 2 => {
                            tracing::warn!(job, error = %e, "cannot renew the lease; stopping the job before it lapses");
                            break;
                        }
                        Err(e) => {
                            tracing::debug!(job, error = %e, "lease renewal failed; trying again")
                        }
                    }
                }
                let _ = tx.send(true);
                if !finished {
                    let _ = task.await;
                }
                if finished && !*shutdown.borrow() {
                    // A job that ends by itself is done for this run.
                    return;
                }
            }
            Ok(None) => {}
            Err(e) => tracing::debug!(job, error = %e, "cannot take the lease; trying again"),
        }
        tokio::select! {
            _ = tokio::time::sleep(HEARTBEAT) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}

/// The status a server that does not record `target` shows for it: from the store, as the
/// server that records it wrote it (an open incident: down; else the last result's health).
fn status_from(
    last: Option<&crate::store::ResultRecord>,
    open: Option<&crate::store::IncidentRecord>,
) -> probity_core::observe::Status {
    use probity_core::observe::Status;
    use probity_core::result::Health;
    match (open, last) {
        (Some(_), _) => Status::Down,
        (None, Some(r)) => match r.health {
            Health::Up => Status::Up,
            Health::Degraded => Status::Degraded,
            Health::Down => Status::Failing,
        },
        (None, None) => Status::Unknown,
    }
}

/// Keeps the live state of `others` (targets other servers record) as the store has it,
/// every two [`HEARTBEAT`]s until `stop`, so that every server answers for every target.
pub async fn follow(
    store: Arc<dyn Store>,
    shared: Arc<Shared>,
    others: Vec<String>,
    mut stop: watch::Receiver<bool>,
) {
    if others.is_empty() {
        return;
    }
    let others: std::collections::HashSet<String> = others.into_iter().collect();
    loop {
        let read = on_store(&store, "follow", |s| {
            Ok((
                s.latest_results()?,
                s.incidents(crate::store::IncidentFilter::Open)?,
            ))
        })
        .await;
        match read {
            Ok((latest, open)) => {
                // The first of each target's, as a search in order would find.
                let mut last_of = std::collections::HashMap::new();
                for r in &latest {
                    last_of.entry(r.target.as_str()).or_insert(r);
                }
                let mut open_of = std::collections::HashMap::new();
                for i in &open {
                    open_of.entry(i.target.as_str()).or_insert(i);
                }
                let mut live = shared.targets.write().expect("live lock");
                for name in &others {
                    let last = last_of.get(name.as_str()).copied();
                    let inc = open_of.get(name.as_str()).copied();
                    let entry = live.entry(name.clone()).or_default();
                    entry.status = status_from(last, inc);
                    entry.open_incident = inc.map(|i| i.id);
                    entry.last = last.cloned();
                }
            }
            Err(e) => tracing::debug!(error = %e, "cannot read the others' targets"),
        }
        tokio::select! {
            _ = tokio::time::sleep(HEARTBEAT * 2) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}
