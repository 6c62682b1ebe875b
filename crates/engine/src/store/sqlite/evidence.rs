//! SQLite: the evidence log: leaves, the Merkle tree, proofs, checkpoints, exports.

use super::*;
use probity_core::merkle;
use rusqlite::{Connection, params};

impl EvidenceStore for SqliteStore {
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

    fn evidence_records_within(
        &self,
        from: u64,
        to: u64,
        max_bytes: usize,
    ) -> StoreResult<Vec<EvidenceLeaf>> {
        self.read_store(|c| records_within(c, from, to, max_bytes))
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

    fn checkpoints_after(
        &self,
        after: Option<u64>,
        limit: usize,
    ) -> StoreResult<Vec<StoredCheckpoint>> {
        let after = after.map_or(-1, |a| a.min(i64::MAX as u64) as i64);
        self.read(|c| {
            query_checkpoints(
                c,
                "WHERE size > ?1 ORDER BY size LIMIT ?2",
                [after, limit.min(i64::MAX as usize) as i64],
            )
        })
    }

    fn latest_checkpoint(&self) -> StoreResult<Option<StoredCheckpoint>> {
        self.read(|c| query_checkpoints(c, "ORDER BY size DESC LIMIT 1", []).map(|mut v| v.pop()))
    }

    fn first_checkpoint_since(&self, at_ms: i64) -> StoreResult<Option<StoredCheckpoint>> {
        self.read(|c| {
            query_checkpoints(c, "WHERE at_ms >= ?1 ORDER BY size LIMIT 1", [at_ms])
                .map(|mut v| v.pop())
        })
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
}

/// The leaves `[from, to)` as read (a compacted leaf's record rebuilt from its chunks), until
/// about `max_bytes` of records, never fewer than one.
pub(crate) fn records_within(
    c: &Connection,
    from: u64,
    to: u64,
    max_bytes: usize,
) -> StoreResult<Vec<EvidenceLeaf>> {
    let mut stmt = c.prepare_cached(
        "SELECT idx, record, leaf_hash, at_ms, span_from_ms, span_to_ms, first_id, last_id FROM evidence_leaves
         WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
    )?;
    let mut rows = stmt.query(params![from as i64, to as i64])?;
    let (mut out, mut bytes) = (Vec::new(), 0usize);
    let mut spans = std::collections::BTreeMap::new();
    while let Some(r) = rows.next()? {
        let leaf = EvidenceLeaf {
            index: r.get::<_, i64>(0)? as u64,
            record: r.get(1)?,
            leaf_hash: r.get(2)?,
            at_ms: r.get(3)?,
            rebuilt: false,
        };
        if let (true, Some(from_ms), Some(to_ms)) = (leaf.record.is_empty(), r.get(4)?, r.get(5)?) {
            // A compacted leaf: its record is rebuilt below, about 140 bytes a
            // result (its ids are a run).
            spans.insert(leaf.index, super::chunks::Span { from_ms, to_ms });
            let (a, b): (i64, i64) = (r.get(6)?, r.get(7)?);
            let n = usize::try_from(b.saturating_sub(a).saturating_add(1)).unwrap_or(1);
            bytes = bytes.saturating_add(n.saturating_mul(140));
        } else {
            bytes = bytes.saturating_add(leaf.record.len());
        }
        out.push(leaf);
        if bytes >= max_bytes {
            break;
        }
    }
    super::chunks::rebuild(c, &mut out, &spans)?;
    Ok(out)
}
