//! SQLite: agents as vantages: their last contact, clock and backlog.

use super::*;
use rusqlite::params;

impl VantageStore for SqliteStore {
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
}
