//! The PostgreSQL store: the same traits as the SQLite one, on a database an operator
//! already runs, backs up and replicates.
//!
//! One writer connection (the recorder is the only writer of a server) and a pool of
//! readers. Every transaction that appends to the evidence log first takes a transaction
//! advisory lock ([`EVIDENCE_LOCK`]) and reads the log's size inside it, so two processes on
//! one database (a server and `probity feeds import`, or two servers) append one after the
//! other and never give two leaves one index.
//!
//! Blocking, like the SQLite store: async callers use a dedicated thread or `spawn_blocking`.
//! The client drives each connection on a small runtime of its own, which cannot start
//! inside a task of another runtime; every call therefore runs through
//! `tokio::task::block_in_place`, which leaves the caller's runtime for the call when there
//! is one (and does nothing otherwise). A current-thread runtime cannot do that: callers on
//! one use `spawn_blocking`.

mod cluster;
mod copy;
mod evidence;
mod feeds;
mod incidents;
mod misc;
mod partitions;
mod results;

pub use copy::{Copied, copy_sqlite};

use super::*;
use postgres::{Client, GenericClient, Row, Statement};
use probity_core::merkle;
use probity_core::result::ErrorClass;
use std::cell::RefCell;
use std::sync::Mutex;

/// Migrations, applied in order; `schema_migrations` records each with its checksum.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001.sql"),
    include_str!("migrations/0002.sql"),
    include_str!("migrations/0003.sql"),
    include_str!("migrations/0004.sql"),
    include_str!("migrations/0005.sql"),
];

/// The advisory lock key held while migrating (session level) and while appending to the
/// evidence log (transaction level): "prob" and "evid" as integers.
pub(super) const MIGRATE_LOCK: i64 = 0x7072_6f62_6d69_6772;
pub(super) const EVIDENCE_LOCK: i64 = 0x7072_6f62_6576_6964;
/// How to reach the database: the URL's settings, with the password given apart (from the
/// environment or a file, never written in the configuration).
#[derive(Clone)]
pub struct PgOptions {
    pub url: String,
    pub password: Option<String>,
    /// Connections for readers (the writer has its own).
    pub pool_size: usize,
    /// PEM certificates trusted for the server's TLS certificate, besides the web PKI's
    /// roots (a private CA's).
    pub ca_file: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for PgOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgOptions")
            .field("url", &redact_url(&self.url))
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("pool_size", &self.pool_size)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

/// The URL as it may be shown: any password in it replaced.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (auth, host) = match rest.rsplit_once('@') {
        Some((a, h)) => (a, h),
        None => return url.to_string(),
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:<redacted>@{host}"),
        None => url.to_string(),
    }
}

pub struct PgStore {
    config: postgres::Config,
    tls: Tls,
    shown: String,
    writer: Mutex<Option<Client>>,
    readers: Mutex<Pool>,
    /// Signalled when a reader connection is given back.
    returned: std::sync::Condvar,
    pool_size: usize,
    ids: cluster::IdBlocks,
    /// Leaves in the evidence log, as last seen committed.
    pub(super) evidence_size: Mutex<u64>,
    /// The tree's right edge after this store's last committed append.
    edge: Mutex<Edge>,
}

/// How connections make TLS: rustls, verifying the server's certificate and name (libpq's
/// `verify-full`) whenever TLS is used. `sslmode` says whether it is: `disable` never,
/// `prefer` (the default) when the server offers it, `require` always.
type Tls = tokio_postgres_rustls::MakeRustlsConnect;

fn tls(ca_file: Option<&std::path::Path>) -> StoreResult<Tls> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let bad = |e: &dyn std::fmt::Display| {
            StoreError::Config(format!("[store] ca_file {}: {e}", path.display()))
        };
        let pem = std::fs::read(path).map_err(|e| bad(&e))?;
        let mut added = 0;
        for cert in rustls_pki_types::pem::PemObject::pem_slice_iter(&pem) {
            let cert: rustls_pki_types::CertificateDer<'static> = cert.map_err(|e| bad(&e))?;
            roots.add(cert).map_err(|e| bad(&e))?;
            added += 1;
        }
        if added == 0 {
            return Err(bad(&"holds no PEM certificate"));
        }
    }
    probity_ground::process::install_crypto_provider();
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

fn connect(config: &postgres::Config, tls: &Tls) -> StoreResult<Client> {
    let mut c = config.connect(tls.clone())?;
    // Every statement of the store is short; a lock held by a paused peer must not hang a
    // server forever.
    c.batch_execute(
        "SET lock_timeout = '30s'; SET statement_timeout = '300s'; SET client_min_messages = warning",
    )?;
    Ok(c)
}

impl PgStore {
    /// Connects, applies migrations (refusing a schema newer than this probity knows) and
    /// reads where ids and the evidence log stand.
    pub fn open(options: &PgOptions) -> StoreResult<Self> {
        tokio::task::block_in_place(|| Self::open_here(options))
    }

    fn open_here(options: &PgOptions) -> StoreResult<Self> {
        let mut config: postgres::Config = options
            .url
            .parse()
            .map_err(|e: postgres::Error| StoreError::Config(format!("[store] url: {e}")))?;
        if let Some(p) = &options.password {
            config.password(p);
        }
        if config.get_application_name().is_none() {
            config.application_name("probity");
        }
        config.connect_timeout(std::time::Duration::from_secs(10));
        let shown = redact_url(&options.url);
        let tls = tls(options.ca_file.as_deref())?;
        let mut conn = connect(&config, &tls)?;
        migrate(&mut conn)?;
        let size = log_size(&mut conn)?;
        Ok(PgStore {
            config,
            tls,
            shown,
            writer: Mutex::new(Some(conn)),
            readers: Mutex::new(Pool::default()),
            returned: std::sync::Condvar::new(),
            pool_size: options.pool_size.max(1),
            ids: Default::default(),
            evidence_size: Mutex::new(size),
            edge: Mutex::new(Edge::default()),
        })
    }

    /// The database as it may be shown (no password).
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// Runs `f` on a reader connection: an idle one, a new one while fewer than
    /// `pool_size` are out, else the next one given back (a burst of API requests waits its
    /// turn rather than opening connections the database may not have).
    pub(super) fn read<T>(&self, f: impl FnOnce(&mut Client) -> StoreResult<T>) -> StoreResult<T> {
        tokio::task::block_in_place(|| {
            let idle = {
                let mut pool = self.readers.lock().expect("reader pool");
                while pool.idle.is_empty() && pool.out >= self.pool_size {
                    pool = self.returned.wait(pool).expect("reader pool");
                }
                pool.out += 1;
                pool.idle.pop()
            };
            // Given back however `f` ends, a panic included.
            let mut lease = ReaderLease {
                store: self,
                conn: None,
            };
            lease.conn = Some(match idle {
                Some(c) if !c.is_closed() => c,
                _ => connect(&self.config, &self.tls)?,
            });
            f(lease.conn.as_mut().expect("set above"))
        })
    }

    /// Runs `f` on the writer connection (connected again when the last one broke).
    pub(super) fn write<T>(&self, f: impl FnOnce(&mut Client) -> StoreResult<T>) -> StoreResult<T> {
        let mut guard = self.writer.lock().expect("writer lock");
        tokio::task::block_in_place(|| {
            if guard.as_ref().is_none_or(|c| c.is_closed()) {
                *guard = Some(connect(&self.config, &self.tls)?);
            }
            f(guard.as_mut().expect("connected above"))
        })
    }

    fn check_size(&self, size: u64) -> StoreResult<()> {
        let have = *self.evidence_size.lock().expect("evidence lock");
        if size > have {
            return Err(merkle::ProofError::SizeBeyondLog { size, have }.into());
        }
        Ok(())
    }
}

/// A reader connection in use (or being made): given back to the pool when dropped; a
/// broken one is closed instead (here, outside any runtime: closing blocks).
struct ReaderLease<'a> {
    store: &'a PgStore,
    conn: Option<Client>,
}

impl Drop for ReaderLease<'_> {
    fn drop(&mut self) {
        let conn = self.conn.take().filter(|c| !c.is_closed());
        let mut pool = self.store.readers.lock().expect("reader pool");
        pool.out -= 1;
        pool.idle.extend(conn);
        drop(pool);
        self.store.returned.notify_one();
    }
}

/// Reader connections: those idle, and how many are in use or being made.
#[derive(Default)]
struct Pool {
    idle: Vec<Client>,
    out: usize,
}

impl Drop for PgStore {
    /// Closing a connection blocks on the client's own runtime: done outside the caller's.
    fn drop(&mut self) {
        let writer = self.writer.get_mut().map(Option::take).unwrap_or(None);
        let readers = self
            .readers
            .get_mut()
            .map(|p| std::mem::take(&mut p.idle))
            .unwrap_or_default();
        tokio::task::block_in_place(move || drop((writer, readers)));
    }
}

fn checksum(sql: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(sql.as_bytes()))
}

/// Applies what has not run yet, under a session advisory lock so that servers starting
/// together migrate once. A recorded migration whose checksum differs from this probity's
/// is refused: the schema is not the one this code was written for.
fn migrate(conn: &mut Client) -> StoreResult<()> {
    conn.execute("SELECT pg_advisory_lock($1)", &[&MIGRATE_LOCK])?;
    let out = migrate_locked(conn);
    let unlocked = conn.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATE_LOCK]);
    out?;
    unlocked?;
    Ok(())
}

fn migrate_locked(conn: &mut Client) -> StoreResult<()> {
    conn.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    BIGINT PRIMARY KEY,
             checksum   TEXT NOT NULL,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )?;
    let applied: Vec<(i64, String)> = conn
        .query(
            "SELECT version, checksum FROM schema_migrations ORDER BY version",
            &[],
        )?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<Result<_, postgres::Error>>()?;
    let known = MIGRATIONS.len() as i64;
    if let Some((found, _)) = applied.iter().find(|(v, _)| *v > known) {
        return Err(StoreError::TooNew {
            found: *found,
            known,
        });
    }
    for (version, sum) in &applied {
        let ours = checksum(MIGRATIONS[*version as usize - 1]);
        if *sum != ours {
            return Err(StoreError::Damaged(format!(
                "schema migration {version} was applied with checksum {sum}, this probity's is {ours}: the schema was changed outside probity"
            )));
        }
    }
    let mut migrated = false;
    for (i, sql) in MIGRATIONS.iter().enumerate() {
        let version = i as i64 + 1;
        if applied.iter().any(|(v, _)| *v == version) {
            continue;
        }
        migrated = true;
        let mut tx = conn.transaction()?;
        tx.batch_execute(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)",
            &[&version, &checksum(sql)],
        )?;
        tx.commit()?;
    }
    // Ids written before blocks existed, and the first days' partitions: once, when the
    // schema changed. After that servers make partitions (at start and with each prune)
    // and `store migrate` moves the blocks past what it copied; a command that only reads
    // takes no lock on `results`.
    if migrated {
        cluster::bump_id_blocks(conn)?;
        partitions::ensure(conn, jiff::Timestamp::now().as_millisecond())?;
    }
    Ok(())
}

/// Perfect-subtree hashes read through a connection or a transaction (the statement is
/// prepared at the first read).
pub(super) struct PgNodes<'a, C: GenericClient> {
    client: RefCell<&'a mut C>,
    stmt: RefCell<Option<Statement>>,
}

impl<'a, C: GenericClient> PgNodes<'a, C> {
    pub(super) fn new(client: &'a mut C) -> Self {
        PgNodes {
            client: RefCell::new(client),
            stmt: RefCell::new(None),
        }
    }
}

impl<C: GenericClient> merkle::Nodes for PgNodes<'_, C> {
    fn node(&self, level: u32, index: u64) -> Option<merkle::Hash> {
        let mut client = self.client.borrow_mut();
        let mut stmt = self.stmt.borrow_mut();
        if stmt.is_none() {
            *stmt = Some(
                client
                    .prepare("SELECT hash FROM evidence_nodes WHERE level = $1 AND idx = $2")
                    .ok()?,
            );
        }
        let row = client
            .query_opt(stmt.as_ref()?, &[&(level as i64), &(index as i64)])
            .ok()??;
        let bytes: Vec<u8> = row.try_get(0).ok()?;
        bytes.try_into().ok()
    }
}

/// The evidence log's size as committed.
pub(super) fn log_size(c: &mut impl GenericClient) -> StoreResult<u64> {
    let n: i64 = c
        .query_one("SELECT COALESCE(MAX(idx) + 1, 0) FROM evidence_leaves", &[])?
        .try_get(0)?;
    Ok(n as u64)
}

/// The evidence log taken for one transaction: its size, and the tree's right edge (the
/// perfect subtrees an append joins to, all it reads). The edge is kept between
/// transactions by the store ([`PgStore::keep_log`], after commit only: a rolled-back
/// append must leave nothing behind) and used again when the size under the lock is the
/// one it was kept at; otherwise (another process appended) it is read from the database.
pub(super) struct Log {
    pub(super) size: u64,
    edge: HashMap<(u32, u64), merkle::Hash>,
}

/// Kept by the store between appends: the right edge at `size`.
#[derive(Default)]
pub(super) struct Edge {
    size: u64,
    nodes: HashMap<(u32, u64), merkle::Hash>,
}

/// The right edge's nodes as the database has them, with those known in memory first (and
/// what the database answers remembered).
struct EdgeNodes<'a, 'b, C: GenericClient> {
    known: RefCell<&'b mut HashMap<(u32, u64), merkle::Hash>>,
    db: PgNodes<'a, C>,
}

impl<C: GenericClient> merkle::Nodes for EdgeNodes<'_, '_, C> {
    fn node(&self, level: u32, index: u64) -> Option<merkle::Hash> {
        if let Some(h) = self.known.borrow().get(&(level, index)) {
            return Some(*h);
        }
        let h = self.db.node(level, index)?;
        self.known.borrow_mut().insert((level, index), h);
        Some(h)
    }
}

impl PgStore {
    /// Takes the evidence log for `tx`: appends from any process on the database happen
    /// one after the other (a transaction advisory lock), and the size is read under it.
    pub(super) fn take_log(&self, tx: &mut postgres::Transaction<'_>) -> StoreResult<Log> {
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&EVIDENCE_LOCK])?;
        let size = log_size(tx)?;
        let kept = self.edge.lock().expect("edge lock");
        let edge = if kept.size == size {
            kept.nodes.clone()
        } else {
            HashMap::new()
        };
        Ok(Log { size, edge })
    }

    /// After the transaction that appended committed: keeps the right edge (only it, so
    /// memory stays at about log2 of the size) for the next append.
    pub(super) fn keep_log(&self, log: Log) {
        let size = log.size;
        let mut nodes = log.edge;
        nodes.retain(|&(level, index), _| {
            let above = size >> level;
            above & 1 == 1 && index == above - 1
        });
        *self.edge.lock().expect("edge lock") = Edge { size, nodes };
    }
}

/// Appends leaves for `records` to `log`, with every perfect subtree they complete (two
/// statements whatever their number); returns the new size. Runs inside the transaction
/// `log` was taken for.
pub(super) fn append_leaves(
    tx: &mut postgres::Transaction<'_>,
    log: &mut Log,
    records: &[Vec<u8>],
) -> StoreResult<u64> {
    if records.is_empty() {
        return Ok(log.size);
    }
    let now = jiff::Timestamp::now().as_millisecond();
    let (mut idx, mut hashes, mut at) = (Vec::new(), Vec::new(), Vec::new());
    let (mut levels, mut node_idx, mut node_hashes) = (Vec::new(), Vec::new(), Vec::new());
    for record in records {
        let leaf = merkle::leaf_hash(record);
        idx.push(log.size as i64);
        hashes.push(leaf.to_vec());
        at.push(now);
        let nodes = {
            let reader = EdgeNodes {
                known: RefCell::new(&mut log.edge),
                db: PgNodes::new(tx),
            };
            merkle::append(&reader, log.size, leaf)?
        };
        for (level, index, hash) in nodes {
            log.edge.insert((level, index), hash);
            levels.push(level as i64);
            node_idx.push(index as i64);
            node_hashes.push(hash.to_vec());
        }
        log.size += 1;
    }
    tx.execute(
        "INSERT INTO evidence_leaves (idx, record, leaf_hash, at_ms)
         SELECT * FROM UNNEST($1::BIGINT[], $2::BYTEA[], $3::BYTEA[], $4::BIGINT[])",
        &[&idx, &records, &hashes, &at],
    )?;
    tx.execute(
        "INSERT INTO evidence_nodes (level, idx, hash)
         SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BYTEA[])",
        &[&levels, &node_idx, &node_hashes],
    )?;
    Ok(log.size)
}

fn health_of(s: &str) -> StoreResult<Health> {
    Health::parse(s).ok_or_else(|| StoreError::Corrupt(format!("health {s:?}")))
}

fn cause_of(class: Option<String>, detail: Option<String>) -> Option<Cause> {
    let class = ErrorClass::parse(&class?)?;
    Some(Cause {
        class,
        detail: detail.unwrap_or_default(),
    })
}

const RESULT_COLUMNS: &str = "id, target, vantage, at_ms, health, dns_ms, connect_ms, tls_ms, ttfb_ms, total_ms, error_class, error, details, unmeasured, origin, clock_offset_ms";

fn result_row(r: &Row) -> StoreResult<ResultRecord> {
    Ok(ResultRecord {
        id: r.try_get(0)?,
        target: r.try_get(1)?,
        vantage: r.try_get(2)?,
        at_ms: r.try_get(3)?,
        health: health_of(r.try_get(4)?)?,
        phases: Phases {
            dns_ms: r.try_get(5)?,
            connect_ms: r.try_get(6)?,
            tls_ms: r.try_get(7)?,
            ttfb_ms: r.try_get(8)?,
            total_ms: r.try_get(9)?,
        },
        cause: cause_of(r.try_get(10)?, r.try_get(11)?),
        details: r.try_get(12)?,
        unmeasured: r.try_get(13)?,
        origin: r.try_get(14)?,
        clock_offset_ms: r.try_get(15)?,
    })
}

fn incident_row(r: &Row) -> StoreResult<IncidentRecord> {
    Ok(IncidentRecord {
        id: r.try_get(0)?,
        target: r.try_get(1)?,
        started_at_ms: r.try_get(2)?,
        resolved_at_ms: r.try_get(3)?,
        severity: health_of(r.try_get(4)?)?,
        cause: cause_of(r.try_get(5)?, r.try_get(6)?).unwrap_or(Cause {
            class: ErrorClass::Condition,
            detail: String::new(),
        }),
        evidence: Vec::new(),
    })
}

/// Puts alerts in the outbox inside the caller's transaction; a key already there is left
/// as it is.
fn insert_alerts(tx: &mut postgres::Transaction<'_>, alerts: &[NewAlert]) -> StoreResult<()> {
    if alerts.is_empty() {
        return Ok(());
    }
    let stmt = tx.prepare(
        "INSERT INTO alerts (key, rule, channel, event, target, incident_id, payload, created_at_ms, state, next_attempt_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $8) ON CONFLICT (key) DO NOTHING",
    )?;
    for a in alerts {
        tx.execute(
            &stmt,
            &[
                &a.key,
                &a.rule,
                &a.channel,
                &a.event,
                &a.target,
                &a.incident_id,
                &a.payload,
                &a.created_at_ms,
            ],
        )?;
    }
    Ok(())
}

const ALERT_COLUMNS: &str = "id, key, rule, channel, event, target, incident_id, payload, created_at_ms, state, attempts, next_attempt_ms, delivered_at_ms, last_error";

fn alert_row(r: &Row) -> StoreResult<StoredAlert> {
    Ok(StoredAlert {
        id: r.try_get(0)?,
        alert: NewAlert {
            key: r.try_get(1)?,
            rule: r.try_get(2)?,
            channel: r.try_get(3)?,
            event: r.try_get(4)?,
            target: r.try_get(5)?,
            incident_id: r.try_get(6)?,
            payload: r.try_get(7)?,
            created_at_ms: r.try_get(8)?,
        },
        state: r.try_get(9)?,
        attempts: r.try_get::<_, i64>(10)? as u32,
        next_attempt_ms: r.try_get(11)?,
        delivered_at_ms: r.try_get(12)?,
        last_error: r.try_get(13)?,
    })
}

/// Incidents matching `cond` (a WHERE clause or nothing), newest first, with their evidence.
fn query_incidents(
    c: &mut impl GenericClient,
    cond: &str,
    params: &[&(dyn postgres::types::ToSql + Sync)],
) -> StoreResult<Vec<IncidentRecord>> {
    let rows = c.query(
        &format!(
            "SELECT id, target, started_at_ms, resolved_at_ms, severity, cause_class, cause_detail
             FROM incidents {cond} ORDER BY started_at_ms DESC, id DESC"
        ),
        params,
    )?;
    let mut out: Vec<IncidentRecord> = rows.iter().map(incident_row).collect::<StoreResult<_>>()?;
    if out.is_empty() {
        return Ok(out);
    }
    let ids: Vec<i64> = out.iter().map(|i| i.id).collect();
    let mut evidence: HashMap<i64, Vec<i64>> = HashMap::new();
    for r in c.query(
        "SELECT incident_id, result_id FROM incident_evidence WHERE incident_id = ANY($1) ORDER BY incident_id, result_id",
        &[&ids],
    )? {
        evidence
            .entry(r.try_get(0)?)
            .or_default()
            .push(r.try_get(1)?);
    }
    for inc in &mut out {
        inc.evidence = evidence.remove(&inc.id).unwrap_or_default();
    }
    Ok(out)
}

/// Checkpoints selected by `tail` (WHERE / ORDER BY / LIMIT).
fn query_checkpoints(
    c: &mut impl GenericClient,
    tail: &str,
    params: &[&(dyn postgres::types::ToSql + Sync)],
) -> StoreResult<Vec<StoredCheckpoint>> {
    c.query(
        &format!("SELECT size, root, note, at_ms FROM evidence_checkpoints {tail}"),
        params,
    )?
    .iter()
    .map(|r| {
        let root: Vec<u8> = r.try_get(1)?;
        Ok(StoredCheckpoint {
            size: r.try_get::<_, i64>(0)? as u64,
            root: root.try_into().unwrap_or([0; 32]),
            note: r.try_get(2)?,
            at_ms: r.try_get(3)?,
        })
    })
    .collect()
}

use std::collections::HashMap;
