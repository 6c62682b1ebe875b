//! SQLite: observed incidents: reading them, what each vantage saw, acknowledgments.

use super::*;
use rusqlite::{OptionalExtension, params};
use std::collections::HashMap;

impl IncidentStore for SqliteStore {
    fn incidents(&self, filter: IncidentFilter) -> StoreResult<Vec<IncidentRecord>> {
        let (cond, bounds) = match filter {
            IncidentFilter::Open => ("WHERE resolved_at_ms IS NULL", vec![]),
            IncidentFilter::Resolved => ("WHERE resolved_at_ms IS NOT NULL", vec![]),
            IncidentFilter::All => ("", vec![]),
            IncidentFilter::Overlapping { from_ms, until_ms } => (
                "WHERE started_at_ms < ?1 AND (resolved_at_ms IS NULL OR resolved_at_ms >= ?2)",
                vec![until_ms, from_ms],
            ),
        };
        self.read(|c| query_incidents(c, cond, rusqlite::params_from_iter(bounds)))
    }

    fn incident(&self, id: i64) -> StoreResult<Option<IncidentRecord>> {
        self.read(|c| query_incidents(c, "WHERE id = ?1", [id]).map(|mut v| v.pop()))
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

    fn escalated_at(&self) -> StoreResult<HashMap<i64, i64>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT e.incident_id, MIN(r.at_ms) FROM incident_evidence e
                 JOIN results r ON r.id = e.result_id
                 WHERE e.role = 'escalated' GROUP BY e.incident_id",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?;
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

    fn ack_incident(&self, id: i64, at_ms: i64, by: &str, note: &str) -> StoreResult<bool> {
        let conn = self.writer.lock().expect("writer lock");
        let n = conn.execute(
            "INSERT OR IGNORE INTO incident_acks (incident_id, at_ms, by, note) VALUES (?1, ?2, ?3, ?4)",
            params![id, at_ms, by, note],
        )?;
        Ok(n == 1)
    }

    fn acknowledged_open(&self) -> StoreResult<std::collections::HashSet<i64>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT a.incident_id FROM incident_acks a JOIN incidents i ON i.id = a.incident_id
                 WHERE i.resolved_at_ms IS NULL",
            )?;
            let rows = stmt.query_map([], |r| r.get::<_, i64>(0))?;
            rows.collect()
        })
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
}
