//! PostgreSQL: the evidence log: leaves, the Merkle tree, proofs, checkpoints, exports.

use super::*;

impl EvidenceStore for PgStore {
    fn append_evidence(&self, records: &[Vec<u8>]) -> StoreResult<u64> {
        let mut evidence_size = self.evidence_size.lock().expect("evidence lock");
        let (first, size) = self.write(|c| {
            let mut tx = c.transaction()?;
            let mut log = self.take_log(&mut tx)?;
            let first = log.size;
            let size = append_leaves(&mut tx, &mut log, records)?;
            tx.commit()?;
            self.keep_log(log);
            Ok((first, size))
        })?;
        *evidence_size = size;
        Ok(first)
    }

    fn evidence_size(&self) -> StoreResult<u64> {
        // Read from the database: another process may have appended since the last write
        // here. The figure cached for the proof checks follows.
        let size = self.read(log_size)?;
        let mut cached = self.evidence_size.lock().expect("evidence lock");
        *cached = (*cached).max(size);
        Ok(size)
    }

    fn evidence_root(&self, size: u64) -> StoreResult<merkle::Hash> {
        self.check_size(size)?;
        self.read(|c| Ok(merkle::root(&PgNodes::new(c), size)?))
    }

    fn inclusion_proof(
        &self,
        index: u64,
        size: u64,
    ) -> StoreResult<(merkle::Hash, Vec<merkle::Hash>)> {
        self.check_size(size)?;
        self.read(|c| {
            let nodes = PgNodes::new(c);
            let leaf = merkle::Nodes::node(&nodes, 0, index);
            let proof = merkle::inclusion_proof(&nodes, index, size)?;
            let leaf = leaf.ok_or(merkle::ProofError::IndexOutOfRange { index, size })?;
            Ok((leaf, proof))
        })
    }

    fn consistency_proof(&self, old: u64, new: u64) -> StoreResult<Vec<merkle::Hash>> {
        self.check_size(new)?;
        self.read(|c| Ok(merkle::consistency_proof(&PgNodes::new(c), old, new)?))
    }

    fn evidence_records_within(
        &self,
        from: u64,
        to: u64,
        max_bytes: usize,
    ) -> StoreResult<Vec<EvidenceLeaf>> {
        self.read(|c| {
            // Read in pages so a page of huge records is not all fetched to be cut short.
            let stmt = c.prepare(
                "SELECT idx, record, leaf_hash, at_ms FROM evidence_leaves
                 WHERE idx >= $1 AND idx < $2 ORDER BY idx LIMIT 256",
            )?;
            let (mut out, mut bytes, mut at) = (Vec::new(), 0usize, from);
            while at < to {
                let rows = c.query(&stmt, &[&(at as i64), &(to as i64)])?;
                if rows.is_empty() {
                    break;
                }
                for r in &rows {
                    let leaf = EvidenceLeaf {
                        index: r.try_get::<_, i64>(0)? as u64,
                        record: r.try_get(1)?,
                        leaf_hash: r.try_get(2)?,
                        at_ms: r.try_get(3)?,
                        rebuilt: false,
                    };
                    at = leaf.index + 1;
                    bytes = bytes.saturating_add(leaf.record.len());
                    out.push(leaf);
                    if bytes >= max_bytes {
                        return Ok(out);
                    }
                }
            }
            Ok(out)
        })
    }

    fn evidence_range_by_time(&self, from_ms: i64, to_ms: i64) -> StoreResult<Option<(u64, u64)>> {
        self.read(|c| {
            let r = c.query_one(
                "SELECT MIN(idx), MAX(idx) FROM evidence_leaves WHERE at_ms >= $1 AND at_ms < $2",
                &[&from_ms, &to_ms],
            )?;
            let (a, b): (Option<i64>, Option<i64>) = (r.try_get(0)?, r.try_get(1)?);
            Ok(a.zip(b).map(|(a, b)| (a as u64, b as u64 + 1)))
        })
    }

    fn last_export(&self) -> StoreResult<Option<u64>> {
        self.read(|c| {
            let n: Option<i64> = c
                .query_one("SELECT MAX(checkpoint_size) FROM evidence_exports", &[])?
                .try_get(0)?;
            Ok(n.map(|n| n as u64))
        })
    }

    fn note_export(&self, checkpoint_size: u64) -> StoreResult<()> {
        self.write(|c| {
            c.execute(
                "INSERT INTO evidence_exports (at_ms, checkpoint_size) VALUES ($1, $2)",
                &[
                    &jiff::Timestamp::now().as_millisecond(),
                    &(checkpoint_size as i64),
                ],
            )?;
            Ok(())
        })
    }

    fn incident_leaves(&self, incident_id: i64) -> StoreResult<Vec<(String, u64)>> {
        self.read(|c| {
            c.query(
                "SELECT change, leaf_idx FROM incident_leaves WHERE incident_id = $1 ORDER BY leaf_idx",
                &[&incident_id],
            )?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get::<_, i64>(1)? as u64)))
            .collect()
        })
    }

    fn add_checkpoint(&self, cp: &StoredCheckpoint) -> StoreResult<()> {
        self.write(|c| {
            c.execute(
                "INSERT INTO evidence_checkpoints (size, root, note, at_ms) VALUES ($1, $2, $3, $4)
                 ON CONFLICT DO NOTHING",
                &[&(cp.size as i64), &cp.root.as_slice(), &cp.note, &cp.at_ms],
            )?;
            Ok(())
        })
    }

    fn checkpoints(&self) -> StoreResult<Vec<StoredCheckpoint>> {
        self.read(|c| query_checkpoints(c, "ORDER BY size", &[]))
    }

    fn checkpoints_after(
        &self,
        after: Option<u64>,
        limit: usize,
    ) -> StoreResult<Vec<StoredCheckpoint>> {
        let after = after.map_or(-1, |a| a.min(i64::MAX as u64) as i64);
        let limit = limit.min(i64::MAX as usize) as i64;
        self.read(|c| {
            query_checkpoints(
                c,
                "WHERE size > $1 ORDER BY size LIMIT $2",
                &[&after, &limit],
            )
        })
    }

    fn latest_checkpoint(&self) -> StoreResult<Option<StoredCheckpoint>> {
        self.read(|c| query_checkpoints(c, "ORDER BY size DESC LIMIT 1", &[]).map(|mut v| v.pop()))
    }

    fn first_checkpoint_since(&self, at_ms: i64) -> StoreResult<Option<StoredCheckpoint>> {
        self.read(|c| {
            query_checkpoints(c, "WHERE at_ms >= $1 ORDER BY size LIMIT 1", &[&at_ms])
                .map(|mut v| v.pop())
        })
    }

    fn checkpoint_at(&self, size: u64) -> StoreResult<Option<StoredCheckpoint>> {
        self.read(|c| {
            query_checkpoints(c, "WHERE size = $1", &[&(size as i64)]).map(|mut v| v.pop())
        })
    }

    fn checkpoint_covering(&self, leaf: u64) -> StoreResult<Option<u64>> {
        self.read(|c| {
            let n: Option<i64> = c
                .query_one(
                    "SELECT MIN(size) FROM evidence_checkpoints WHERE size > $1",
                    &[&(leaf as i64)],
                )?
                .try_get(0)?;
            Ok(n.map(|n| n as u64))
        })
    }
}
