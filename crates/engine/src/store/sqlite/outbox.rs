//! SQLite: the alert outbox: alerts in, due alerts out, every attempt recorded.

use super::*;
use rusqlite::params;

impl OutboxStore for SqliteStore {
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
}
