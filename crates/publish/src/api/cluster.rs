//! `GET /api/v1/cluster`: the servers that share the store, what each probes, who runs
//! each job that runs on one server at a time.

use crate::state::*;
use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use schemars::JsonSchema;
use serde::Serialize;

/// The servers sharing this server's store, as this server sees them.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct ClusterView {
    /// The server that answers.
    pub server: String,
    /// Whether several servers may share the store (PostgreSQL); false on SQLite.
    pub shared_store: bool,
    /// The live servers, by name.
    pub members: Vec<MemberView>,
    /// Jobs that run on one server at a time, by job.
    pub jobs: Vec<JobView>,
    /// When this server's last heartbeat was answered (RFC 3339), and why the ones since
    /// failed.
    pub last_heartbeat: Option<String>,
    pub heartbeat_error: Option<String>,
}

/// One live server.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct MemberView {
    pub name: String,
    /// Where its API answers (`[server] advertise`).
    pub address: String,
    pub started_at: String,
    /// Its last heartbeat, by the store's clock, and how long before this answer.
    pub last_heartbeat: String,
    pub heartbeat_age_ms: i64,
    /// How many targets it probes.
    pub targets: u64,
}

/// One job and the server that holds its lease.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct JobView {
    /// `checkpoint`, `feeds`, `alerts`, `escalate`, `status-auto` or `prune`.
    pub job: String,
    pub leader: String,
    /// One more each time the job changed servers.
    pub epoch: i64,
    pub lease_expires_at: String,
    /// False: the lease lapsed (its server stopped) and no server took it yet.
    pub held: bool,
}

fn time(ms: i64) -> String {
    probity_ground::time::rfc3339(ms)
}

pub(crate) async fn cluster(State(s): State<AppState>) -> ApiResult {
    let store = s.store.clone();
    let (leases, shared_store) = blocking(move || {
        Ok::<_, probity_engine::store::StoreError>((store.leases()?, store.shared()))
    })
    .await?
    .map_err(ApiError::internal)?;
    let live = s.shared.cluster.read().expect("cluster lock").clone();
    let now = jiff::Timestamp::now().as_millisecond();
    let newest = live
        .members
        .iter()
        .map(|m| m.heartbeat_at_ms)
        .max()
        .unwrap_or(now);
    Ok(Json(ClusterView {
        server: live.me.clone(),
        shared_store,
        members: live
            .members
            .iter()
            .map(|m| MemberView {
                name: m.name.clone(),
                address: m.address.clone(),
                started_at: time(m.started_at_ms),
                last_heartbeat: time(m.heartbeat_at_ms),
                // Against the newest heartbeat (the store's clock), not this server's.
                heartbeat_age_ms: (newest - m.heartbeat_at_ms).max(0),
                targets: m.targets,
            })
            .collect(),
        jobs: leases
            .iter()
            .map(|l| JobView {
                job: l.job.clone(),
                leader: l.holder.clone(),
                epoch: l.epoch,
                lease_expires_at: time(l.expires_at_ms),
                held: l.expires_at_ms >= newest,
            })
            .collect(),
        last_heartbeat: live.last_heartbeat_ms.map(time),
        heartbeat_error: live.heartbeat_error.clone(),
    })
    .into_response())
}
