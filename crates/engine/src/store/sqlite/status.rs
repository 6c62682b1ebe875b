//! SQLite: the public status page's posted incidents and updates.

use super::*;
use rusqlite::params;

impl StatusStore for SqliteStore {
    fn create_status_incident(&self, i: &StatusIncident) -> StoreResult<()> {
        let mut conn = self.writer.lock().expect("writer lock");
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let n = tx.execute(
            "INSERT OR IGNORE INTO status_incidents (id, name, status, impact, components, created_at_ms, updated_at_ms, resolved_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                i.id,
                i.name,
                i.status,
                i.impact,
                serde_json::to_string(&i.components).unwrap_or_default(),
                i.created_at_ms,
                i.updated_at_ms,
                i.resolved_at_ms
            ],
        )?;
        if n == 0 {
            // Already there (an automatic incident written twice): the first stands.
            return Ok(());
        }
        for u in &i.updates {
            tx.execute(
                "INSERT INTO status_updates (id, incident_id, at_ms, status, message) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![u.id, i.id, u.at_ms, u.status, u.message],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn add_status_update(
        &self,
        incident_id: &str,
        u: &StatusUpdate,
    ) -> StoreResult<Option<StatusIncident>> {
        {
            let mut conn = self.writer.lock().expect("writer lock");
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let n = tx.execute(
                "UPDATE status_incidents SET status = ?2, updated_at_ms = ?3,
                    resolved_at_ms = CASE WHEN ?2 = 'resolved' THEN COALESCE(resolved_at_ms, ?3) ELSE NULL END
                 WHERE id = ?1",
                params![incident_id, u.status, u.at_ms],
            )?;
            if n == 0 {
                return Ok(None);
            }
            tx.execute(
                "INSERT INTO status_updates (id, incident_id, at_ms, status, message) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![u.id, incident_id, u.at_ms, u.status, u.message],
            )?;
            tx.commit()?;
        }
        self.read(|c| status_rows(c, Some(incident_id)))
            .map(|mut v| v.pop())
    }

    fn status_marks(&self) -> StoreResult<StatusMarks> {
        self.read(|c| {
            c.prepare_cached(STATUS_MARKS)?.query_row([], |r| {
                Ok(StatusMarks {
                    incidents: r.get(0)?,
                    resolved: r.get(1)?,
                    max_incident: r.get(2)?,
                    status_incidents: r.get(3)?,
                    status_updates: r.get(4)?,
                })
            })
        })
    }

    fn status_incidents(&self) -> StoreResult<Vec<StatusIncident>> {
        self.read(|c| status_rows(c, None))
    }
}

/// Status-page incidents with their updates, newest first: every one, or the one `id` names.
fn status_rows(c: &Connection, id: Option<&str>) -> rusqlite::Result<Vec<StatusIncident>> {
    const COLUMNS: &str =
        "SELECT id, name, status, impact, components, created_at_ms, updated_at_ms, resolved_at_ms
         FROM status_incidents";
    let mut stmt = c.prepare_cached(&match id {
        Some(_) => format!("{COLUMNS} WHERE id = ?1"),
        None => format!("{COLUMNS} ORDER BY created_at_ms DESC, id"),
    })?;
    let params: &[&dyn rusqlite::ToSql] = match &id {
        Some(id) => &[id],
        None => &[],
    };
    let mut incidents: Vec<StatusIncident> = stmt
        .query_map(params, |r| {
            let comps: String = r.get(4)?;
            Ok(StatusIncident {
                id: r.get(0)?,
                name: r.get(1)?,
                status: r.get(2)?,
                impact: r.get(3)?,
                components: serde_json::from_str(&comps).unwrap_or_default(),
                created_at_ms: r.get(5)?,
                updated_at_ms: r.get(6)?,
                resolved_at_ms: r.get(7)?,
                updates: Vec::new(),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut up = c.prepare_cached(
        "SELECT id, at_ms, status, message FROM status_updates WHERE incident_id = ?1 ORDER BY at_ms, id",
    )?;
    for i in &mut incidents {
        i.updates = up
            .query_map([&i.id], |r| {
                Ok(StatusUpdate {
                    id: r.get(0)?,
                    at_ms: r.get(1)?,
                    status: r.get(2)?,
                    message: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
    }
    Ok(incidents)
}
