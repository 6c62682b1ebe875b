//! What servers that share one store know of each other: who is live (heartbeats) and who
//! runs each job that must run on one server at a time (leases). A SQLite store serves one
//! server (its data directory's lock says so): it is the only member and holds every lease.

use super::StoreResult;

/// A server as the others see it. Times are the store's clock (PostgreSQL's), so the
/// servers' own clocks do not matter.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Member {
    pub name: String,
    /// Random per process: tells a server from another process started under its name.
    pub instance: String,
    /// Where its API answers (`[server] advertise`).
    pub address: String,
    pub started_at_ms: i64,
    pub heartbeat_at_ms: i64,
    /// How many targets it probes, as of its last heartbeat.
    pub targets: u64,
}

/// Who holds a job's lease.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Lease {
    pub job: String,
    pub holder: String,
    #[serde(skip)]
    pub instance: String,
    /// One more each time the job changed hands.
    pub epoch: i64,
    pub expires_at_ms: i64,
}

/// Membership and leases.
pub trait ClusterStore {
    /// Whether several servers may share this store (PostgreSQL: yes; SQLite: no).
    fn shared(&self) -> bool;
    /// Renews `me`'s heartbeat and returns the live members (a heartbeat within `ttl_ms`
    /// of the store's clock), `me` included, by name. Refused (a `Config` error) while
    /// another live process holds `me`'s name.
    fn heartbeat(&self, me: &Member, ttl_ms: i64) -> StoreResult<Vec<Member>>;
    /// Removes `me` (a server that stops), so that the others take its targets at once.
    fn leave(&self, name: &str, instance: &str) -> StoreResult<()>;
    /// Takes `job`'s lease for `holder`/`instance` or renews it, for `ttl_ms`: its epoch
    /// while this process holds it, `None` while another does.
    fn lease(
        &self,
        job: &str,
        holder: &str,
        instance: &str,
        ttl_ms: i64,
    ) -> StoreResult<Option<i64>>;
    /// Gives up `job`'s lease if this process holds it.
    fn release(&self, job: &str, instance: &str) -> StoreResult<()>;
    /// Every lease, by job.
    fn leases(&self) -> StoreResult<Vec<Lease>>;
}
