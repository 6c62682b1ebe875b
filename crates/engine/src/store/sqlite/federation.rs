//! SQLite: outage statements received from federation peers, and what was sent to them.

use super::*;
use probity_core::federation::{Envelope, Statement};
use rusqlite::params;

impl FederationStore for SqliteStore {
    fn add_statement(
        &self,
        st: &Statement,
        envelope: &Envelope,
        received_ms: i64,
    ) -> StoreResult<bool> {
        let json =
            serde_json::to_string(envelope).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let conn = self.writer.lock().expect("writer lock");
        let n = conn.execute(
            "INSERT INTO federation_received (origin, incident, ended, start_ms, end_ms, envelope, received_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
            params![
                st.origin,
                st.incident,
                st.end_ms.is_some(),
                st.start_ms,
                st.end_ms,
                json,
                received_ms
            ],
        )?;
        Ok(n == 1)
    }

    fn statements(&self, since_ms: i64, as_of_ms: i64) -> StoreResult<Vec<ReceivedStatement>> {
        let rows: Vec<(String, i64)> = self.read(|c| {
            // The latest version of each (origin, incident) received before `as_of`.
            let mut stmt = c.prepare_cached(
                "SELECT envelope, received_ms FROM federation_received f
                 WHERE received_ms < ?2 AND (end_ms IS NULL OR end_ms >= ?1)
                   AND NOT EXISTS (SELECT 1 FROM federation_received g
                       WHERE g.origin = f.origin AND g.incident = f.incident
                         AND g.ended > f.ended AND g.received_ms < ?2)
                 ORDER BY origin, incident",
            )?;
            let rows =
                stmt.query_map(params![since_ms, as_of_ms], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })?;
        rows.into_iter()
            .map(|(json, received_ms)| {
                let (statement, envelope) = crate::store::decode_statement(&json)?;
                Ok(ReceivedStatement {
                    statement,
                    envelope,
                    received_ms,
                })
            })
            .collect()
    }

    fn statement_sent(&self, peer: &str, incident: i64, ended: bool) -> StoreResult<bool> {
        self.read(|c| {
            c.query_row(
                "SELECT EXISTS (SELECT 1 FROM federation_sent WHERE peer = ?1 AND incident = ?2 AND ended = ?3)",
                params![peer, incident, ended],
                |r| r.get(0),
            )
        })
    }

    fn mark_statement_sent(
        &self,
        peer: &str,
        incident: i64,
        ended: bool,
        at_ms: i64,
    ) -> StoreResult<()> {
        let conn = self.writer.lock().expect("writer lock");
        conn.execute(
            "INSERT INTO federation_sent (peer, incident, ended, at_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT DO NOTHING",
            params![peer, incident, ended, at_ms],
        )?;
        Ok(())
    }
}
