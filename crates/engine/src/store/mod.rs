//! Where results, rollups and incidents live. Callers see the [`Store`] trait only; SQLite
//! is the embedded default and a PostgreSQL backend can sit behind the same trait.
//!
//! **Invariant:** one [`Batch`] is one transaction: a result and the incident change it
//! caused are durable together or not at all.
//!
//! **Invariant:** a minute with no results has no rollup row. Uptime is computed over
//! measured results only and is `None` (unmeasured), never 100%, when there are none.

mod cluster;
mod growth;
pub mod leaf;
mod pg;
mod poll;
mod shared;

pub(crate) use shared::*;
mod sqlite;

pub use cluster::{ClusterStore, Lease, Member};
pub use growth::{DAY_MS, DaySize, growth_per_day, week_start, weekly_growth};
pub use pg::{Copied, PgOptions, PgStore, copy_sqlite, redact_url};
pub use sqlite::SqliteStore;

/// Every store trait, for code that calls a concrete store's methods:
/// `use probity_engine::store::traits::*;`.
pub mod traits {
    pub use super::{
        ClusterStore, EvidenceStore, FederationStore, FeedStore, IncidentStore, OutboxStore,
        ResultStore, StatusStore, Store, TokenStore, VantageStore, WitnessStore,
    };
}

use probity_core::result::{Cause, Health, Phases};
use probity_core::sketch::Sketch;
use serde::Serialize;

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the store is damaged: {0}")]
    Damaged(String),
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL: {}", pg_message(.0))]
    Postgres(#[from] postgres::Error),
    #[error("{0}")]
    Config(String),
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "database schema version {found} is newer than this probity knows ({known}); upgrade probity"
    )]
    TooNew { found: i64, known: i64 },
    #[error("corrupt row: {0}")]
    Corrupt(String),
    #[error("evidence log: {0}")]
    Proof(#[from] probity_core::merkle::ProofError),
}

/// What one poll of a feed brought.
#[derive(Clone, Debug)]
pub enum PollOutcome {
    /// A document that parsed: its raw bytes and what it declares.
    Ok {
        body: Vec<u8>,
        incidents: Vec<probity_core::provider::ProviderIncident>,
    },
    /// `304 Not Modified`: the last document still stands.
    NotModified,
    /// No usable document: unreachable, an HTTP error, or a body that does not parse (kept
    /// as evidence when there was one). Nothing stored before is changed.
    Failed {
        error: String,
        body: Option<Vec<u8>>,
    },
}

impl PollOutcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            PollOutcome::Ok { .. } => "ok",
            PollOutcome::NotModified => "not_modified",
            PollOutcome::Failed { .. } => "error",
        }
    }
}

/// One poll of a feed, stored with all it changed in one transaction.
#[derive(Clone, Debug)]
pub struct FeedPoll {
    pub feed: String,
    pub provider: String,
    pub format: String,
    pub at_ms: i64,
    pub http_status: Option<u16>,
    pub outcome: PollOutcome,
    /// Validators for the next conditional request.
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub duration_ms: f64,
    /// The format keeps only the latest text of an incident (Azure's RSS).
    pub overwrites_in_place: bool,
}

/// What a stored poll changed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PollSummary {
    pub new: usize,
    pub changed: usize,
    /// Of the changed: how many altered what was already published.
    pub edited: usize,
    pub removed: usize,
    pub returned: usize,
    /// The ids of the incidents seen for the first time.
    pub new_ids: Vec<String>,
    /// The evidence leaf of the poll record.
    pub leaf: u64,
    /// Bytes of documents the feed has stored, after this poll.
    pub stored_bytes: u64,
}

/// A feed's polling state.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FeedState {
    pub feed: String,
    pub provider: String,
    pub format: String,
    pub last_poll_ms: Option<i64>,
    pub last_ok_ms: Option<i64>,
    /// `ok`, `not_modified` or `error`.
    pub last_outcome: Option<String>,
    pub last_error: Option<String>,
    pub http_status: Option<u16>,
    pub consecutive_failures: u32,
    pub polls: u64,
    pub failures: u64,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub last_sha256: Option<String>,
    /// Bytes of documents this feed has stored (each kept document counted once).
    pub stored_bytes: u64,
    /// Incidents the feed currently lists.
    pub active_incidents: u64,
}

/// One stored sighting of a provider incident that differed from the one before.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProviderRevision {
    pub revision: u32,
    pub seen_at_ms: i64,
    /// `new`, `changed`, `removed` (gone from the feed) or `returned`.
    pub kind: String,
    pub changes: Vec<probity_core::provider::FieldChange>,
    pub leaf: u64,
    pub incident: probity_core::provider::ProviderIncident,
}

/// A provider incident with probity's record of when it saw what.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StoredProviderIncident {
    pub feed: String,
    /// The latest version seen.
    pub incident: probity_core::provider::ProviderIncident,
    pub first_seen_at_ms: i64,
    pub last_seen_at_ms: i64,
    /// When it was last seen missing from the feed, if it is gone.
    pub removed_at_ms: Option<i64>,
    /// Whether any revision altered what had already been published.
    pub changed_after_publication: bool,
    /// First sighting of each update: `(posted at, status) → first seen`.
    pub update_first_seen: Vec<(i64, String, i64)>,
    /// Oldest first.
    pub revisions: Vec<ProviderRevision>,
}

/// Which provider incidents to read.
#[derive(Clone, Debug, Default)]
pub struct ProviderFilter {
    pub provider: Option<String>,
    pub feed: Option<String>,
    /// Incidents whose span (stated start or first sighting, to end or removal or now)
    /// overlaps `since..until`.
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub changed_only: bool,
}

/// What the store holds (`probity store stats`).
#[derive(Clone, Debug, Default, Serialize)]
pub struct StoreStats {
    pub database_bytes: u64,
    pub wal_bytes: u64,
    /// Rows per table.
    pub rows: std::collections::BTreeMap<String, u64>,
    /// Results stored per UTC day (`YYYY-MM-DD`), the 7 days before now, oldest first.
    pub results_per_day: Vec<(String, u64)>,
}

/// One leaf of the evidence log.
#[derive(Clone, Debug, PartialEq)]
pub struct EvidenceLeaf {
    pub index: u64,
    /// The canonical record: exactly the bytes that were hashed.
    pub record: Vec<u8>,
    pub leaf_hash: Vec<u8>,
    pub at_ms: i64,
    /// The record was rebuilt from compacted results, not read as stored.
    pub rebuilt: bool,
}

/// A signed checkpoint as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredCheckpoint {
    pub size: u64,
    pub root: [u8; 32],
    /// The signed note.
    pub note: String,
    pub at_ms: i64,
}

/// One probe result as stored.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct ResultRecord {
    pub id: i64,
    pub target: String,
    pub vantage: String,
    pub at_ms: i64,
    pub health: Health,
    pub phases: Phases,
    pub cause: Option<Cause>,
    /// The probe's details as JSON, kept for failures.
    pub details: Option<String>,
    /// The vantage's own controls were unreachable: this result says nothing about the
    /// target, opens no incident and is left out of uptime.
    pub unmeasured: bool,
    /// The id the agent gave the result (stored once, however often it is sent).
    pub origin: Option<String>,
    /// Milliseconds added to the agent's time because its clock was off by more than the
    /// bound.
    pub clock_offset_ms: Option<i64>,
}

/// A change to an incident, written with the result that caused it.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub enum IncidentChange {
    Open {
        id: i64,
        target: String,
        started_at_ms: i64,
        severity: Health,
        cause: Cause,
        evidence: Vec<i64>,
        /// What each vantage saw when it opened.
        seen: Vec<probity_core::quorum::Seen>,
    },
    Escalate {
        id: i64,
        severity: Health,
        result_id: i64,
    },
    Resolve {
        id: i64,
        resolved_at_ms: i64,
        evidence: Vec<i64>,
        /// What each vantage saw when it resolved.
        seen: Vec<probity_core::quorum::Seen>,
    },
}

impl IncidentChange {
    pub fn id(&self) -> i64 {
        match self {
            IncidentChange::Open { id, .. }
            | IncidentChange::Escalate { id, .. }
            | IncidentChange::Resolve { id, .. } => *id,
        }
    }

    /// `opened`, `escalated` or `resolved`: the name used in evidence records and the API.
    pub fn kind(&self) -> &'static str {
        match self {
            IncidentChange::Open { .. } => "opened",
            IncidentChange::Escalate { .. } => "escalated",
            IncidentChange::Resolve { .. } => "resolved",
        }
    }
}

/// What one transaction writes (and what the recorder's spool keeps on disk, as JSON,
/// while the store cannot take it).
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
pub struct Batch {
    pub results: Vec<ResultRecord>,
    pub incidents: Vec<IncidentChange>,
    /// Alerts the incident changes cause: into the outbox in the same transaction.
    pub alerts: Vec<NewAlert>,
    /// Object storage canaries written: into the manifest, each with its evidence leaf.
    pub canaries: Vec<crate::probe::CanaryEntry>,
}

/// An incident on the organisation's own status page.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StatusIncident {
    pub id: String,
    pub name: String,
    /// `investigating`, `identified`, `monitoring`, `resolved`.
    pub status: String,
    /// `none`, `minor`, `major`, `critical`.
    pub impact: String,
    pub components: Vec<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub resolved_at_ms: Option<i64>,
    /// Oldest first.
    pub updates: Vec<StatusUpdate>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StatusUpdate {
    pub id: String,
    pub at_ms: i64,
    pub status: String,
    pub message: String,
}

/// An alert for the outbox.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct NewAlert {
    /// The idempotency key: the same for every retry, and for the same alert written twice
    /// (the second write is ignored).
    pub key: String,
    pub rule: String,
    pub channel: String,
    pub event: String,
    pub target: Option<String>,
    pub incident_id: Option<i64>,
    /// The JSON event the channel renders its message from.
    pub payload: String,
    pub created_at_ms: i64,
}

/// An alert in the outbox, with where its delivery stands.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StoredAlert {
    pub id: i64,
    pub alert: NewAlert,
    /// `pending`, `delivered` or `expired` (gave up after a day of failures).
    pub state: String,
    pub attempts: u32,
    pub next_attempt_ms: i64,
    pub delivered_at_ms: Option<i64>,
    pub last_error: Option<String>,
}

/// One delivery attempt.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AlertAttempt {
    pub at_ms: i64,
    pub ok: bool,
    pub http_status: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: f64,
}

/// An incident as stored.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IncidentRecord {
    pub id: i64,
    pub target: String,
    pub started_at_ms: i64,
    pub resolved_at_ms: Option<i64>,
    pub severity: Health,
    pub cause: Cause,
    /// Ids of the results that proved the opening (and the recovery).
    pub evidence: Vec<i64>,
}

/// A vantage point as the server knows it: from its pushes (agents) or itself (`local`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct VantageRecord {
    pub name: String,
    pub region: Option<String>,
    pub first_contact_ms: Option<i64>,
    pub last_contact_ms: Option<i64>,
    /// What to add to the agent's clock to get the server's, as last measured.
    pub clock_offset_ms: Option<i64>,
    /// The round trip of that measurement.
    pub rtt_ms: Option<i64>,
    /// Results waiting in the agent's spool at its last push.
    pub backlog: u64,
    /// Results the agent dropped because its spool was full, since it started.
    pub dropped: u64,
    /// Whether its controls were reachable at its last push.
    pub controls_ok: Option<bool>,
    pub version: Option<String>,
    pub pushes: u64,
    pub results: u64,
}

/// Which incidents to list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncidentFilter {
    Open,
    Resolved,
    All,
    /// Those that started before `until_ms` and were not resolved before `from_ms` (open
    /// ones included): what a window's figures read, in proportion to the window rather
    /// than to the whole history.
    Overlapping {
        from_ms: i64,
        until_ms: i64,
    },
}

/// One minute of one target's results, aggregated.
#[derive(Clone, Debug, PartialEq)]
pub struct Rollup {
    pub target: String,
    pub vantage: String,
    pub minute_ms: i64,
    pub count: u64,
    /// Results that were down.
    pub failures: u64,
    /// Results that were degraded.
    pub degraded: u64,
    pub latency_min_ms: f64,
    pub latency_max_ms: f64,
    pub latency_sum_ms: f64,
    pub sketch: Sketch,
}

/// A rollup's counts (see `ResultStore::rollup_counts`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RollupCount {
    pub minute_ms: i64,
    pub count: u64,
    /// Results that were down.
    pub failures: u64,
}

impl From<&Rollup> for RollupCount {
    fn from(r: &Rollup) -> Self {
        RollupCount {
            minute_ms: r.minute_ms,
            count: r.count,
            failures: r.failures,
        }
    }
}

/// Totals over a span of rollups.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Availability {
    pub count: u64,
    pub failures: u64,
    pub degraded: u64,
}

impl Availability {
    /// The share of measured results that were not down, or `None` when nothing was measured.
    pub fn uptime(&self) -> Option<f64> {
        (self.count > 0).then(|| (self.count - self.failures) as f64 / self.count as f64)
    }
}

/// A stored token as `probity token list` shows it: never the token, only its hash.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TokenInfo {
    /// The first 12 hex digits of the token's SHA-256: enough to name it, useless to use it.
    pub id: String,
    pub name: String,
    /// The agent it belongs to; `None` for an API token.
    pub agent: Option<String>,
    pub created_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
}

/// How much a prune removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub results: usize,
    pub rollups: usize,
    /// Feed documents whose bytes went (their polls keep hash, size and evidence record).
    pub feed_documents: usize,
    /// Feed polls whose document was not kept (their evidence records stay in the log).
    pub feed_polls: usize,
    /// Statements received from federation peers about outages that ended (or, never
    /// ended, started) before the rollups' retention.
    pub statements: usize,
}

/// An agent's id for a result, with where the result would be stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub origin: String,
    pub target: String,
    pub at_ms: i64,
}

/// What a compaction pass did (`ResultStore::compact`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Compacted {
    /// Results moved out of rows into chunks.
    pub results: usize,
    pub chunks: usize,
    /// Results leaves whose records are now rebuilt from chunks, not stored.
    pub leaves: usize,
}

/// The storage interface, one narrow trait per concern; `Store` is all of them, for the
/// server that needs every one. Blocking: async callers use a dedicated thread or
/// `spawn_blocking`.
pub trait Store:
    ResultStore
    + IncidentStore
    + EvidenceStore
    + OutboxStore
    + FeedStore
    + StatusStore
    + TokenStore
    + VantageStore
    + WitnessStore
    + FederationStore
    + ClusterStore
    + Send
    + Sync
{
}

impl<
    T: ResultStore
        + IncidentStore
        + EvidenceStore
        + OutboxStore
        + FeedStore
        + StatusStore
        + TokenStore
        + VantageStore
        + WitnessStore
        + FederationStore
        + ClusterStore
        + Send
        + Sync,
> Store for T
{
}

/// Results and what is derived from them: writing a batch (results, rollups, incident changes and their evidence leaves), reading them back, availability, pruning.
pub trait ResultStore {
    /// The next free result id (ids are assigned by the single recorder, before writing).
    fn next_result_id(&self) -> StoreResult<i64>;
    fn next_incident_id(&self) -> StoreResult<i64>;
    /// Writes results, their rollups and incident changes in one transaction.
    fn write(&self, batch: &Batch) -> StoreResult<()>;
    /// The stored results whose ids are in `from_id..=to_id`, by id.
    fn results_by_ids(&self, from_id: i64, to_id: i64) -> StoreResult<Vec<ResultRecord>>;
    /// Writes the batches `next` gives, one after another, in one transaction (all or
    /// nothing), holding one batch in memory at a time; each batch's results become one
    /// evidence leaf, as a live batch's do. Returns how many batches were written.
    fn write_each(
        &self,
        next: &mut dyn FnMut() -> StoreResult<Option<Batch>>,
    ) -> StoreResult<usize>;
    fn results(
        &self,
        target: &str,
        since_ms: Option<i64>,
        until_ms: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<ResultRecord>>;
    /// The latest result of every target.
    fn latest_results(&self) -> StoreResult<Vec<ResultRecord>>;
    /// Every object-storage canary written (each generation of each slot), oldest first.
    fn canaries(&self) -> StoreResult<Vec<crate::probe::CanaryEntry>>;
    /// The canonical record of the canary attested by `leaf`, rebuilt from its row.
    fn canary_record_at(&self, leaf: u64) -> StoreResult<Option<Vec<u8>>>;
    fn rollups(&self, target: &str, since_ms: i64, until_ms: i64) -> StoreResult<Vec<Rollup>>;
    /// The same rows as `rollups` (one per minute and vantage in `[since, until)`, oldest
    /// first) with their counts only: no latency sketch is read or parsed, for what needs
    /// no latency (availability SLOs, SLA minutes).
    fn rollup_counts(
        &self,
        target: &str,
        since_ms: i64,
        until_ms: i64,
    ) -> StoreResult<Vec<RollupCount>>;
    /// Per minute and vantage with results in `[since, until)`: (minute, vantage, results,
    /// down results), oldest first; a minute the bounds cut counts only its results inside
    /// them, so the answer for past bounds never changes. Cheap: no sketches.
    fn minute_counts(
        &self,
        target: &str,
        since_ms: i64,
        until_ms: i64,
    ) -> StoreResult<Vec<(i64, String, u64, u64)>>;
    fn availability(&self, target: &str, since_ms: i64, until_ms: i64)
    -> StoreResult<Availability>;
    /// Totals per target from hourly aggregates: the window starts at the hour holding
    /// `since_ms`.
    fn availability_by_target(
        &self,
        since_ms: i64,
        until_ms: i64,
    ) -> StoreResult<std::collections::HashMap<String, Availability>>;
    /// Per target and UTC day (Unix ms of its midnight), totals since `since_ms`: of every
    /// target, or only of `targets` (read target by target: what the public status page
    /// shows costs in proportion to its components, not to everything probed).
    fn daily_availability(
        &self,
        since_ms: i64,
        targets: Option<&[String]>,
    ) -> StoreResult<std::collections::HashMap<(String, i64), Availability>>;
    /// The first measured minute of every target with rollups.
    fn first_measured(&self) -> StoreResult<std::collections::HashMap<String, i64>>;
    /// Which of these result ids of `vantage` are stored already (ids are per vantage),
    /// each given with its result's target and time (where a compacted one would be).
    fn known_origins(
        &self,
        vantage: &str,
        origins: &[Origin],
    ) -> StoreResult<std::collections::HashSet<String>>;
    /// Checks the store's file for damage (SQLite's `quick_check`): an error that says what
    /// is damaged, before anything is written to it.
    fn quick_check(&self) -> StoreResult<()>;
    /// SQLite's full `integrity_check` (every index against its table, every row): slower
    /// than the quick check, run on demand by `probity evidence audit`. Empty when sound.
    fn integrity_check(&self) -> StoreResult<Vec<String>>;
    /// Deletes raw results older than `raw_before_ms`, and rollups, the bytes of feed
    /// documents no poll since refers to, and peers' statements of outages over before
    /// `rollup_before_ms`.
    fn prune(&self, raw_before_ms: i64, rollup_before_ms: i64) -> StoreResult<Pruned>;
    /// Moves the results of leaves written before `before_ms` into compact chunks, an hour
    /// of leaves at a time, and stops keeping those leaves' records twice (SQLite; a
    /// PostgreSQL store keeps rows and drops whole days instead).
    fn compact(&self, _before_ms: i64) -> StoreResult<Compacted> {
        Ok(Compacted::default())
    }
    /// The store's files on disk, in bytes (database and write-ahead log); cheap.
    fn disk_bytes(&self) -> StoreResult<u64>;
    /// Notes the store's size `bytes` (from `disk_bytes`) sampled at `at_ms`: each UTC day
    /// keeps its latest sample. Rows of days before the rollup retention go at `prune`.
    fn note_size(&self, at_ms: i64, bytes: u64) -> StoreResult<()>;
    /// The store's size by UTC day from `since_ms`'s day on, oldest first: at most one
    /// row a day, so cheap enough for every scrape.
    fn sizes(&self, since_ms: i64) -> StoreResult<Vec<DaySize>>;
    /// What the store holds: rows per table, its size, results per day over the 7 days
    /// before `now_ms`. Counts rows: for a command, not for every scrape.
    fn stats(&self, now_ms: i64) -> StoreResult<StoreStats>;
}

/// Observed incidents: reading them, what each vantage saw, acknowledgments.
pub trait IncidentStore {
    fn incidents(&self, filter: IncidentFilter) -> StoreResult<Vec<IncidentRecord>>;
    fn incident(&self, id: i64) -> StoreResult<Option<IncidentRecord>>;
    /// Acknowledges an incident; false if it was acknowledged already (the first stands).
    fn ack_incident(&self, id: i64, at_ms: i64, by: &str, note: &str) -> StoreResult<bool>;
    /// An incident's acknowledgment: when, by whom, with what note.
    fn incident_ack(&self, id: i64) -> StoreResult<Option<(i64, String, String)>>;
    /// The ids of the open incidents that are acknowledged (one query, for loops that look
    /// at every open incident each second).
    fn acknowledged_open(&self) -> StoreResult<std::collections::HashSet<i64>>;
    /// What each vantage saw at an incident's changes: `(change, seen)`.
    fn incident_vantages(
        &self,
        incident_id: i64,
    ) -> StoreResult<Vec<(String, probity_core::quorum::Seen)>>;
    /// Per incident, how many vantages saw it failing when it opened.
    fn failing_vantage_counts(&self) -> StoreResult<std::collections::HashMap<i64, u32>>;
    /// When each escalated incident escalated (the time of the result that did it).
    fn escalated_at(&self) -> StoreResult<std::collections::HashMap<i64, i64>>;
}

/// The evidence log: leaves, the Merkle tree, proofs, checkpoints, exports.
pub trait EvidenceStore {
    /// Appends records to the evidence log on their own (feed snapshots, reports); returns
    /// the index of the first.
    fn append_evidence(&self, records: &[Vec<u8>]) -> StoreResult<u64>;
    /// Leaves in the evidence log.
    fn evidence_size(&self) -> StoreResult<u64>;
    /// The Merkle root of the first `size` leaves.
    fn evidence_root(&self, size: u64) -> StoreResult<probity_core::merkle::Hash>;
    /// The leaf hash of leaf `index` and its inclusion proof in the tree of `size` leaves.
    fn inclusion_proof(
        &self,
        index: u64,
        size: u64,
    ) -> StoreResult<(probity_core::merkle::Hash, Vec<probity_core::merkle::Hash>)>;
    fn consistency_proof(&self, old: u64, new: u64)
    -> StoreResult<Vec<probity_core::merkle::Hash>>;
    /// Leaves `from..to`.
    fn evidence_records(&self, from: u64, to: u64) -> StoreResult<Vec<EvidenceLeaf>> {
        self.evidence_records_within(from, to, usize::MAX)
    }
    /// Leaves from `from` on, before `to`, as many as fit in about `max_bytes` of records
    /// (at least one): a log of large leaves is read in bounded memory.
    fn evidence_records_within(
        &self,
        from: u64,
        to: u64,
        max_bytes: usize,
    ) -> StoreResult<Vec<EvidenceLeaf>>;
    /// The leaves appended in `from_ms..to_ms`, as an index range, if any.
    fn evidence_range_by_time(&self, from_ms: i64, to_ms: i64) -> StoreResult<Option<(u64, u64)>>;
    /// The checkpoint size the last export ended at.
    fn last_export(&self) -> StoreResult<Option<u64>>;
    fn note_export(&self, checkpoint_size: u64) -> StoreResult<()>;
    /// The evidence leaves of an incident's changes: `(change, leaf index)`.
    fn incident_leaves(&self, incident_id: i64) -> StoreResult<Vec<(String, u64)>>;
    fn add_checkpoint(&self, cp: &StoredCheckpoint) -> StoreResult<()>;
    /// Every checkpoint, oldest first.
    fn checkpoints(&self) -> StoreResult<Vec<StoredCheckpoint>>;
    /// At most `limit` checkpoints of a size above `after` (all, without it), oldest first.
    fn checkpoints_after(
        &self,
        after: Option<u64>,
        limit: usize,
    ) -> StoreResult<Vec<StoredCheckpoint>>;
    fn latest_checkpoint(&self) -> StoreResult<Option<StoredCheckpoint>>;
    /// The first checkpoint signed at or after `at_ms`.
    fn first_checkpoint_since(&self, at_ms: i64) -> StoreResult<Option<StoredCheckpoint>>;
    /// The checkpoint of exactly `size` leaves, if one was signed.
    fn checkpoint_at(&self, size: u64) -> StoreResult<Option<StoredCheckpoint>>;
    /// The size of the first checkpoint that covers leaf `leaf`, if any yet.
    fn checkpoint_covering(&self, leaf: u64) -> StoreResult<Option<u64>>;
}

/// The alert outbox: alerts in, due alerts out, every attempt recorded.
pub trait OutboxStore {
    /// Puts alerts in the outbox; one whose key is already there is left as it is.
    fn enqueue_alerts(&self, alerts: &[NewAlert]) -> StoreResult<()>;
    /// Alerts due for delivery at `now_ms`, oldest first.
    fn due_alerts(&self, now_ms: i64, limit: usize) -> StoreResult<Vec<StoredAlert>>;
    /// Records an attempt: delivered, or pending again from `next_attempt_ms`, or expired.
    fn record_alert_attempt(
        &self,
        id: i64,
        attempt: &AlertAttempt,
        state: &str,
        next_attempt_ms: i64,
    ) -> StoreResult<()>;
    /// The newest alerts with their attempts, oldest attempt first.
    fn alerts(&self, limit: usize) -> StoreResult<Vec<(StoredAlert, Vec<AlertAttempt>)>>;
    /// When the next pending alert is due, if any.
    fn next_alert_due(&self) -> StoreResult<Option<i64>>;
}

/// Providers' status feeds: polls, documents, incidents and their revisions.
pub trait FeedStore {
    /// Stores a feed poll: the raw document, the feed's state, every new, changed or removed
    /// incident as a revision, and their evidence leaves, in one transaction.
    fn record_feed_poll(&self, poll: &FeedPoll) -> StoreResult<PollSummary>;
    fn feed_states(&self) -> StoreResult<Vec<FeedState>>;
    fn provider_incidents(
        &self,
        filter: &ProviderFilter,
    ) -> StoreResult<Vec<StoredProviderIncident>>;
    /// The canonical record of evidence leaf `leaf` re-encoded from the feed rows that it
    /// attests (a poll or an incident revision), if those rows exist; for a poll, also
    /// whether the stored document still hashes to what the record says.
    fn feed_record_from_rows(&self, leaf: u64) -> StoreResult<Option<(Vec<u8>, Option<bool>)>>;
    /// Polls from before this instant may have been pruned (none if never).
    fn feed_polls_pruned_before(&self) -> StoreResult<Option<i64>>;
    /// A stored feed document by its SHA-256 (hex).
    fn feed_document(&self, sha256: &str) -> StoreResult<Option<Vec<u8>>>;
}

/// The public status page's posted incidents and updates.
pub trait StatusStore {
    /// Creates a status-page incident with its first update.
    fn create_status_incident(&self, incident: &StatusIncident) -> StoreResult<()>;
    /// Adds an update and moves the incident to its status; `None` if there is no such
    /// incident.
    fn add_status_update(
        &self,
        incident_id: &str,
        update: &StatusUpdate,
    ) -> StoreResult<Option<StatusIncident>>;
    /// Every status-page incident, newest first.
    fn status_incidents(&self) -> StoreResult<Vec<StatusIncident>>;
    /// Counts that move whenever an observed incident opens or resolves or the status
    /// page's incidents or updates change: one cheap query, so a loop that acts on those
    /// can skip a pass when nothing moved.
    fn status_marks(&self) -> StoreResult<StatusMarks>;
}

/// See `StatusStore::status_marks`. Observed incidents are never deleted and resolve at
/// most once, so their count, resolved count and highest id move with every change that
/// matters to the status page.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StatusMarks {
    pub incidents: i64,
    pub resolved: i64,
    pub max_incident: i64,
    pub status_incidents: i64,
    pub status_updates: i64,
}

/// The marks' query, the same on both backends.
pub(crate) const STATUS_MARKS: &str = "SELECT
    (SELECT COUNT(*) FROM incidents),
    (SELECT COUNT(resolved_at_ms) FROM incidents),
    (SELECT COALESCE(MAX(id), 0) FROM incidents),
    (SELECT COUNT(*) FROM status_incidents),
    (SELECT COUNT(*) FROM status_updates)";

/// API and agent tokens, kept as SHA-256 only.
pub trait TokenStore {
    /// Stores an API token's SHA-256 (the token itself is never stored).
    fn add_token(&self, sha256_hex: &str, name: &str, at_ms: i64) -> StoreResult<()>;
    /// Whether a token with this SHA-256 exists.
    fn token_exists(&self, sha256_hex: &str) -> StoreResult<bool>;
    /// How many tokens exist.
    fn token_count(&self) -> StoreResult<u64>;
    /// Stores a token for an agent (its SHA-256 only).
    fn add_agent_token(&self, sha256_hex: &str, agent: &str, at_ms: i64) -> StoreResult<()>;
    /// The agent a live token belongs to.
    fn agent_of_token(&self, sha256_hex: &str) -> StoreResult<Option<String>>;
    /// Every token, live or revoked, oldest first (hashes only).
    fn tokens(&self) -> StoreResult<Vec<TokenInfo>>;
    /// Revokes the live API tokens (not agents') named `name`, or whose hash starts with
    /// `name` when it is 8 or more hex digits; returns how many.
    fn revoke_api_tokens(&self, name: &str, at_ms: i64) -> StoreResult<usize>;
    /// Revokes every token of an agent; returns how many.
    fn revoke_agent_tokens(&self, agent: &str, at_ms: i64) -> StoreResult<usize>;
}

/// Agents as vantages: their last contact, clock and backlog.
pub trait VantageStore {
    /// Records an agent's push (contact, clock, backlog) and returns the vantage as now
    /// stored.
    fn note_vantage(&self, v: &VantageRecord) -> StoreResult<()>;
    fn vantages(&self) -> StoreResult<Vec<VantageRecord>>;
}

/// Witnessing: the latest checkpoint cosigned for each log this server witnesses, and the
/// cosignatures other witnesses gave this server's checkpoints.
pub trait WitnessStore {
    /// The latest `(size, root)` cosigned for `origin`.
    fn witnessed(&self, origin: &str) -> StoreResult<Option<(u64, [u8; 32])>>;
    /// Records `(size, root)` for `origin` if what is recorded is still `old` (size 0:
    /// nothing yet), atomically; false when another request moved it first. Committed
    /// (and synced) before it returns, so a cosignature is never given for a state that
    /// could be lost.
    fn advance_witnessed(
        &self,
        origin: &str,
        old: u64,
        size: u64,
        root: [u8; 32],
        at_ms: i64,
    ) -> StoreResult<bool>;
    /// Keeps a witness's cosignature line for this log's checkpoint of `size`.
    fn add_cosignature(&self, size: u64, witness: &str, line: &str, at_ms: i64) -> StoreResult<()>;
    /// The cosignature lines kept for the checkpoint of `size`, by witness name.
    fn cosignatures(&self, size: u64) -> StoreResult<Vec<(String, String)>>;
    /// The largest checkpoint size `witness` cosigned.
    fn cosigned_size(&self, witness: &str) -> StoreResult<Option<u64>>;
    /// The largest checkpoint size at least `witnesses` witnesses cosigned.
    fn latest_cosigned_size(&self, witnesses: usize) -> StoreResult<Option<u64>>;
}

/// Outage statements received from federation peers (checked before they are stored),
/// and which of this server's statements each peer has been given.
pub trait FederationStore {
    /// Keeps a checked statement; false if this version (open or ended) of it was kept
    /// already. Stored apart from the evidence log: nothing a peer sends changes it.
    fn add_statement(
        &self,
        st: &probity_core::federation::Statement,
        envelope: &probity_core::federation::Envelope,
        received_ms: i64,
    ) -> StoreResult<bool>;
    /// The statements received before `as_of_ms` of incidents that had not ended before
    /// `since_ms`: for each, the latest version received by then.
    fn statements(&self, since_ms: i64, as_of_ms: i64) -> StoreResult<Vec<ReceivedStatement>>;
    /// Whether `peer` was given the statement of `incident` (`ended`: its ended version).
    fn statement_sent(&self, peer: &str, incident: i64, ended: bool) -> StoreResult<bool>;
    fn mark_statement_sent(
        &self,
        peer: &str,
        incident: i64,
        ended: bool,
        at_ms: i64,
    ) -> StoreResult<()>;
}

/// A statement a peer sent, as kept.
#[derive(Clone, Debug, PartialEq)]
pub struct ReceivedStatement {
    pub statement: probity_core::federation::Statement,
    pub envelope: probity_core::federation::Envelope,
    pub received_ms: i64,
}

/// What PostgreSQL said, not just "db error": the server's message, detail and hint, or
/// the client's error with its cause.
fn pg_message(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut m = format!("{}: {}", db.severity(), db.message());
        if let Some(d) = db.detail() {
            m.push_str(&format!(" ({d})"));
        }
        if let Some(h) = db.hint() {
            m.push_str(&format!("; hint: {h}"));
        }
        return m;
    }
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

/// The minute (epoch ms, floored) an instant falls in.
pub fn minute_of(at_ms: i64) -> i64 {
    at_ms.div_euclid(60_000) * 60_000
}

/// The store as it may be shown in messages: its directory, or its database URL (which
/// holds no password: the configuration refuses one).
pub fn shown(store: &probity_ground::config::StoreConfig, data_dir: &std::path::Path) -> String {
    match store {
        probity_ground::config::StoreConfig::Sqlite => data_dir.display().to_string(),
        probity_ground::config::StoreConfig::Postgres(pg) => redact_url(&pg.url),
    }
}

/// Opens the store the configuration names: PostgreSQL when `[store] url` is set, else
/// SQLite under `data_dir`.
pub fn open(
    store: &probity_ground::config::StoreConfig,
    data_dir: &std::path::Path,
) -> StoreResult<std::sync::Arc<dyn Store>> {
    Ok(match store {
        probity_ground::config::StoreConfig::Sqlite => {
            std::sync::Arc::new(SqliteStore::open(data_dir)?)
        }
        probity_ground::config::StoreConfig::Postgres(pg) => {
            std::sync::Arc::new(PgStore::open(&pg_options(pg))?)
        }
    })
}

fn pg_options(pg: &probity_ground::config::PostgresConfig) -> PgOptions {
    PgOptions {
        url: pg.url.clone(),
        password: pg.password.clone(),
        pool_size: pg.pool_size,
        ca_file: pg.ca_file.clone(),
    }
}

/// Opens the store for a server: as [`open`]. A SQLite store is claimed by the data
/// directory's lock; servers that share a PostgreSQL database find each other through
/// [`ClusterStore`] (a name held by another live server is refused at its first heartbeat),
/// a server makes the coming days' partitions of `results`, and takes its first blocks of ids while the database answers, so that an
/// outage that starts later does not stop ids being handed out.
pub fn open_for_server(
    store: &probity_ground::config::StoreConfig,
    data_dir: &std::path::Path,
) -> StoreResult<std::sync::Arc<dyn Store>> {
    match store {
        probity_ground::config::StoreConfig::Sqlite => open(store, data_dir),
        probity_ground::config::StoreConfig::Postgres(pg) => {
            let s = PgStore::open(&pg_options(pg))?;
            s.ensure_partitions()?;
            s.prime_ids()?;
            Ok(std::sync::Arc::new(s))
        }
    }
}
