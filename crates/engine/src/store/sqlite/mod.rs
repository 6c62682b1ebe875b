//! The embedded store: SQLite in WAL mode under the data directory.
//!
//! One writer connection (the recorder is the only writer) and a small pool of readers for
//! the API. `synchronous=FULL`: a committed batch survives a process kill and a power loss.

mod chunks;
mod cluster;
mod evidence;
mod federation;
mod feed_rows;
mod feeds;
mod incidents;
mod outbox;
mod results;
mod status;
mod tokens;
mod vantages;
mod witness;

pub(crate) use chunks::each_chunked;
pub(crate) use evidence::records_within;

use super::*;
use probity_core::merkle;
use probity_core::result::ErrorClass;
use rusqlite::{Connection, params};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001.sql"),
    include_str!("migrations/0002.sql"),
    include_str!("migrations/0003.sql"),
    include_str!("migrations/0004.sql"),
    include_str!("migrations/0005.sql"),
    include_str!("migrations/0006.sql"),
    include_str!("migrations/0007.sql"),
    include_str!("migrations/0008.sql"),
    include_str!("migrations/0009.sql"),
    include_str!("migrations/0010.sql"),
    include_str!("migrations/0011.sql"),
    include_str!("migrations/0012.sql"),
    include_str!("migrations/0013.sql"),
    include_str!("migrations/0014.sql"),
    include_str!("migrations/0015.sql"),
    include_str!("migrations/0016.sql"),
    include_str!("migrations/0017.sql"),
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
    pub(super) ids: Ids,
    /// Leaves in the evidence log (committed).
    pub(super) evidence_size: Mutex<u64>,
    /// The leases this server's jobs took (it holds them all).
    leases: Mutex<std::collections::BTreeMap<String, Lease>>,
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

/// Opens and configures the database and applies migrations. Processes opening one new
/// store at once (a server and `probity gate run`) can meet a lock SQLite's busy handler
/// does not wait for (switching the journal to WAL, a read upgraded to a write): such an
/// open is tried again, for up to 20 s.
fn open_configured(path: &Path) -> StoreResult<Connection> {
    let started = std::time::Instant::now();
    loop {
        let attempt = Connection::open(path)
            .map_err(StoreError::from)
            .and_then(|mut c| {
                configure(&c)?;
                migrate(&mut c)?;
                Ok(c)
            });
        match attempt {
            Err(StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) && started.elapsed() < std::time::Duration::from_secs(20) =>
            {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

impl SqliteStore {
    /// Opens (creating if needed) `probity.db` in `data_dir` and applies migrations.
    pub fn open(data_dir: &Path) -> StoreResult<Self> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.display().to_string(),
            source,
        })?;
        let path = data_dir.join("probity.db");
        let conn = open_configured(&path)?;
        // Ids are never handed out twice: the highest is a row's or a compacted leaf's.
        let next_result: i64 = conn
            .query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM results", [], |r| {
                r.get::<_, i64>(0)
            })?
            .max(chunks::max_chunked_id(&conn)? + 1);
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
            ids: Ids::new(next_result, next_incident),
            leases: Mutex::new(Default::default()),
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
        // Another process opening the same store may have applied it meanwhile: the
        // version read under the write lock decides.
        let now: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if now > i as i64 {
            continue;
        }
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
