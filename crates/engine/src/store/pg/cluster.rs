//! Several servers on one database: heartbeats, leases, and ids handed out in blocks.

use super::*;

/// The database's clock in epoch milliseconds, for heartbeats and leases (the servers'
/// clocks may differ; the database's is the one they share).
const NOW_MS: &str = "(extract(epoch FROM clock_timestamp()) * 1000)::BIGINT";

/// Result ids per block: at 10,000 results a second a block lasts about half an hour, and
/// the next one is fetched when half of it is used, so a database outage of a quarter of
/// an hour at that rate does not stop ids being handed out.
pub(super) const RESULT_BLOCK: i64 = 1 << 24;
/// Incident ids per block.
pub(super) const INCIDENT_BLOCK: i64 = 1 << 10;

/// One kind of id, handed out from blocks of `size` ids taken from `sequence`: block `b`
/// is `b * size + 1 ..= (b + 1) * size`, and no two servers ever get one block.
pub(super) struct IdBlock {
    sequence: &'static str,
    size: i64,
    /// The next id and the end (exclusive) of the block in use.
    current: Option<(i64, i64)>,
    /// The block after it, fetched ahead.
    ahead: Option<(i64, i64)>,
}

impl IdBlock {
    fn new(sequence: &'static str, size: i64) -> IdBlock {
        IdBlock {
            sequence,
            size,
            current: None,
            ahead: None,
        }
    }

    /// Block `b` as the range of ids it holds.
    fn block(&self, b: i64) -> (i64, i64) {
        (b * self.size + 1, (b + 1) * self.size + 1)
    }

    /// The next id; `fetch` takes the next block number from the sequence when no id is
    /// left, and ahead once half of the block in use is used (a failure then is only
    /// logged: it is tried again at the next id).
    fn next(&mut self, fetch: &mut dyn FnMut(&str) -> StoreResult<i64>) -> StoreResult<i64> {
        if self.current.is_none_or(|(n, end)| n >= end) {
            self.current = Some(match self.ahead.take() {
                Some(b) => b,
                None => self.block(fetch(self.sequence)?),
            });
        }
        let (n, end) = self.current.expect("set above");
        if self.ahead.is_none() && n - (end - self.size) >= self.size / 2 {
            match fetch(self.sequence) {
                Ok(b) => self.ahead = Some(self.block(b)),
                Err(e) => tracing::warn!(
                    error = %e,
                    sequence = self.sequence,
                    "could not fetch the next block of ids ahead; trying again at the next id"
                ),
            }
        }
        self.current = Some((n + 1, end));
        Ok(n)
    }

    /// Takes a first block now (while the database answers: a store opens only then), so
    /// that ids are handed out during an outage that starts later.
    fn prime(&mut self, fetch: &mut dyn FnMut(&str) -> StoreResult<i64>) -> StoreResult<()> {
        if self.current.is_none() {
            self.current = Some(self.block(fetch(self.sequence)?));
        }
        Ok(())
    }

    /// Forgets the blocks held (after rows were copied in behind the store's back).
    pub(super) fn reset(&mut self) {
        self.current = None;
        self.ahead = None;
    }
}

/// The result and incident id blocks of one store.
pub(super) struct IdBlocks {
    pub(super) result: Mutex<IdBlock>,
    pub(super) incident: Mutex<IdBlock>,
}

impl Default for IdBlocks {
    fn default() -> Self {
        IdBlocks {
            result: Mutex::new(IdBlock::new("result_id_blocks", RESULT_BLOCK)),
            incident: Mutex::new(IdBlock::new("incident_id_blocks", INCIDENT_BLOCK)),
        }
    }
}

/// Moves the block sequences past every id already in the tables (rows copied in by
/// `store migrate`, or written before blocks existed). Run under the migration lock.
pub(super) fn bump_id_blocks(c: &mut impl GenericClient) -> StoreResult<()> {
    for (seq, table, size) in [
        ("result_id_blocks", "results", RESULT_BLOCK),
        ("incident_id_blocks", "incidents", INCIDENT_BLOCK),
    ] {
        c.execute(
            &format!(
                "SELECT setval('{seq}', GREATEST(s.last_value + CASE WHEN s.is_called THEN 1 ELSE 0 END,
                         (SELECT (COALESCE(MAX(id), 0) + $1 - 1) / $1 FROM {table})), false)
                 FROM {seq} s"
            ),
            &[&size],
        )?;
    }
    Ok(())
}

impl PgStore {
    /// Makes the coming days' partitions of `results` (a server at start; the prune job
    /// does it again each pass), one process at a time.
    pub fn ensure_partitions(&self) -> StoreResult<()> {
        self.write(|c| {
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&super::MIGRATE_LOCK])?;
            super::partitions::ensure(&mut tx, jiff::Timestamp::now().as_millisecond())?;
            tx.commit()?;
            Ok(())
        })
    }

    /// Takes the first block of each kind of id now (a server, at start; commands take
    /// theirs when they first need an id, most never do).
    pub fn prime_ids(&self) -> StoreResult<()> {
        for block in [&self.ids.result, &self.ids.incident] {
            let mut block = block.lock().expect("id block lock");
            block.prime(&mut |seq| {
                self.read(|c| {
                    Ok(c.query_one(&format!("SELECT nextval('{seq}')"), &[])?
                        .try_get(0)?)
                })
            })?;
        }
        Ok(())
    }

    /// The next id from `block`, fetching blocks through a reader connection.
    pub(super) fn next_id(&self, block: &Mutex<IdBlock>) -> StoreResult<i64> {
        let mut block = block.lock().expect("id block lock");
        block.next(&mut |seq| {
            self.read(|c| {
                Ok(c.query_one(&format!("SELECT nextval('{seq}')"), &[])?
                    .try_get(0)?)
            })
        })
    }
}

fn member(r: &Row) -> StoreResult<Member> {
    Ok(Member {
        name: r.try_get(0)?,
        instance: r.try_get(1)?,
        address: r.try_get(2)?,
        started_at_ms: r.try_get(3)?,
        heartbeat_at_ms: r.try_get(4)?,
        targets: r.try_get::<_, i64>(5)?.max(0) as u64,
    })
}

impl ClusterStore for PgStore {
    fn shared(&self) -> bool {
        true
    }

    fn heartbeat(&self, me: &Member, ttl_ms: i64) -> StoreResult<Vec<Member>> {
        self.read(|c| {
            let mut tx = c.transaction()?;
            // Taken over only from a process whose heartbeat stopped.
            let ours = tx.query_opt(
                &format!(
                    "INSERT INTO servers (name, instance, address, started_at_ms, heartbeat_at_ms, targets)
                     VALUES ($1, $2, $3, $4, {NOW_MS}, $5)
                     ON CONFLICT (name) DO UPDATE SET
                         instance = EXCLUDED.instance, address = EXCLUDED.address,
                         started_at_ms = EXCLUDED.started_at_ms,
                         heartbeat_at_ms = EXCLUDED.heartbeat_at_ms, targets = EXCLUDED.targets
                     WHERE servers.instance = EXCLUDED.instance
                        OR servers.heartbeat_at_ms < {NOW_MS} - $6
                     RETURNING name"
                ),
                &[
                    &me.name,
                    &me.instance,
                    &me.address,
                    &me.started_at_ms,
                    &(me.targets as i64),
                    &ttl_ms,
                ],
            )?;
            if ours.is_none() {
                let other = tx.query_one(
                    &format!("SELECT address, {NOW_MS} - heartbeat_at_ms FROM servers WHERE name = $1"),
                    &[&me.name],
                )?;
                let (address, age): (String, i64) = (other.try_get(0)?, other.try_get(1)?);
                return Err(StoreError::Config(format!(
                    "another server named {:?} ({address}) is running on {} (its last heartbeat {} ms ago): give each server its own [server] name",
                    me.name,
                    self.shown,
                    age.max(0)
                )));
            }
            let rows = tx.query(
                &format!(
                    "SELECT name, instance, address, started_at_ms, heartbeat_at_ms, targets
                     FROM servers WHERE heartbeat_at_ms >= {NOW_MS} - $1 ORDER BY name"
                ),
                &[&ttl_ms],
            )?;
            tx.commit()?;
            rows.iter().map(member).collect()
        })
    }

    fn leave(&self, name: &str, instance: &str) -> StoreResult<()> {
        self.read(|c| {
            c.execute(
                "DELETE FROM servers WHERE name = $1 AND instance = $2",
                &[&name, &instance],
            )?;
            // Expired rather than deleted: the epoch goes on counting hand-overs.
            c.execute(
                &format!("UPDATE leases SET expires_at_ms = {NOW_MS} - 1 WHERE instance = $1"),
                &[&instance],
            )?;
            Ok(())
        })
    }

    fn lease(
        &self,
        job: &str,
        holder: &str,
        instance: &str,
        ttl_ms: i64,
    ) -> StoreResult<Option<i64>> {
        self.read(|c| {
            let row = c.query_opt(
                &format!(
                    "INSERT INTO leases (job, holder, instance, epoch, expires_at_ms)
                     VALUES ($1, $2, $3, 1, {NOW_MS} + $4)
                     ON CONFLICT (job) DO UPDATE SET
                         holder = EXCLUDED.holder, instance = EXCLUDED.instance,
                         epoch = leases.epoch
                             + CASE WHEN leases.instance = EXCLUDED.instance THEN 0 ELSE 1 END,
                         expires_at_ms = EXCLUDED.expires_at_ms
                     WHERE leases.instance = EXCLUDED.instance OR leases.expires_at_ms < {NOW_MS}
                     RETURNING epoch"
                ),
                &[&job, &holder, &instance, &ttl_ms],
            )?;
            Ok(match row {
                Some(r) => Some(r.try_get(0)?),
                None => None,
            })
        })
    }

    fn release(&self, job: &str, instance: &str) -> StoreResult<()> {
        self.read(|c| {
            // Expired rather than deleted: the epoch goes on counting hand-overs.
            c.execute(
                &format!(
                    "UPDATE leases SET expires_at_ms = {NOW_MS} - 1 WHERE job = $1 AND instance = $2"
                ),
                &[&job, &instance],
            )?;
            Ok(())
        })
    }

    fn leases(&self) -> StoreResult<Vec<Lease>> {
        self.read(|c| {
            c.query(
                "SELECT job, holder, instance, epoch, expires_at_ms FROM leases ORDER BY job",
                &[],
            )?
            .iter()
            .map(|r| {
                Ok(Lease {
                    job: r.try_get(0)?,
                    holder: r.try_get(1)?,
                    instance: r.try_get(2)?,
                    epoch: r.try_get(3)?,
                    expires_at_ms: r.try_get(4)?,
                })
            })
            .collect()
        })
    }
}
