//! PostgreSQL: the alert outbox, the status page's posts, tokens, vantages, witnessing and
//! federation: the smaller tables, each a few statements.

use super::*;
use probity_core::federation::{Envelope, Statement as FedStatement};

impl OutboxStore for PgStore {
    fn enqueue_alerts(&self, alerts: &[NewAlert]) -> StoreResult<()> {
        if alerts.is_empty() {
            return Ok(());
        }
        self.write(|c| {
            let mut tx = c.transaction()?;
            insert_alerts(&mut tx, alerts)?;
            tx.commit()?;
            Ok(())
        })
    }

    fn due_alerts(&self, now_ms: i64, limit: usize) -> StoreResult<Vec<StoredAlert>> {
        self.read(|c| {
            c.query(
                &format!(
                    "SELECT {ALERT_COLUMNS} FROM alerts WHERE state = 'pending' AND next_attempt_ms <= $1
                     ORDER BY next_attempt_ms, id LIMIT $2"
                ),
                &[&now_ms, &(limit.min(i64::MAX as usize) as i64)],
            )?
            .iter()
            .map(alert_row)
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
        let status = attempt.http_status.map(i64::from);
        self.write(|c| {
            let mut tx = c.transaction()?;
            tx.execute(
                "INSERT INTO alert_attempts (alert_id, at_ms, ok, http_status, error, duration_ms) VALUES ($1, $2, $3, $4, $5, $6)",
                &[&id, &attempt.at_ms, &attempt.ok, &status, &attempt.error, &attempt.duration_ms],
            )?;
            tx.execute(
                "UPDATE alerts SET attempts = attempts + 1, state = $2, next_attempt_ms = $3,
                    delivered_at_ms = CASE WHEN $4 THEN $5 ELSE delivered_at_ms END,
                    last_error = $6
                 WHERE id = $1",
                &[&id, &state, &next_attempt_ms, &attempt.ok, &attempt.at_ms, &attempt.error],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    fn alerts(&self, limit: usize) -> StoreResult<Vec<(StoredAlert, Vec<AlertAttempt>)>> {
        self.read(|c| {
            let alerts: Vec<StoredAlert> = c
                .query(
                    &format!("SELECT {ALERT_COLUMNS} FROM alerts ORDER BY id DESC LIMIT $1"),
                    &[&(limit.min(i64::MAX as usize) as i64)],
                )?
                .iter()
                .map(alert_row)
                .collect::<StoreResult<_>>()?;
            let att = c.prepare(
                "SELECT at_ms, ok, http_status, error, duration_ms FROM alert_attempts WHERE alert_id = $1 ORDER BY id",
            )?;
            alerts
                .into_iter()
                .map(|a| {
                    let attempts = c
                        .query(&att, &[&a.id])?
                        .iter()
                        .map(|r| {
                            Ok(AlertAttempt {
                                at_ms: r.try_get(0)?,
                                ok: r.try_get(1)?,
                                http_status: r.try_get::<_, Option<i64>>(2)?.map(|s| s as u16),
                                error: r.try_get(3)?,
                                duration_ms: r.try_get(4)?,
                            })
                        })
                        .collect::<StoreResult<_>>()?;
                    Ok((a, attempts))
                })
                .collect()
        })
    }

    fn next_alert_due(&self) -> StoreResult<Option<i64>> {
        self.read(|c| {
            Ok(c.query_one(
                "SELECT MIN(next_attempt_ms) FROM alerts WHERE state = 'pending'",
                &[],
            )?
            .try_get(0)?)
        })
    }
}

impl StatusStore for PgStore {
    fn create_status_incident(&self, i: &StatusIncident) -> StoreResult<()> {
        let components = serde_json::to_string(&i.components).unwrap_or_default();
        self.write(|c| {
            let mut tx = c.transaction()?;
            let n = tx.execute(
                "INSERT INTO status_incidents (id, name, status, impact, components, created_at_ms, updated_at_ms, resolved_at_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
                &[&i.id, &i.name, &i.status, &i.impact, &components, &i.created_at_ms, &i.updated_at_ms, &i.resolved_at_ms],
            )?;
            if n == 0 {
                // Already there (an automatic incident written twice): the first stands.
                return Ok(());
            }
            for u in &i.updates {
                tx.execute(
                    "INSERT INTO status_updates (id, incident_id, at_ms, status, message) VALUES ($1, $2, $3, $4, $5)",
                    &[&u.id, &i.id, &u.at_ms, &u.status, &u.message],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn add_status_update(
        &self,
        incident_id: &str,
        u: &StatusUpdate,
    ) -> StoreResult<Option<StatusIncident>> {
        let found = self.write(|c| {
            let mut tx = c.transaction()?;
            let n = tx.execute(
                "UPDATE status_incidents SET status = $2, updated_at_ms = $3,
                    resolved_at_ms = CASE WHEN $2 = 'resolved' THEN COALESCE(resolved_at_ms, $3) ELSE NULL END
                 WHERE id = $1",
                &[&incident_id, &u.status, &u.at_ms],
            )?;
            if n == 0 {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO status_updates (id, incident_id, at_ms, status, message) VALUES ($1, $2, $3, $4, $5)",
                &[&u.id, &incident_id, &u.at_ms, &u.status, &u.message],
            )?;
            tx.commit()?;
            Ok(true)
        })?;
        if !found {
            return Ok(None);
        }
        self.read(|c| status_rows(c, Some(incident_id)))
            .map(|mut v| v.pop())
    }

    fn status_marks(&self) -> StoreResult<StatusMarks> {
        self.read(|c| {
            let r = c.query_one(STATUS_MARKS, &[])?;
            Ok(StatusMarks {
                incidents: r.try_get(0)?,
                resolved: r.try_get(1)?,
                max_incident: r.try_get(2)?,
                status_incidents: r.try_get(3)?,
                status_updates: r.try_get(4)?,
            })
        })
    }

    fn status_incidents(&self) -> StoreResult<Vec<StatusIncident>> {
        self.read(|c| status_rows(c, None))
    }
}

/// Status-page incidents with their updates (one query for all of them), newest first:
/// every one, or the one `id` names.
fn status_rows(c: &mut impl GenericClient, id: Option<&str>) -> StoreResult<Vec<StatusIncident>> {
    let mut incidents: Vec<StatusIncident> = c
        .query(
            "SELECT id, name, status, impact, components, created_at_ms, updated_at_ms, resolved_at_ms
             FROM status_incidents WHERE $1::text IS NULL OR id = $1 ORDER BY created_at_ms DESC, id",
            &[&id],
        )?
        .iter()
        .map(|r| {
            let comps: String = r.try_get(4)?;
            Ok(StatusIncident {
                id: r.try_get(0)?,
                name: r.try_get(1)?,
                status: r.try_get(2)?,
                impact: r.try_get(3)?,
                components: serde_json::from_str(&comps).unwrap_or_default(),
                created_at_ms: r.try_get(5)?,
                updated_at_ms: r.try_get(6)?,
                resolved_at_ms: r.try_get(7)?,
                updates: Vec::new(),
            })
        })
        .collect::<StoreResult<_>>()?;
    let mut updates: HashMap<String, Vec<StatusUpdate>> = HashMap::new();
    for r in c.query(
        "SELECT incident_id, id, at_ms, status, message FROM status_updates
         WHERE $1::text IS NULL OR incident_id = $1 ORDER BY incident_id, at_ms, id",
        &[&id],
    )? {
        updates
            .entry(r.try_get(0)?)
            .or_default()
            .push(StatusUpdate {
                id: r.try_get(1)?,
                at_ms: r.try_get(2)?,
                status: r.try_get(3)?,
                message: r.try_get(4)?,
            });
    }
    for i in &mut incidents {
        i.updates = updates.remove(&i.id).unwrap_or_default();
    }
    Ok(incidents)
}

impl TokenStore for PgStore {
    fn add_token(&self, sha256_hex: &str, name: &str, at_ms: i64) -> StoreResult<()> {
        self.write(|c| {
            c.execute(
                "INSERT INTO api_tokens (sha256, name, at_ms) VALUES ($1, $2, $3)",
                &[&sha256_hex, &name, &at_ms],
            )?;
            Ok(())
        })
    }

    fn token_exists(&self, sha256_hex: &str) -> StoreResult<bool> {
        self.read(|c| {
            Ok(c.query_opt(
                "SELECT 1 FROM api_tokens WHERE sha256 = $1 AND agent IS NULL AND revoked_at_ms IS NULL",
                &[&sha256_hex],
            )?
            .is_some())
        })
    }

    fn add_agent_token(&self, sha256_hex: &str, agent: &str, at_ms: i64) -> StoreResult<()> {
        self.write(|c| {
            c.execute(
                "INSERT INTO api_tokens (sha256, name, at_ms, agent) VALUES ($1, $2, $3, $2)",
                &[&sha256_hex, &agent, &at_ms],
            )?;
            Ok(())
        })
    }

    fn agent_of_token(&self, sha256_hex: &str) -> StoreResult<Option<String>> {
        self.read(|c| {
            c.query_opt(
                "SELECT agent FROM api_tokens WHERE sha256 = $1 AND agent IS NOT NULL AND revoked_at_ms IS NULL",
                &[&sha256_hex],
            )?
            .map(|r| Ok(r.try_get(0)?))
            .transpose()
        })
    }

    fn revoke_agent_tokens(&self, agent: &str, at_ms: i64) -> StoreResult<usize> {
        self.write(|c| {
            Ok(c.execute(
                "UPDATE api_tokens SET revoked_at_ms = $2 WHERE agent = $1 AND revoked_at_ms IS NULL",
                &[&agent, &at_ms],
            )? as usize)
        })
    }

    fn tokens(&self) -> StoreResult<Vec<TokenInfo>> {
        self.read(|c| {
            c.query(
                "SELECT sha256, name, agent, at_ms, revoked_at_ms FROM api_tokens ORDER BY at_ms, sha256",
                &[],
            )?
            .iter()
            .map(|r| {
                let sha: String = r.try_get(0)?;
                Ok(TokenInfo {
                    id: sha.chars().take(12).collect(),
                    name: r.try_get(1)?,
                    agent: r.try_get(2)?,
                    created_at_ms: r.try_get(3)?,
                    revoked_at_ms: r.try_get(4)?,
                })
            })
            .collect()
        })
    }

    fn revoke_api_tokens(&self, name: &str, at_ms: i64) -> StoreResult<usize> {
        let by_hash = name.len() >= 8 && name.bytes().all(|b| b.is_ascii_hexdigit());
        let prefix = format!("{}%", name.to_ascii_lowercase());
        self.write(|c| {
            Ok(c.execute(
                "UPDATE api_tokens SET revoked_at_ms = $2
                 WHERE agent IS NULL AND revoked_at_ms IS NULL
                   AND (name = $1 OR ($3 AND sha256 LIKE $4))",
                &[&name, &at_ms, &by_hash, &prefix],
            )? as usize)
        })
    }

    fn token_count(&self) -> StoreResult<u64> {
        self.read(|c| {
            let n: i64 = c
                .query_one(
                    "SELECT COUNT(*) FROM api_tokens WHERE agent IS NULL AND revoked_at_ms IS NULL",
                    &[],
                )?
                .try_get(0)?;
            Ok(n as u64)
        })
    }
}

impl VantageStore for PgStore {
    fn note_vantage(&self, v: &VantageRecord) -> StoreResult<()> {
        self.write(|c| {
            c.execute(
                "INSERT INTO vantages (name, region, first_contact_ms, last_contact_ms, clock_offset_ms, rtt_ms, backlog, dropped, controls_ok, version, pushes, results)
                 VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                 ON CONFLICT (name) DO UPDATE SET
                   region = excluded.region, last_contact_ms = excluded.last_contact_ms,
                   clock_offset_ms = COALESCE(excluded.clock_offset_ms, vantages.clock_offset_ms),
                   rtt_ms = COALESCE(excluded.rtt_ms, vantages.rtt_ms),
                   backlog = excluded.backlog, dropped = excluded.dropped,
                   controls_ok = excluded.controls_ok, version = excluded.version,
                   pushes = vantages.pushes + excluded.pushes, results = vantages.results + excluded.results",
                &[
                    &v.name,
                    &v.region,
                    &v.last_contact_ms,
                    &v.clock_offset_ms,
                    &v.rtt_ms,
                    &(v.backlog as i64),
                    &(v.dropped as i64),
                    &v.controls_ok,
                    &v.version,
                    &(v.pushes as i64),
                    &(v.results as i64),
                ],
            )?;
            Ok(())
        })
    }

    fn vantages(&self) -> StoreResult<Vec<VantageRecord>> {
        self.read(|c| {
            c.query(
                "SELECT name, region, first_contact_ms, last_contact_ms, clock_offset_ms, rtt_ms, backlog, dropped, controls_ok, version, pushes, results
                 FROM vantages ORDER BY name",
                &[],
            )?
            .iter()
            .map(|r| {
                Ok(VantageRecord {
                    name: r.try_get(0)?,
                    region: r.try_get(1)?,
                    first_contact_ms: r.try_get(2)?,
                    last_contact_ms: r.try_get(3)?,
                    clock_offset_ms: r.try_get(4)?,
                    rtt_ms: r.try_get(5)?,
                    backlog: r.try_get::<_, i64>(6)? as u64,
                    dropped: r.try_get::<_, i64>(7)? as u64,
                    controls_ok: r.try_get(8)?,
                    version: r.try_get(9)?,
                    pushes: r.try_get::<_, i64>(10)? as u64,
                    results: r.try_get::<_, i64>(11)? as u64,
                })
            })
            .collect()
        })
    }
}

impl WitnessStore for PgStore {
    fn witnessed(&self, origin: &str) -> StoreResult<Option<(u64, [u8; 32])>> {
        let row: Option<(i64, Vec<u8>)> = self.read(|c| {
            c.query_opt(
                "SELECT size, root FROM witnessed WHERE origin = $1",
                &[&origin],
            )?
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .transpose()
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
        self.write(|c| {
            let mut tx = c.transaction()?;
            let current: Option<i64> = tx
                .query_opt(
                    "SELECT size FROM witnessed WHERE origin = $1 FOR UPDATE",
                    &[&origin],
                )?
                .map(|r| r.try_get(0))
                .transpose()?;
            let moved = match current {
                None if old == 0 => {
                    tx.execute(
                        "INSERT INTO witnessed (origin, size, root, at_ms) VALUES ($1, $2, $3, $4)
                         ON CONFLICT DO NOTHING",
                        &[&origin, &(size as i64), &root.as_slice(), &at_ms],
                    )? == 1
                }
                Some(c) if c as u64 == old && size >= old => {
                    tx.execute(
                        "UPDATE witnessed SET size = $2, root = $3, at_ms = $4 WHERE origin = $1 AND size = $5",
                        &[&origin, &(size as i64), &root.as_slice(), &at_ms, &(old as i64)],
                    )? == 1
                }
                _ => false,
            };
            tx.commit()?;
            Ok(moved)
        })
    }

    fn add_cosignature(&self, size: u64, witness: &str, line: &str, at_ms: i64) -> StoreResult<()> {
        self.write(|c| {
            c.execute(
                "INSERT INTO cosignatures (size, witness, line, at_ms) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (size, witness) DO NOTHING",
                &[&(size as i64), &witness, &line, &at_ms],
            )?;
            Ok(())
        })
    }

    fn cosignatures(&self, size: u64) -> StoreResult<Vec<(String, String)>> {
        self.read(|c| {
            c.query(
                "SELECT witness, line FROM cosignatures WHERE size = $1 ORDER BY witness",
                &[&(size as i64)],
            )?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
        })
    }

    fn cosigned_size(&self, witness: &str) -> StoreResult<Option<u64>> {
        self.read(|c| {
            let v: Option<i64> = c
                .query_one(
                    "SELECT MAX(size) FROM cosignatures WHERE witness = $1",
                    &[&witness],
                )?
                .try_get(0)?;
            Ok(v.map(|v| v as u64))
        })
    }

    fn latest_cosigned_size(&self, witnesses: usize) -> StoreResult<Option<u64>> {
        self.read(|c| {
            let v: Option<i64> = c
                .query_one(
                    "SELECT MAX(size) FROM (SELECT size FROM cosignatures GROUP BY size HAVING COUNT(*) >= $1) s",
                    &[&(witnesses as i64)],
                )?
                .try_get(0)?;
            Ok(v.map(|v| v as u64))
        })
    }
}

impl FederationStore for PgStore {
    fn add_statement(
        &self,
        st: &FedStatement,
        envelope: &Envelope,
        received_ms: i64,
    ) -> StoreResult<bool> {
        let json =
            serde_json::to_string(envelope).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.write(|c| {
            Ok(c.execute(
                "INSERT INTO federation_received (origin, incident, ended, start_ms, end_ms, envelope, received_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                &[&st.origin, &st.incident, &st.end_ms.is_some(), &st.start_ms, &st.end_ms, &json, &received_ms],
            )? == 1)
        })
    }

    fn statements(&self, since_ms: i64, as_of_ms: i64) -> StoreResult<Vec<ReceivedStatement>> {
        let rows: Vec<(String, i64)> = self.read(|c| {
            // The latest version of each (origin, incident) received before `as_of`.
            c.query(
                "SELECT envelope, received_ms FROM federation_received f
                 WHERE received_ms < $2 AND (end_ms IS NULL OR end_ms >= $1)
                   AND NOT EXISTS (SELECT 1 FROM federation_received g
                       WHERE g.origin = f.origin AND g.incident = f.incident
                         AND g.ended AND NOT f.ended AND g.received_ms < $2)
                 ORDER BY origin, incident",
                &[&since_ms, &as_of_ms],
            )?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
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
            Ok(c.query_opt(
                "SELECT 1 FROM federation_sent WHERE peer = $1 AND incident = $2 AND ended = $3",
                &[&peer, &incident, &ended],
            )?
            .is_some())
        })
    }

    fn mark_statement_sent(
        &self,
        peer: &str,
        incident: i64,
        ended: bool,
        at_ms: i64,
    ) -> StoreResult<()> {
        self.write(|c| {
            c.execute(
                "INSERT INTO federation_sent (peer, incident, ended, at_ms) VALUES ($1, $2, $3, $4)
                 ON CONFLICT DO NOTHING",
                &[&peer, &incident, &ended, &at_ms],
            )?;
            Ok(())
        })
    }
}
