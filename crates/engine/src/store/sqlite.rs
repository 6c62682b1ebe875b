//! The embedded store: SQLite in WAL mode under the data directory.
//!
//! One writer connection (the recorder is the only writer) and a small pool of readers for
//! the API. `synchronous=FULL`: a committed batch survives a process kill and a power loss.

use super::*;
use probity_core::merkle;
use probity_core::result::ErrorClass;
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE results (
    id          INTEGER PRIMARY KEY,
    target      TEXT NOT NULL,
    vantage     TEXT NOT NULL,
    at_ms       INTEGER NOT NULL,
    health      TEXT NOT NULL,
    dns_ms      REAL,
    connect_ms  REAL,
    tls_ms      REAL,
    ttfb_ms     REAL,
    total_ms    REAL,
    error_class TEXT,
    error       TEXT,
    details     TEXT
);
CREATE INDEX results_target_at ON results (target, at_ms);
CREATE INDEX results_at ON results (at_ms);

CREATE TABLE rollups (
    target         TEXT NOT NULL,
    vantage        TEXT NOT NULL,
    minute_ms      INTEGER NOT NULL,
    count          INTEGER NOT NULL,
    failures       INTEGER NOT NULL,
    degraded       INTEGER NOT NULL,
    latency_min_ms REAL NOT NULL,
    latency_max_ms REAL NOT NULL,
    latency_sum_ms REAL NOT NULL,
    sketch         TEXT NOT NULL,
    PRIMARY KEY (target, vantage, minute_ms)
) WITHOUT ROWID;
CREATE INDEX rollups_minute ON rollups (minute_ms);

-- Hourly totals, kept with the rollups, so that uptime over days and months across many
-- targets reads hundreds of rows instead of tens of thousands.
CREATE TABLE hourly (
    target   TEXT NOT NULL,
    vantage  TEXT NOT NULL,
    hour_ms  INTEGER NOT NULL,
    count    INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    degraded INTEGER NOT NULL,
    PRIMARY KEY (target, vantage, hour_ms)
) WITHOUT ROWID;
CREATE INDEX hourly_hour ON hourly (hour_ms);

CREATE TABLE incidents (
    id             INTEGER PRIMARY KEY,
    target         TEXT NOT NULL,
    started_at_ms  INTEGER NOT NULL,
    resolved_at_ms INTEGER,
    severity       TEXT NOT NULL,
    cause_class    TEXT NOT NULL,
    cause_detail   TEXT NOT NULL
);
CREATE INDEX incidents_open ON incidents (resolved_at_ms);

CREATE TABLE incident_evidence (
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    result_id   INTEGER NOT NULL,
    role        TEXT NOT NULL,
    PRIMARY KEY (incident_id, result_id)
) WITHOUT ROWID;
"#,
    r#"
-- The evidence log: leaves (canonical records), the perfect subtrees of the Merkle tree
-- over them, and signed checkpoints.
CREATE TABLE evidence_leaves (
    idx       INTEGER PRIMARY KEY,
    record    BLOB NOT NULL,
    leaf_hash BLOB NOT NULL,
    at_ms     INTEGER NOT NULL
);
CREATE TABLE evidence_nodes (
    level INTEGER NOT NULL,
    idx   INTEGER NOT NULL,
    hash  BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TABLE evidence_checkpoints (
    size  INTEGER PRIMARY KEY,
    root  BLOB NOT NULL,
    note  TEXT NOT NULL,
    at_ms INTEGER NOT NULL
);
"#,
    r#"
CREATE INDEX evidence_leaves_at ON evidence_leaves (at_ms);
-- Which checkpoint each export ended at, so the next export proves consistency with it.
CREATE TABLE evidence_exports (
    at_ms           INTEGER NOT NULL,
    checkpoint_size INTEGER NOT NULL
);
"#,
    r#"
-- The evidence leaf of each incident change.
CREATE TABLE incident_leaves (
    incident_id INTEGER NOT NULL,
    change      TEXT NOT NULL,
    leaf_idx    INTEGER NOT NULL,
    PRIMARY KEY (incident_id, leaf_idx)
) WITHOUT ROWID;
"#,
    r#"
-- Provider status feeds: each feed's polling state, every document fetched (by hash),
-- every poll, and every revision of every incident a feed listed.
CREATE TABLE feed_state (
    feed                 TEXT PRIMARY KEY,
    provider             TEXT NOT NULL,
    format               TEXT NOT NULL,
    etag                 TEXT,
    last_modified        TEXT,
    last_poll_ms         INTEGER,
    last_ok_ms           INTEGER,
    last_outcome         TEXT,
    last_error           TEXT,
    http_status          INTEGER,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    polls                INTEGER NOT NULL DEFAULT 0,
    failures             INTEGER NOT NULL DEFAULT 0,
    last_sha256          TEXT
);
CREATE TABLE feed_documents (
    sha256      TEXT PRIMARY KEY,
    body        BLOB NOT NULL,
    first_at_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE feed_polls (
    id          INTEGER PRIMARY KEY,
    feed        TEXT NOT NULL,
    at_ms       INTEGER NOT NULL,
    outcome     TEXT NOT NULL,
    http_status INTEGER,
    sha256      TEXT,
    bytes       INTEGER,
    duration_ms REAL,
    error       TEXT,
    leaf_idx    INTEGER NOT NULL
);
CREATE INDEX feed_polls_feed_at ON feed_polls (feed, at_ms);
CREATE TABLE provider_incidents (
    feed             TEXT NOT NULL,
    external_id      TEXT NOT NULL,
    provider         TEXT NOT NULL,
    first_seen_at_ms INTEGER NOT NULL,
    last_seen_at_ms  INTEGER NOT NULL,
    removed_at_ms    INTEGER,
    revision         INTEGER NOT NULL,
    edited           INTEGER NOT NULL DEFAULT 0,
    current          TEXT NOT NULL,
    PRIMARY KEY (feed, external_id)
) WITHOUT ROWID;
CREATE INDEX provider_incidents_provider ON provider_incidents (provider);
CREATE TABLE provider_revisions (
    feed        TEXT NOT NULL,
    external_id TEXT NOT NULL,
    revision    INTEGER NOT NULL,
    seen_at_ms  INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    changes     TEXT NOT NULL,
    incident    TEXT NOT NULL,
    document    TEXT NOT NULL,
    leaf_idx    INTEGER NOT NULL,
    PRIMARY KEY (feed, external_id, revision)
) WITHOUT ROWID;
CREATE TABLE provider_updates_seen (
    feed             TEXT NOT NULL,
    external_id      TEXT NOT NULL,
    at_ms            INTEGER NOT NULL,
    status           TEXT NOT NULL,
    first_seen_at_ms INTEGER NOT NULL,
    PRIMARY KEY (feed, external_id, at_ms, status)
) WITHOUT ROWID;
"#,
    r#"
-- The alert outbox: written in the transaction of the change that causes the alert,
-- delivered at least once, every attempt kept.
CREATE TABLE alerts (
    id              INTEGER PRIMARY KEY,
    key             TEXT NOT NULL UNIQUE,
    rule            TEXT NOT NULL,
    channel         TEXT NOT NULL,
    event           TEXT NOT NULL,
    target          TEXT,
    incident_id     INTEGER,
    payload         TEXT NOT NULL,
    created_at_ms   INTEGER NOT NULL,
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    delivered_at_ms INTEGER,
    last_error      TEXT
);
CREATE INDEX alerts_due ON alerts (state, next_attempt_ms);
CREATE TABLE alert_attempts (
    alert_id    INTEGER NOT NULL,
    at_ms       INTEGER NOT NULL,
    ok          INTEGER NOT NULL,
    http_status INTEGER,
    error       TEXT,
    duration_ms REAL NOT NULL
);
CREATE INDEX alert_attempts_alert ON alert_attempts (alert_id);
"#,
    r#"
-- Acknowledgments: who took an incident, and when. The first stands.
CREATE TABLE incident_acks (
    incident_id INTEGER PRIMARY KEY,
    at_ms       INTEGER NOT NULL,
    by          TEXT NOT NULL,
    note        TEXT NOT NULL
);
"#,
    r#"
-- API tokens, by their SHA-256 only.
CREATE TABLE api_tokens (
    sha256   TEXT PRIMARY KEY,
    name     TEXT NOT NULL,
    at_ms    INTEGER NOT NULL
) WITHOUT ROWID;
-- The organisation's own status page.
CREATE TABLE status_incidents (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    status         TEXT NOT NULL,
    impact         TEXT NOT NULL,
    components     TEXT NOT NULL,
    created_at_ms  INTEGER NOT NULL,
    updated_at_ms  INTEGER NOT NULL,
    resolved_at_ms INTEGER
) WITHOUT ROWID;
CREATE TABLE status_updates (
    id          TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL,
    at_ms       INTEGER NOT NULL,
    status      TEXT NOT NULL,
    message     TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX status_updates_incident ON status_updates (incident_id, at_ms);
"#,
    r#"
-- Vantage points: results from agents, unmeasured results, agent tokens.
ALTER TABLE results ADD COLUMN unmeasured INTEGER NOT NULL DEFAULT 0;
ALTER TABLE results ADD COLUMN origin TEXT;
ALTER TABLE results ADD COLUMN clock_offset_ms INTEGER;
CREATE UNIQUE INDEX results_origin ON results (origin) WHERE origin IS NOT NULL;
CREATE TABLE incident_vantages (
    incident_id      INTEGER NOT NULL,
    change           TEXT NOT NULL,
    vantage          TEXT NOT NULL,
    status           TEXT NOT NULL,
    failing_since_ms INTEGER,
    last_at_ms       INTEGER,
    PRIMARY KEY (incident_id, change, vantage)
) WITHOUT ROWID;
CREATE TABLE vantages (
    name             TEXT PRIMARY KEY,
    region           TEXT,
    first_contact_ms INTEGER,
    last_contact_ms  INTEGER,
    clock_offset_ms  INTEGER,
    rtt_ms           INTEGER,
    backlog          INTEGER NOT NULL DEFAULT 0,
    dropped          INTEGER NOT NULL DEFAULT 0,
    controls_ok      INTEGER,
    version          TEXT,
    pushes           INTEGER NOT NULL DEFAULT 0,
    results          INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
ALTER TABLE api_tokens ADD COLUMN agent TEXT;
ALTER TABLE api_tokens ADD COLUMN revoked_at_ms INTEGER;
"#,
];

/// Perfect-subtree hashes read through a connection (or a transaction, which derefs to one).
pub(super) struct DbNodes<'a>(pub(super) &'a Connection);

impl merkle::Nodes for DbNodes<'_> {
    fn node(&self, level: u32, index: u64) -> Option<merkle::Hash> {
        let mut stmt = self
            .0
            .prepare_cached("SELECT hash FROM evidence_nodes WHERE level = ?1 AND idx = ?2")
            .ok()?;
        let bytes: Vec<u8> = stmt
            .query_row(params![level, index as i64], |r| r.get(0))
            .ok()?;
        bytes.try_into().ok()
    }
}

pub struct SqliteStore {
    path: PathBuf,
    pub(super) writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    next_result: Mutex<i64>,
    next_incident: Mutex<i64>,
    /// Leaves in the evidence log (committed).
    pub(super) evidence_size: Mutex<u64>,
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) `probity.db` in `data_dir` and applies migrations.
    pub fn open(data_dir: &Path) -> StoreResult<Self> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.display().to_string(),
            source,
        })?;
        let path = data_dir.join("probity.db");
        let mut conn = Connection::open(&path)?;
        configure(&conn)?;
        migrate(&mut conn)?;
        let next_result: i64 =
            conn.query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM results", [], |r| {
                r.get(0)
            })?;
        let next_incident: i64 =
            conn.query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM incidents", [], |r| {
                r.get(0)
            })?;
        let evidence_size: i64 = conn.query_row(
            "SELECT COALESCE(MAX(idx) + 1, 0) FROM evidence_leaves",
            [],
            |r| r.get(0),
        )?;
        Ok(SqliteStore {
            evidence_size: Mutex::new(evidence_size as u64),
            path,
            writer: Mutex::new(conn),
            readers: Mutex::new(Vec::new()),
            next_result: Mutex::new(next_result),
            next_incident: Mutex::new(next_incident),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(super) fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> StoreResult<T> {
        let conn = self.readers.lock().expect("reader pool").pop();
        let conn = match conn {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    &self.path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                        | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                c.busy_timeout(std::time::Duration::from_secs(10))?;
                c
            }
        };
        let out = f(&conn);
        let mut pool = self.readers.lock().expect("reader pool");
        if pool.len() < 8 {
            pool.push(conn);
        }
        Ok(out?)
    }
}

impl SqliteStore {
    fn check_size(&self, size: u64) -> StoreResult<()> {
        let have = *self.evidence_size.lock().expect("evidence lock");
        if size > have {
            return Err(merkle::ProofError::SizeBeyondLog { size, have }.into());
        }
        Ok(())
    }
}

fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(StoreError::TooNew {
            found: version,
            known,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

fn health_of(s: &str) -> rusqlite::Result<Health> {
    Health::parse(s).ok_or_else(|| {
        rusqlite::Error::InvalidColumnType(0, s.to_string(), rusqlite::types::Type::Text)
    })
}

fn cause_of(class: Option<String>, detail: Option<String>) -> Option<Cause> {
    let class = ErrorClass::parse(&class?)?;
    Some(Cause {
        class,
        detail: detail.unwrap_or_default(),
    })
}

const RESULT_COLUMNS: &str = "id, target, vantage, at_ms, health, dns_ms, connect_ms, tls_ms, ttfb_ms, total_ms, error_class, error, details, unmeasured, origin, clock_offset_ms";

fn result_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ResultRecord> {
    Ok(ResultRecord {
        id: r.get(0)?,
        target: r.get(1)?,
        vantage: r.get(2)?,
        at_ms: r.get(3)?,
        health: health_of(&r.get::<_, String>(4)?)?,
        phases: Phases {
            dns_ms: r.get(5)?,
            connect_ms: r.get(6)?,
            tls_ms: r.get(7)?,
            ttfb_ms: r.get(8)?,
            total_ms: r.get(9)?,
        },
        cause: cause_of(r.get(10)?, r.get(11)?),
        details: r.get(12)?,
        unmeasured: r.get::<_, i64>(13)? != 0,
        origin: r.get(14)?,
        clock_offset_ms: r.get(15)?,
    })
}

fn incident_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<IncidentRecord> {
    Ok(IncidentRecord {
        id: r.get(0)?,
        target: r.get(1)?,
        started_at_ms: r.get(2)?,
        resolved_at_ms: r.get(3)?,
        severity: health_of(&r.get::<_, String>(4)?)?,
        cause: cause_of(r.get(5)?, r.get(6)?).unwrap_or(Cause {
            class: ErrorClass::Condition,
            detail: String::new(),
        }),
        evidence: Vec::new(),
    })
}

impl Store for SqliteStore {
    fn next_result_id(&self) -> StoreResult<i64> {
        let mut n = self.next_result.lock().expect("id lock");
        *n += 1;
        Ok(*n - 1)
    }

    fn next_incident_id(&self) -> StoreResult<i64> {
        let mut n = self.next_incident.lock().expect("id lock");
        *n += 1;
        Ok(*n - 1)
    }

    fn write(&self, batch: &Batch) -> StoreResult<()> {
        let mut conn = self.writer.lock().expect("writer lock");
        let mut evidence_size = self.evidence_size.lock().expect("evidence lock");
        let new_size;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO results (id, target, vantage, at_ms, health, dns_ms, connect_ms, tls_ms, ttfb_ms, total_ms, error_class, error, details, unmeasured, origin, clock_offset_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            )?;
            // Aggregate the batch per minute first, then merge each minute once.
            let mut minutes: HashMap<(&str, &str, i64), Rollup> = HashMap::new();
            let mut inserted_results: Vec<ResultRecord> = Vec::new();
            for r in &batch.results {
                let inserted = insert.execute(params![
                    r.id,
                    r.target,
                    r.vantage,
                    r.at_ms,
                    r.health.as_str(),
                    r.phases.dns_ms,
                    r.phases.connect_ms,
                    r.phases.tls_ms,
                    r.phases.ttfb_ms,
                    r.phases.total_ms,
                    r.cause.as_ref().map(|c| c.class.as_str()),
                    r.cause.as_ref().map(|c| c.detail.as_str()),
                    r.details,
                    r.unmeasured,
                    r.origin,
                    r.clock_offset_ms,
                ])?;
                if inserted == 0 {
                    continue; // already stored: a replayed batch must not count twice
                }
                inserted_results.push(r.clone());
                if r.unmeasured {
                    continue; // stored as evidence, but not a measurement of the target
                }
                let minute = minute_of(r.at_ms);
                let roll = minutes
                    .entry((r.target.as_str(), r.vantage.as_str(), minute))
                    .or_insert_with(|| Rollup {
                        target: r.target.clone(),
                        vantage: r.vantage.clone(),
                        minute_ms: minute,
                        count: 0,
                        failures: 0,
                        degraded: 0,
                        latency_min_ms: f64::INFINITY,
                        latency_max_ms: 0.0,
                        latency_sum_ms: 0.0,
                        sketch: Sketch::new(),
                    });
                add_to_rollup(roll, r);
            }
            let mut get = tx.prepare_cached(
                "SELECT count, failures, degraded, latency_min_ms, latency_max_ms, latency_sum_ms, sketch
                 FROM rollups WHERE target = ?1 AND vantage = ?2 AND minute_ms = ?3",
            )?;
            let mut put = tx.prepare_cached(
                "INSERT OR REPLACE INTO rollups (target, vantage, minute_ms, count, failures, degraded, latency_min_ms, latency_max_ms, latency_sum_ms, sketch)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            let mut hourly = tx.prepare_cached(
                "INSERT INTO hourly (target, vantage, hour_ms, count, failures, degraded) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (target, vantage, hour_ms) DO UPDATE SET
                   count = count + excluded.count, failures = failures + excluded.failures, degraded = degraded + excluded.degraded",
            )?;
            for ((target, vantage, minute), mut roll) in minutes {
                hourly.execute(params![
                    target,
                    vantage,
                    minute.div_euclid(3_600_000) * 3_600_000,
                    roll.count as i64,
                    roll.failures as i64,
                    roll.degraded as i64,
                ])?;
                let existing = get
                    .query_row(params![target, vantage, minute], |row| {
                        Ok((
                            row.get::<_, i64>(0)?,
                            row.get::<_, i64>(1)?,
                            row.get::<_, i64>(2)?,
                            row.get::<_, f64>(3)?,
                            row.get::<_, f64>(4)?,
                            row.get::<_, f64>(5)?,
                            row.get::<_, String>(6)?,
                        ))
                    })
                    .optional()?;
                if let Some((count, failures, degraded, min, max, sum, sketch)) = existing {
                    roll.count += count as u64;
                    roll.failures += failures as u64;
                    roll.degraded += degraded as u64;
                    roll.latency_min_ms = roll.latency_min_ms.min(min);
                    roll.latency_max_ms = roll.latency_max_ms.max(max);
                    roll.latency_sum_ms += sum;
                    let old = Sketch::decode(&sketch).ok_or_else(|| {
                        StoreError::Corrupt(format!("rollup sketch for {target} at {minute}"))
                    })?;
                    roll.sketch.merge(&old);
                }
                if !roll.latency_min_ms.is_finite() {
                    roll.latency_min_ms = 0.0;
                }
                put.execute(params![
                    target,
                    vantage,
                    minute,
                    roll.count as i64,
                    roll.failures as i64,
                    roll.degraded as i64,
                    roll.latency_min_ms,
                    roll.latency_max_ms,
                    roll.latency_sum_ms,
                    roll.sketch.encode(),
                ])?;
            }
            let mut evidence = tx.prepare_cached(
                "INSERT OR IGNORE INTO incident_evidence (incident_id, result_id, role) VALUES (?1, ?2, ?3)",
            )?;
            for change in &batch.incidents {
                match change {
                    IncidentChange::Open {
                        id,
                        target,
                        started_at_ms,
                        severity,
                        cause,
                        evidence: ids,
                        seen,
                    } => {
                        insert_seen(&tx, *id, "opened", seen)?;
                        tx.execute(
                            "INSERT OR IGNORE INTO incidents (id, target, started_at_ms, severity, cause_class, cause_detail)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                            params![id, target, started_at_ms, severity.as_str(), cause.class.as_str(), cause.detail],
                        )?;
                        for r in ids {
                            evidence.execute(params![id, r, "opened"])?;
                        }
                    }
                    IncidentChange::Escalate {
                        id,
                        severity,
                        result_id,
                    } => {
                        tx.execute(
                            "UPDATE incidents SET severity = ?2 WHERE id = ?1",
                            params![id, severity.as_str()],
                        )?;
                        evidence.execute(params![id, result_id, "escalated"])?;
                    }
                    IncidentChange::Resolve {
                        id,
                        resolved_at_ms,
                        evidence: ids,
                        seen,
                    } => {
                        insert_seen(&tx, *id, "resolved", seen)?;
                        tx.execute(
                            "UPDATE incidents SET resolved_at_ms = ?2 WHERE id = ?1",
                            params![id, resolved_at_ms],
                        )?;
                        for r in ids {
                            evidence.execute(params![id, r, "resolved"])?;
                        }
                    }
                }
            }
            // The evidence: one leaf for the results, one per incident change, in the
            // same transaction as what they attest.
            let mut records = Vec::new();
            if !inserted_results.is_empty() {
                records.push(crate::store::leaf::results_record(&inserted_results));
            }
            records.extend(
                batch
                    .incidents
                    .iter()
                    .map(crate::store::leaf::incident_record),
            );
            let size = append_leaves(&tx, log_size(&tx)?, &records)?;
            // Remember which leaf holds each incident change, for the incident's page.
            let first_incident_leaf = size - batch.incidents.len() as u64;
            let mut link = tx.prepare_cached(
                "INSERT OR IGNORE INTO incident_leaves (incident_id, change, leaf_idx) VALUES (?1, ?2, ?3)",
            )?;
            for (i, change) in batch.incidents.iter().enumerate() {
                link.execute(params![
                    change.id(),
                    change.kind(),
                    (first_incident_leaf + i as u64) as i64
                ])?;
            }
            new_size = size;
            insert_alerts(&tx, &batch.alerts)?;
        }
        tx.commit()?;
        *evidence_size = new_size;
        Ok(())
    }

    fn append_evidence(&self, records: &[Vec<u8>]) -> StoreResult<u64> {
        let mut conn = self.writer.lock().expect("writer lock");
        let mut evidence_size = self.evidence_size.lock().expect("evidence lock");
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let first = log_size(&tx)?;
        let size = append_leaves(&tx, first, records)?;
        tx.commit()?;
        *evidence_size = size;
        Ok(first)
    }

    fn results(
        &self,
        target: &str,
        since_ms: Option<i64>,
        until_ms: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<ResultRecord>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {RESULT_COLUMNS} FROM results
                 WHERE target = ?1 AND at_ms >= ?2 AND at_ms < ?3
                 ORDER BY at_ms DESC, id DESC LIMIT ?4"
            ))?;
            let rows = stmt.query_map(
                params![
                    target,
                    since_ms.unwrap_or(i64::MIN),
                    until_ms.unwrap_or(i64::MAX),
                    limit as i64
                ],
                result_row,
            )?;
            rows.collect()
        })
    }

    fn latest_results(&self) -> StoreResult<Vec<ResultRecord>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {RESULT_COLUMNS} FROM results WHERE id IN (SELECT MAX(id) FROM results GROUP BY target)"
            ))?;
            let rows = stmt.query_map([], result_row)?;
            rows.collect()
        })
    }

    fn incidents(&self, filter: IncidentFilter) -> StoreResult<Vec<IncidentRecord>> {
        let cond = match filter {
            IncidentFilter::Open => "WHERE resolved_at_ms IS NULL",
            IncidentFilter::Resolved => "WHERE resolved_at_ms IS NOT NULL",
            IncidentFilter::All => "",
        };
        self.read(|c| query_incidents(c, cond, []))
    }

    fn incident(&self, id: i64) -> StoreResult<Option<IncidentRecord>> {
        self.read(|c| query_incidents(c, "WHERE id = ?1", [id]).map(|mut v| v.pop()))
    }

    fn rollups(&self, target: &str, since_ms: i64, until_ms: i64) -> StoreResult<Vec<Rollup>> {
        let rows = self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT target, vantage, minute_ms, count, failures, degraded, latency_min_ms, latency_max_ms, latency_sum_ms, sketch
                 FROM rollups WHERE target = ?1 AND minute_ms >= ?2 AND minute_ms < ?3 ORDER BY minute_ms",
            )?;
            let rows = stmt.query_map(params![target, since_ms, until_ms], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, f64>(6)?,
                    r.get::<_, f64>(7)?,
                    r.get::<_, f64>(8)?,
                    r.get::<_, String>(9)?,
                ))
            })?;
            rows.collect::<Result<Vec<_>, _>>()
        })?;
        rows.into_iter()
            .map(
                |(target, vantage, minute_ms, count, failures, degraded, min, max, sum, sketch)| {
                    let sketch = Sketch::decode(&sketch).ok_or_else(|| {
                        StoreError::Corrupt(format!("rollup sketch for {target} at {minute_ms}"))
                    })?;
                    Ok(Rollup {
                        target,
                        vantage,
                        minute_ms,
                        count: count as u64,
                        failures: failures as u64,
                        degraded: degraded as u64,
                        latency_min_ms: min,
                        latency_max_ms: max,
                        latency_sum_ms: sum,
                        sketch,
                    })
                },
            )
            .collect()
    }

    fn availability(
        &self,
        target: &str,
        since_ms: i64,
        until_ms: i64,
    ) -> StoreResult<Availability> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT COALESCE(SUM(count), 0), COALESCE(SUM(failures), 0), COALESCE(SUM(degraded), 0)
                 FROM rollups WHERE target = ?1 AND minute_ms >= ?2 AND minute_ms < ?3",
            )?;
            stmt.query_row(params![target, minute_of(since_ms), until_ms], |r| {
                Ok(Availability {
                    count: r.get::<_, i64>(0)? as u64,
                    failures: r.get::<_, i64>(1)? as u64,
                    degraded: r.get::<_, i64>(2)? as u64,
                })
            })
        })
    }

    fn availability_by_target(
        &self,
        since_ms: i64,
        until_ms: i64,
    ) -> StoreResult<HashMap<String, Availability>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT target, SUM(count), SUM(failures), SUM(degraded) FROM hourly
                 WHERE hour_ms >= ?1 AND hour_ms < ?2 GROUP BY target",
            )?;
            let rows = stmt.query_map(
                params![since_ms.div_euclid(3_600_000) * 3_600_000, until_ms],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        Availability {
                            count: r.get::<_, i64>(1)? as u64,
                            failures: r.get::<_, i64>(2)? as u64,
                            degraded: r.get::<_, i64>(3)? as u64,
                        },
                    ))
                },
            )?;
            rows.collect()
        })
    }

    fn evidence_size(&self) -> StoreResult<u64> {
        // Read from the database: another process may have appended since the last write
        // here. The figure cached for the proof checks follows.
        let size = self.read(|c| {
            c.query_row(
                "SELECT COALESCE(MAX(idx) + 1, 0) FROM evidence_leaves",
                [],
                |r| r.get::<_, i64>(0),
            )
        })? as u64;
        let mut cached = self.evidence_size.lock().expect("evidence lock");
        *cached = (*cached).max(size);
        Ok(size)
    }

    fn evidence_root(&self, size: u64) -> StoreResult<merkle::Hash> {
        self.check_size(size)?;
        let r = self.read(|c| Ok(merkle::root(&DbNodes(c), size)))?;
        Ok(r?)
    }

    fn inclusion_proof(
        &self,
        index: u64,
        size: u64,
    ) -> StoreResult<(merkle::Hash, Vec<merkle::Hash>)> {
        self.check_size(size)?;
        let r = self.read(|c| {
            let leaf = merkle::Nodes::node(&DbNodes(c), 0, index);
            Ok((leaf, merkle::inclusion_proof(&DbNodes(c), index, size)))
        })?;
        let proof = r.1?;
        let leaf =
            r.0.ok_or(merkle::ProofError::IndexOutOfRange { index, size })?;
        Ok((leaf, proof))
    }

    fn consistency_proof(&self, old: u64, new: u64) -> StoreResult<Vec<merkle::Hash>> {
        self.check_size(new)?;
        let r = self.read(|c| Ok(merkle::consistency_proof(&DbNodes(c), old, new)))?;
        Ok(r?)
    }

    fn evidence_records(&self, from: u64, to: u64) -> StoreResult<Vec<EvidenceLeaf>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT idx, record, leaf_hash, at_ms FROM evidence_leaves WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
            )?;
            let rows = stmt.query_map(params![from as i64, to as i64], |r| {
                Ok(EvidenceLeaf {
                    index: r.get::<_, i64>(0)? as u64,
                    record: r.get(1)?,
                    leaf_hash: r.get(2)?,
                    at_ms: r.get(3)?,
                })
            })?;
            rows.collect()
        })
    }

    fn evidence_range_by_time(&self, from_ms: i64, to_ms: i64) -> StoreResult<Option<(u64, u64)>> {
        self.read(|c| {
            c.query_row(
                "SELECT MIN(idx), MAX(idx) FROM evidence_leaves WHERE at_ms >= ?1 AND at_ms < ?2",
                params![from_ms, to_ms],
                |r| Ok(r.get::<_, Option<i64>>(0)?.zip(r.get::<_, Option<i64>>(1)?)),
            )
            .map(|o| o.map(|(a, b)| (a as u64, b as u64 + 1)))
        })
    }

    fn last_export(&self) -> StoreResult<Option<u64>> {
        self.read(|c| {
            c.query_row(
                "SELECT MAX(checkpoint_size) FROM evidence_exports",
                [],
                |r| r.get::<_, Option<i64>>(0),
            )
            .map(|o| o.map(|n| n as u64))
        })
    }

    fn note_export(&self, checkpoint_size: u64) -> StoreResult<()> {
        let conn = self.writer.lock().expect("writer lock");
        conn.execute(
            "INSERT INTO evidence_exports (at_ms, checkpoint_size) VALUES (?1, ?2)",
            params![
                jiff::Timestamp::now().as_millisecond(),
                checkpoint_size as i64
            ],
        )?;
        Ok(())
    }

    fn incident_leaves(&self, incident_id: i64) -> StoreResult<Vec<(String, u64)>> {
        self.read(|c| {
            let mut stmt =
                c.prepare_cached("SELECT change, leaf_idx FROM incident_leaves WHERE incident_id = ?1 ORDER BY leaf_idx")?;
            let rows = stmt.query_map([incident_id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))?;
            rows.collect()
        })
    }

    fn add_checkpoint(&self, cp: &StoredCheckpoint) -> StoreResult<()> {
        let conn = self.writer.lock().expect("writer lock");
        conn.execute(
            "INSERT OR IGNORE INTO evidence_checkpoints (size, root, note, at_ms) VALUES (?1, ?2, ?3, ?4)",
            params![cp.size as i64, cp.root.as_slice(), cp.note, cp.at_ms],
        )?;
        Ok(())
    }

    fn checkpoints(&self) -> StoreResult<Vec<StoredCheckpoint>> {
        self.read(|c| query_checkpoints(c, "ORDER BY size", []))
    }

    fn latest_checkpoint(&self) -> StoreResult<Option<StoredCheckpoint>> {
        self.read(|c| query_checkpoints(c, "ORDER BY size DESC LIMIT 1", []).map(|mut v| v.pop()))
    }

    fn checkpoint_at(&self, size: u64) -> StoreResult<Option<StoredCheckpoint>> {
        self.read(|c| query_checkpoints(c, "WHERE size = ?1", [size as i64]).map(|mut v| v.pop()))
    }

    fn checkpoint_covering(&self, leaf: u64) -> StoreResult<Option<u64>> {
        self.read(|c| {
            c.query_row(
                "SELECT MIN(size) FROM evidence_checkpoints WHERE size > ?1",
                [leaf as i64],
                |r| r.get::<_, Option<i64>>(0),
            )
            .map(|o| o.map(|n| n as u64))
        })
    }

    fn add_token(&self, sha256_hex: &str, name: &str, at_ms: i64) -> StoreResult<()> {
        let conn = self.writer.lock().expect("writer lock");
        conn.execute(
            "INSERT INTO api_tokens (sha256, name, at_ms) VALUES (?1, ?2, ?3)",
            params![sha256_hex, name, at_ms],
        )?;
        Ok(())
    }

    fn token_exists(&self, sha256_hex: &str) -> StoreResult<bool> {
        self.read(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM api_tokens WHERE sha256 = ?1 AND agent IS NULL AND revoked_at_ms IS NULL",
                [sha256_hex],
                |r| r.get::<_, i64>(0),
            )
        })
        .map(|n| n > 0)
    }

    fn daily_availability(
        &self,
        since_ms: i64,
    ) -> StoreResult<HashMap<(String, i64), Availability>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT target, (hour_ms / 86400000) * 86400000 AS day, SUM(count), SUM(failures), SUM(degraded)
                 FROM hourly WHERE hour_ms >= ?1 GROUP BY target, day",
            )?;
            let rows = stmt.query_map([since_ms], |r| {
                Ok((
                    (r.get::<_, String>(0)?, r.get::<_, i64>(1)?),
                    Availability {
                        count: r.get::<_, i64>(2)? as u64,
                        failures: r.get::<_, i64>(3)? as u64,
                        degraded: r.get::<_, i64>(4)? as u64,
                    },
                ))
            })?;
            rows.collect()
        })
    }

    fn known_origins(&self, origins: &[String]) -> StoreResult<std::collections::HashSet<String>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT 1 FROM results WHERE origin = ?1")?;
            let mut known = std::collections::HashSet::new();
            for o in origins {
                if stmt.exists([o])? {
                    known.insert(o.clone());
                }
            }
            Ok(known)
        })
    }

    fn incident_vantages(
        &self,
        incident_id: i64,
    ) -> StoreResult<Vec<(String, probity_core::quorum::Seen)>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT change, vantage, status, failing_since_ms, last_at_ms FROM incident_vantages
                 WHERE incident_id = ?1 ORDER BY change DESC, vantage",
            )?;
            let rows = stmt.query_map([incident_id], |r| {
                let status: String = r.get(2)?;
                Ok((
                    r.get::<_, String>(0)?,
                    probity_core::quorum::Seen {
                        vantage: r.get(1)?,
                        status: probity_core::quorum::VantageStatus::parse(&status)
                            .unwrap_or(probity_core::quorum::VantageStatus::Unknown),
                        failing_since_ms: r.get(3)?,
                        last_at_ms: r.get(4)?,
                    },
                ))
            })?;
            rows.collect()
        })
    }

    fn failing_vantage_counts(&self) -> StoreResult<HashMap<i64, u32>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT incident_id, COUNT(*) FROM incident_vantages
                 WHERE change = 'opened' AND failing_since_ms IS NOT NULL GROUP BY incident_id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)? as u32))
            })?;
            rows.collect()
        })
    }

    fn note_vantage(&self, v: &VantageRecord) -> StoreResult<()> {
        let conn = self.writer.lock().expect("writer lock");
        conn.execute(
            "INSERT INTO vantages (name, region, first_contact_ms, last_contact_ms, clock_offset_ms, rtt_ms, backlog, dropped, controls_ok, version, pushes, results)
             VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
             ON CONFLICT (name) DO UPDATE SET
               region = excluded.region, last_contact_ms = excluded.last_contact_ms,
               clock_offset_ms = COALESCE(excluded.clock_offset_ms, clock_offset_ms),
               rtt_ms = COALESCE(excluded.rtt_ms, rtt_ms),
               backlog = excluded.backlog, dropped = excluded.dropped,
               controls_ok = excluded.controls_ok, version = excluded.version,
               pushes = pushes + excluded.pushes, results = results + excluded.results",
            params![
                v.name,
                v.region,
                v.last_contact_ms,
                v.clock_offset_ms,
                v.rtt_ms,
                v.backlog as i64,
                v.dropped as i64,
                v.controls_ok,
                v.version,
                v.pushes as i64,
                v.results as i64,
            ],
        )?;
        Ok(())
    }

    fn vantages(&self) -> StoreResult<Vec<VantageRecord>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT name, region, first_contact_ms, last_contact_ms, clock_offset_ms, rtt_ms, backlog, dropped, controls_ok, version, pushes, results
                 FROM vantages ORDER BY name",
            )?;
            let rows = stmt.query_map([], vantage_row)?;
            rows.collect()
        })
    }

    fn add_agent_token(&self, sha256_hex: &str, agent: &str, at_ms: i64) -> StoreResult<()> {
        let conn = self.writer.lock().expect("writer lock");
        conn.execute(
            "INSERT INTO api_tokens (sha256, name, at_ms, agent) VALUES (?1, ?2, ?3, ?2)",
            params![sha256_hex, agent, at_ms],
        )?;
        Ok(())
    }

    fn agent_of_token(&self, sha256_hex: &str) -> StoreResult<Option<String>> {
        self.read(|c| {
            c.query_row(
                "SELECT agent FROM api_tokens WHERE sha256 = ?1 AND agent IS NOT NULL AND revoked_at_ms IS NULL",
                [sha256_hex],
                |r| r.get(0),
            )
            .optional()
        })
    }

    fn revoke_agent_tokens(&self, agent: &str, at_ms: i64) -> StoreResult<usize> {
        let conn = self.writer.lock().expect("writer lock");
        Ok(conn.execute(
            "UPDATE api_tokens SET revoked_at_ms = ?2 WHERE agent = ?1 AND revoked_at_ms IS NULL",
            params![agent, at_ms],
        )?)
    }

    fn token_count(&self) -> StoreResult<u64> {
        self.read(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM api_tokens WHERE agent IS NULL",
                [],
                |r| r.get::<_, i64>(0),
            )
        })
        .map(|n| n as u64)
    }

    fn create_status_incident(&self, i: &StatusIncident) -> StoreResult<()> {
        let mut conn = self.writer.lock().expect("writer lock");
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let n = tx.execute(
            "INSERT OR IGNORE INTO status_incidents (id, name, status, impact, components, created_at_ms, updated_at_ms, resolved_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                i.id,
                i.name,
                i.status,
                i.impact,
                serde_json::to_string(&i.components).unwrap_or_default(),
                i.created_at_ms,
                i.updated_at_ms,
                i.resolved_at_ms
            ],
        )?;
        if n == 0 {
            // Already there (an automatic incident written twice): the first stands.
            return Ok(());
        }
        for u in &i.updates {
            tx.execute(
                "INSERT INTO status_updates (id, incident_id, at_ms, status, message) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![u.id, i.id, u.at_ms, u.status, u.message],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn add_status_update(
        &self,
        incident_id: &str,
        u: &StatusUpdate,
    ) -> StoreResult<Option<StatusIncident>> {
        {
            let mut conn = self.writer.lock().expect("writer lock");
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let n = tx.execute(
                "UPDATE status_incidents SET status = ?2, updated_at_ms = ?3,
                    resolved_at_ms = CASE WHEN ?2 = 'resolved' THEN COALESCE(resolved_at_ms, ?3) ELSE NULL END
                 WHERE id = ?1",
                params![incident_id, u.status, u.at_ms],
            )?;
            if n == 0 {
                return Ok(None);
            }
            tx.execute(
                "INSERT INTO status_updates (id, incident_id, at_ms, status, message) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![u.id, incident_id, u.at_ms, u.status, u.message],
            )?;
            tx.commit()?;
        }
        Ok(self
            .status_incidents()?
            .into_iter()
            .find(|i| i.id == incident_id))
    }

    fn status_incidents(&self) -> StoreResult<Vec<StatusIncident>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, name, status, impact, components, created_at_ms, updated_at_ms, resolved_at_ms
                 FROM status_incidents ORDER BY created_at_ms DESC, id",
            )?;
            let mut incidents: Vec<StatusIncident> = stmt
                .query_map([], |r| {
                    let comps: String = r.get(4)?;
                    Ok(StatusIncident {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        status: r.get(2)?,
                        impact: r.get(3)?,
                        components: serde_json::from_str(&comps).unwrap_or_default(),
                        created_at_ms: r.get(5)?,
                        updated_at_ms: r.get(6)?,
                        resolved_at_ms: r.get(7)?,
                        updates: Vec::new(),
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            let mut up = c.prepare_cached(
                "SELECT id, at_ms, status, message FROM status_updates WHERE incident_id = ?1 ORDER BY at_ms, id",
            )?;
            for i in &mut incidents {
                i.updates = up
                    .query_map([&i.id], |r| {
                        Ok(StatusUpdate {
                            id: r.get(0)?,
                            at_ms: r.get(1)?,
                            status: r.get(2)?,
                            message: r.get(3)?,
                        })
                    })?
                    .collect::<rusqlite::Result<_>>()?;
            }
            Ok(incidents)
        })
    }

    fn enqueue_alerts(&self, alerts: &[NewAlert]) -> StoreResult<()> {
        if alerts.is_empty() {
            return Ok(());
        }
        let mut conn = self.writer.lock().expect("writer lock");
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        insert_alerts(&tx, alerts)?;
        tx.commit()?;
        Ok(())
    }

    fn ack_incident(&self, id: i64, at_ms: i64, by: &str, note: &str) -> StoreResult<bool> {
        let conn = self.writer.lock().expect("writer lock");
        let n = conn.execute(
            "INSERT OR IGNORE INTO incident_acks (incident_id, at_ms, by, note) VALUES (?1, ?2, ?3, ?4)",
            params![id, at_ms, by, note],
        )?;
        Ok(n == 1)
    }

    fn incident_ack(&self, id: i64) -> StoreResult<Option<(i64, String, String)>> {
        self.read(|c| {
            c.query_row(
                "SELECT at_ms, by, note FROM incident_acks WHERE incident_id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
        })
    }

    fn due_alerts(&self, now_ms: i64, limit: usize) -> StoreResult<Vec<StoredAlert>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {ALERT_COLUMNS} FROM alerts WHERE state = 'pending' AND next_attempt_ms <= ?1
                 ORDER BY next_attempt_ms, id LIMIT ?2"
            ))?;
            stmt.query_map(params![now_ms, limit as i64], alert_row)?
                .collect()
        })
    }

    fn record_alert_attempt(
        &self,
        id: i64,
        attempt: &AlertAttempt,
        state: &str,
        next_attempt_ms: i64,
    ) -> StoreResult<()> {
        let mut conn = self.writer.lock().expect("writer lock");
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO alert_attempts (alert_id, at_ms, ok, http_status, error, duration_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id, attempt.at_ms, attempt.ok, attempt.http_status, attempt.error, attempt.duration_ms],
        )?;
        tx.execute(
            "UPDATE alerts SET attempts = attempts + 1, state = ?2, next_attempt_ms = ?3,
                delivered_at_ms = CASE WHEN ?4 THEN ?5 ELSE delivered_at_ms END,
                last_error = ?6
             WHERE id = ?1",
            params![
                id,
                state,
                next_attempt_ms,
                attempt.ok,
                attempt.at_ms,
                attempt.error
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn alerts(&self, limit: usize) -> StoreResult<Vec<(StoredAlert, Vec<AlertAttempt>)>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {ALERT_COLUMNS} FROM alerts ORDER BY id DESC LIMIT ?1"
            ))?;
            let alerts: Vec<StoredAlert> = stmt
                .query_map([limit as i64], alert_row)?
                .collect::<rusqlite::Result<_>>()?;
            let mut att = c.prepare_cached(
                "SELECT at_ms, ok, http_status, error, duration_ms FROM alert_attempts WHERE alert_id = ?1 ORDER BY rowid",
            )?;
            alerts
                .into_iter()
                .map(|a| {
                    let attempts = att
                        .query_map([a.id], |r| {
                            Ok(AlertAttempt {
                                at_ms: r.get(0)?,
                                ok: r.get(1)?,
                                http_status: r.get(2)?,
                                error: r.get(3)?,
                                duration_ms: r.get(4)?,
                            })
                        })?
                        .collect::<rusqlite::Result<_>>()?;
                    Ok((a, attempts))
                })
                .collect()
        })
    }

    fn next_alert_due(&self) -> StoreResult<Option<i64>> {
        self.read(|c| {
            c.query_row(
                "SELECT MIN(next_attempt_ms) FROM alerts WHERE state = 'pending'",
                [],
                |r| r.get(0),
            )
        })
    }

    fn first_measured(&self) -> StoreResult<HashMap<String, i64>> {
        self.read(|c| {
            let mut stmt =
                c.prepare_cached("SELECT target, MIN(minute_ms) FROM rollups GROUP BY target")?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
            rows.collect()
        })
    }

    fn record_feed_poll(&self, poll: &FeedPoll) -> StoreResult<PollSummary> {
        let mut conn = self.writer.lock().expect("writer lock");
        let mut evidence_size = self.evidence_size.lock().expect("evidence lock");
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let (summary, size) = super::sqlite_feeds::record_poll(&tx, log_size(&tx)?, poll)?;
        tx.commit()?;
        *evidence_size = size;
        Ok(summary)
    }

    fn feed_states(&self) -> StoreResult<Vec<FeedState>> {
        self.read(super::sqlite_feeds::feed_states)
    }

    fn provider_incidents(
        &self,
        filter: &ProviderFilter,
    ) -> StoreResult<Vec<StoredProviderIncident>> {
        self.read(|c| super::sqlite_feeds::provider_incidents(c, filter))
    }

    fn feed_record_from_rows(&self, leaf: u64) -> StoreResult<Option<(Vec<u8>, Option<bool>)>> {
        self.read(|c| super::sqlite_feeds::record_from_rows(c, leaf))
    }

    fn feed_document(&self, sha256: &str) -> StoreResult<Option<Vec<u8>>> {
        self.read(|c| {
            c.query_row(
                "SELECT body FROM feed_documents WHERE sha256 = ?1",
                [sha256],
                |r| r.get(0),
            )
            .optional()
        })
    }

    fn prune(&self, raw_before_ms: i64, rollup_before_ms: i64) -> StoreResult<Pruned> {
        let conn = self.writer.lock().expect("writer lock");
        // Results that are evidence of an incident are kept as long as the incident.
        let results = conn.execute(
            "DELETE FROM results WHERE at_ms < ?1 AND id NOT IN (SELECT result_id FROM incident_evidence)",
            [raw_before_ms],
        )?;
        let rollups = conn.execute(
            "DELETE FROM rollups WHERE minute_ms < ?1",
            [rollup_before_ms],
        )?;
        conn.execute("DELETE FROM hourly WHERE hour_ms < ?1", [rollup_before_ms])?;
        Ok(Pruned { results, rollups })
    }
}

/// Puts alerts in the outbox inside the caller's transaction; a key already there is left
/// as it is (the same alert written twice is one alert).
fn insert_alerts(tx: &rusqlite::Transaction<'_>, alerts: &[NewAlert]) -> rusqlite::Result<()> {
    let mut outbox = tx.prepare_cached(
        "INSERT OR IGNORE INTO alerts (key, rule, channel, event, target, incident_id, payload, created_at_ms, state, next_attempt_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', ?8)",
    )?;
    for a in alerts {
        outbox.execute(params![
            a.key,
            a.rule,
            a.channel,
            a.event,
            a.target,
            a.incident_id,
            a.payload,
            a.created_at_ms
        ])?;
    }
    Ok(())
}

const ALERT_COLUMNS: &str = "id, key, rule, channel, event, target, incident_id, payload, created_at_ms, state, attempts, next_attempt_ms, delivered_at_ms, last_error";

fn alert_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredAlert> {
    Ok(StoredAlert {
        id: r.get(0)?,
        alert: NewAlert {
            key: r.get(1)?,
            rule: r.get(2)?,
            channel: r.get(3)?,
            event: r.get(4)?,
            target: r.get(5)?,
            incident_id: r.get(6)?,
            payload: r.get(7)?,
            created_at_ms: r.get(8)?,
        },
        state: r.get(9)?,
        attempts: r.get(10)?,
        next_attempt_ms: r.get(11)?,
        delivered_at_ms: r.get(12)?,
        last_error: r.get(13)?,
    })
}

/// The evidence log's size as committed, read inside the writer's transaction: another
/// process (`probity feeds import` beside `probity run`) may have appended since this one
/// last looked, so the in-memory figure is only a cache.
fn log_size(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<u64> {
    tx.query_row(
        "SELECT COALESCE(MAX(idx) + 1, 0) FROM evidence_leaves",
        [],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n as u64)
}

/// Appends leaves for `records` at `size`, with every perfect subtree they complete; returns
/// the new size. Runs inside the caller's transaction.
pub(super) fn append_leaves(
    tx: &rusqlite::Transaction<'_>,
    mut size: u64,
    records: &[Vec<u8>],
) -> StoreResult<u64> {
    let now = jiff::Timestamp::now().as_millisecond();
    let mut leaf_stmt = tx.prepare_cached(
        "INSERT INTO evidence_leaves (idx, record, leaf_hash, at_ms) VALUES (?1, ?2, ?3, ?4)",
    )?;
    let mut node_stmt =
        tx.prepare_cached("INSERT INTO evidence_nodes (level, idx, hash) VALUES (?1, ?2, ?3)")?;
    for record in records {
        let leaf = merkle::leaf_hash(record);
        leaf_stmt.execute(params![size as i64, record, leaf.as_slice(), now])?;
        for (level, idx, hash) in merkle::append(&DbNodes(tx), size, leaf)? {
            node_stmt.execute(params![level, idx as i64, hash.as_slice()])?;
        }
        size += 1;
    }
    Ok(size)
}

/// Incidents matching `cond` (a WHERE clause or nothing), newest first, with their evidence.
fn query_incidents<P: rusqlite::Params>(
    c: &Connection,
    cond: &str,
    params: P,
) -> rusqlite::Result<Vec<IncidentRecord>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT id, target, started_at_ms, resolved_at_ms, severity, cause_class, cause_detail
         FROM incidents {cond} ORDER BY started_at_ms DESC, id DESC"
    ))?;
    let mut out: Vec<IncidentRecord> = stmt
        .query_map(params, incident_row)?
        .collect::<Result<_, _>>()?;
    let mut ev = c.prepare_cached(
        "SELECT result_id FROM incident_evidence WHERE incident_id = ?1 ORDER BY result_id",
    )?;
    for inc in &mut out {
        inc.evidence = ev
            .query_map([inc.id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
    }
    Ok(out)
}

/// Checkpoints selected by `tail` (WHERE / ORDER BY / LIMIT).
fn query_checkpoints<P: rusqlite::Params>(
    c: &Connection,
    tail: &str,
    params: P,
) -> rusqlite::Result<Vec<StoredCheckpoint>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT size, root, note, at_ms FROM evidence_checkpoints {tail}"
    ))?;
    let rows = stmt.query_map(params, |r| {
        let root: Vec<u8> = r.get(1)?;
        Ok(StoredCheckpoint {
            size: r.get::<_, i64>(0)? as u64,
            root: root.try_into().unwrap_or([0; 32]),
            note: r.get(2)?,
            at_ms: r.get(3)?,
        })
    })?;
    rows.collect()
}

fn insert_seen(
    tx: &rusqlite::Transaction<'_>,
    id: i64,
    change: &str,
    seen: &[probity_core::quorum::Seen],
) -> StoreResult<()> {
    let mut put = tx.prepare_cached(
        "INSERT OR IGNORE INTO incident_vantages (incident_id, change, vantage, status, failing_since_ms, last_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for v in seen {
        put.execute(params![
            id,
            change,
            v.vantage,
            v.status.as_str(),
            v.failing_since_ms,
            v.last_at_ms
        ])?;
    }
    Ok(())
}

fn vantage_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<VantageRecord> {
    Ok(VantageRecord {
        name: r.get(0)?,
        region: r.get(1)?,
        first_contact_ms: r.get(2)?,
        last_contact_ms: r.get(3)?,
        clock_offset_ms: r.get(4)?,
        rtt_ms: r.get(5)?,
        backlog: r.get::<_, i64>(6)? as u64,
        dropped: r.get::<_, i64>(7)? as u64,
        controls_ok: r.get::<_, Option<i64>>(8)?.map(|v| v != 0),
        version: r.get(9)?,
        pushes: r.get::<_, i64>(10)? as u64,
        results: r.get::<_, i64>(11)? as u64,
    })
}

fn add_to_rollup(roll: &mut Rollup, r: &ResultRecord) {
    roll.count += 1;
    match r.health {
        Health::Down => roll.failures += 1,
        Health::Degraded => roll.degraded += 1,
        Health::Up => {}
    }
    if let Some(ms) = r.phases.total_ms {
        roll.latency_min_ms = roll.latency_min_ms.min(ms);
        roll.latency_max_ms = roll.latency_max_ms.max(ms);
        roll.latency_sum_ms += ms;
        roll.sketch.insert(ms);
    }
}
