//! SQLite: witnessing other logs, and the cosignatures this log was given.

use super::*;
use rusqlite::{OptionalExtension, params};

impl WitnessStore for SqliteStore {
    fn witnessed(&self, origin: &str) -> StoreResult<Option<(u64, [u8; 32])>> {
        let row = self.read(|c| {
            c.query_row(
                "SELECT size, root FROM witnessed WHERE origin = ?1",
                params![origin],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)),
            )
            .optional()
        })?;
        Ok(row.and_then(|(size, root)| Some((size as u64, root.try_into().ok()?))))
    }

    fn advance_witnessed(
        &self,
        origin: &str,
        old: u64,
        size: u64,
        root: [u8; 32],
        at_ms: i64,
    ) -> StoreResult<bool> {
        let mut conn = self.writer.lock().expect("writer lock");
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let current: Option<i64> = tx
            .query_row(
                "SELECT size FROM witnessed WHERE origin = ?1",
                params![origin],
                |r| r.get(0),
            )
            .optional()?;
        let moved = match current {
            None if old == 0 => {
                tx.execute(
                    "INSERT INTO witnessed (origin, size, root, at_ms) VALUES (?1, ?2, ?3, ?4)",
                    params![origin, size as i64, root.as_slice(), at_ms],
                )?;
                true
            }
            Some(c) if c as u64 == old && size >= old => {
                tx.execute(
                    "UPDATE witnessed SET size = ?2, root = ?3, at_ms = ?4 WHERE origin = ?1 AND size = ?5",
                    params![origin, size as i64, root.as_slice(), at_ms, old as i64],
                )? == 1
            }
            _ => false,
        };
        tx.commit()?;
        Ok(moved)
    }

    fn add_cosignature(&self, size: u64, witness: &str, line: &str, at_ms: i64) -> StoreResult<()> {
        let conn = self.writer.lock().expect("writer lock");
        conn.execute(
            "INSERT INTO cosignatures (size, witness, line, at_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (size, witness) DO NOTHING",
            params![size as i64, witness, line, at_ms],
        )?;
        Ok(())
    }

    fn cosignatures(&self, size: u64) -> StoreResult<Vec<(String, String)>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT witness, line FROM cosignatures WHERE size = ?1 ORDER BY witness",
            )?;
            let rows = stmt.query_map(params![size as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
    }

    fn cosigned_size(&self, witness: &str) -> StoreResult<Option<u64>> {
        let v: Option<i64> = self.read(|c| {
            c.query_row(
                "SELECT MAX(size) FROM cosignatures WHERE witness = ?1",
                params![witness],
                |r| r.get(0),
            )
        })?;
        Ok(v.map(|v| v as u64))
    }

    fn latest_cosigned_size(&self, witnesses: usize) -> StoreResult<Option<u64>> {
        let v: Option<i64> = self.read(|c| {
            c.query_row(
                "SELECT MAX(size) FROM (SELECT size FROM cosignatures GROUP BY size HAVING COUNT(*) >= ?1)",
                params![witnesses as i64],
                |r| r.get(0),
            )
        })?;
        Ok(v.map(|v| v as u64))
    }
}
