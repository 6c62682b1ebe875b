//! PostgreSQL: observed incidents: their changes as a batch writes them, reading them, what
//! each vantage saw, acknowledgments.

use super::*;

fn insert_seen(
    tx: &mut postgres::Transaction<'_>,
    id: i64,
    change: &str,
    seen: &[probity_core::quorum::Seen],
) -> StoreResult<()> {
    if seen.is_empty() {
        return Ok(());
    }
    let put = tx.prepare(
        "INSERT INTO incident_vantages (incident_id, change, vantage, status, failing_since_ms, last_at_ms)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )?;
    for v in seen {
        tx.execute(
            &put,
            &[
                &id,
                &change,
                &v.vantage,
                &v.status.as_str(),
                &v.failing_since_ms,
                &v.last_at_ms,
            ],
        )?;
    }
    Ok(())
}

/// Writes a batch's incident changes (and what each vantage saw) in its transaction.
pub(super) fn write_changes(
    tx: &mut postgres::Transaction<'_>,
    changes: &[IncidentChange],
) -> StoreResult<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let evidence = tx.prepare(
        "INSERT INTO incident_evidence (incident_id, result_id, role) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
    )?;
    for change in changes {
        match change {
            IncidentChange::Open {
                id,
                target,
                started_at_ms,
                severity,
                cause,
                evidence: ids,
                seen,
            } => {
                insert_seen(tx, *id, "opened", seen)?;
                tx.execute(
                    "INSERT INTO incidents (id, target, started_at_ms, severity, cause_class, cause_detail)
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                    &[id, target, started_at_ms, &severity.as_str(), &cause.class.as_str(), &cause.detail],
                )?;
                for r in ids {
                    tx.execute(&evidence, &[id, r, &"opened"])?;
                }
            }
            IncidentChange::Escalate {
                id,
                severity,
                result_id,
            } => {
                tx.execute(
                    "UPDATE incidents SET severity = $2 WHERE id = $1",
                    &[id, &severity.as_str()],
                )?;
                tx.execute(&evidence, &[id, result_id, &"escalated"])?;
            }
            IncidentChange::Resolve {
                id,
                resolved_at_ms,
                evidence: ids,
                seen,
            } => {
                insert_seen(tx, *id, "resolved", seen)?;
                tx.execute(
                    "UPDATE incidents SET resolved_at_ms = $2 WHERE id = $1",
                    &[id, resolved_at_ms],
                )?;
                for r in ids {
                    tx.execute(&evidence, &[id, r, &"resolved"])?;
                }
            }
        }
    }
    Ok(())
}

impl IncidentStore for PgStore {
    fn incidents(&self, filter: IncidentFilter) -> StoreResult<Vec<IncidentRecord>> {
        let (cond, bounds) = match filter {
            IncidentFilter::Open => ("WHERE resolved_at_ms IS NULL", vec![]),
            IncidentFilter::Resolved => ("WHERE resolved_at_ms IS NOT NULL", vec![]),
            IncidentFilter::All => ("", vec![]),
            IncidentFilter::Overlapping { from_ms, until_ms } => (
                "WHERE started_at_ms < $1 AND (resolved_at_ms IS NULL OR resolved_at_ms >= $2)",
                vec![until_ms, from_ms],
            ),
        };
        let params: Vec<&(dyn postgres::types::ToSql + Sync)> = bounds
            .iter()
            .map(|b| b as &(dyn postgres::types::ToSql + Sync))
            .collect();
        self.read(|c| query_incidents(c, cond, &params))
    }

    fn incident(&self, id: i64) -> StoreResult<Option<IncidentRecord>> {
        self.read(|c| query_incidents(c, "WHERE id = $1", &[&id]).map(|mut v| v.pop()))
    }

    fn incident_vantages(
        &self,
        incident_id: i64,
    ) -> StoreResult<Vec<(String, probity_core::quorum::Seen)>> {
        self.read(|c| {
            c.query(
                "SELECT change, vantage, status, failing_since_ms, last_at_ms FROM incident_vantages
                 WHERE incident_id = $1 ORDER BY change DESC, vantage",
                &[&incident_id],
            )?
            .iter()
            .map(|r| {
                let status: String = r.try_get(2)?;
                Ok((
                    r.try_get(0)?,
                    probity_core::quorum::Seen {
                        vantage: r.try_get(1)?,
                        status: probity_core::quorum::VantageStatus::parse(&status)
                            .unwrap_or(probity_core::quorum::VantageStatus::Unknown),
                        failing_since_ms: r.try_get(3)?,
                        last_at_ms: r.try_get(4)?,
                    },
                ))
            })
            .collect()
        })
    }

    fn escalated_at(&self) -> StoreResult<HashMap<i64, i64>> {
        self.read(|c| {
            c.query(
                "SELECT e.incident_id, MIN(r.at_ms) FROM incident_evidence e
                 JOIN results r ON r.id = e.result_id
                 WHERE e.role = 'escalated' GROUP BY e.incident_id",
                &[],
            )?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
        })
    }

    fn failing_vantage_counts(&self) -> StoreResult<HashMap<i64, u32>> {
        self.read(|c| {
            c.query(
                "SELECT incident_id, COUNT(*) FROM incident_vantages
                 WHERE change = 'opened' AND failing_since_ms IS NOT NULL GROUP BY incident_id",
                &[],
            )?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get::<_, i64>(1)? as u32)))
            .collect()
        })
    }

    fn ack_incident(&self, id: i64, at_ms: i64, by: &str, note: &str) -> StoreResult<bool> {
        self.write(|c| {
            Ok(c.execute(
                "INSERT INTO incident_acks (incident_id, at_ms, by, note) VALUES ($1, $2, $3, $4)
                 ON CONFLICT DO NOTHING",
                &[&id, &at_ms, &by, &note],
            )? == 1)
        })
    }

    fn acknowledged_open(&self) -> StoreResult<std::collections::HashSet<i64>> {
        self.read(|c| {
            c.query(
                "SELECT a.incident_id FROM incident_acks a JOIN incidents i ON i.id = a.incident_id
                 WHERE i.resolved_at_ms IS NULL",
                &[],
            )?
            .iter()
            .map(|r| Ok(r.try_get(0)?))
            .collect()
        })
    }

    fn incident_ack(&self, id: i64) -> StoreResult<Option<(i64, String, String)>> {
        self.read(|c| {
            c.query_opt(
                "SELECT at_ms, by, note FROM incident_acks WHERE incident_id = $1",
                &[&id],
            )?
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .transpose()
        })
    }
}
