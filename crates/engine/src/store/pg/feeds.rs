//! PostgreSQL: providers' status feeds: one poll in one transaction (the document, the
//! feed's state, each incident's revision and first sightings, the evidence leaves), and
//! the reads behind the API. What a poll changes is decided in `store::poll`.

use super::*;
use crate::store::leaf::{feed_poll_record, provider_revision_record};
use crate::store::poll::{Current, first_listings, poll_body, revisions, sha256_hex, wanted};
use postgres::Transaction;
use probity_core::provider::{FieldChange, ProviderIncident};

fn json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn to_json<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Stores a document (once per hash) and counts its bytes against its feed.
fn keep_document(
    tx: &mut Transaction<'_>,
    feed: &str,
    sha: &str,
    body: &[u8],
    at_ms: i64,
) -> StoreResult<()> {
    let added = tx.execute(
        "INSERT INTO feed_documents (sha256, body, first_at_ms) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
        &[&sha, &body, &at_ms],
    )?;
    if added > 0 {
        tx.execute(
            "UPDATE feed_state SET stored_bytes = stored_bytes + $2 WHERE feed = $1",
            &[&feed, &(body.len() as i64)],
        )?;
    }
    Ok(())
}

/// Stores one poll; returns what it changed and the new evidence log size.
fn record_poll(
    tx: &mut Transaction<'_>,
    log: &mut Log,
    poll: &FeedPoll,
) -> StoreResult<(PollSummary, u64)> {
    let size = log.size;
    let (body, sha, error) = poll_body(poll);
    let poll_leaf = size;
    let record = feed_poll_record(
        &poll.feed,
        poll.at_ms,
        poll.outcome.as_str(),
        poll.http_status,
        sha.as_deref(),
        body.map(|b| b.len()),
        error,
    );
    let mut size = append_leaves(tx, log, &[record])?;
    let status = poll.http_status.map(i64::from);
    tx.execute(
        "INSERT INTO feed_polls (feed, at_ms, outcome, http_status, sha256, bytes, duration_ms, error, leaf_idx)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            &poll.feed,
            &poll.at_ms,
            &poll.outcome.as_str(),
            &status,
            &sha,
            &body.map(|b| b.len() as i64),
            &poll.duration_ms,
            &error,
            &(poll_leaf as i64),
        ],
    )?;
    let failed = matches!(poll.outcome, PollOutcome::Failed { .. });
    tx.execute(
        "INSERT INTO feed_state (feed, provider, format) VALUES ($1, $2, $3)
         ON CONFLICT (feed) DO UPDATE SET provider = excluded.provider, format = excluded.format",
        &[&poll.feed, &poll.provider, &poll.format],
    )?;
    tx.execute(
        "UPDATE feed_state SET
            last_poll_ms = $2,
            last_ok_ms = CASE WHEN $3 THEN last_ok_ms ELSE $2 END,
            last_outcome = $4,
            last_error = $5,
            http_status = $6,
            consecutive_failures = CASE WHEN $3 THEN consecutive_failures + 1 ELSE 0 END,
            polls = polls + 1,
            failures = failures + CASE WHEN $3 THEN 1 ELSE 0 END,
            etag = CASE WHEN $3 THEN etag ELSE $7 END,
            last_modified = CASE WHEN $3 THEN last_modified ELSE $8 END,
            last_sha256 = CASE WHEN $9::TEXT IS NOT NULL AND NOT $3 THEN $9 ELSE last_sha256 END
         WHERE feed = $1",
        &[
            &poll.feed,
            &poll.at_ms,
            &failed,
            &poll.outcome.as_str(),
            &error,
            &status,
            &poll.etag,
            &poll.last_modified,
            &sha,
        ],
    )?;
    // A failure's body (truncated by the poller) is kept at once; a document that parsed is
    // kept below, only when what it declares changed.
    if let (PollOutcome::Failed { .. }, Some(b), Some(h)) = (&poll.outcome, body, &sha) {
        keep_document(tx, &poll.feed, h, b, poll.at_ms)?;
    }
    let mut summary = PollSummary {
        leaf: poll_leaf,
        ..PollSummary::default()
    };
    let PollOutcome::Ok { incidents, body } = &poll.outcome else {
        return Ok((summary, size));
    };

    let mut current: HashMap<String, Current> = HashMap::new();
    for r in tx.query(
        "SELECT external_id, revision, removed_at_ms, current FROM provider_incidents WHERE feed = $1 FOR UPDATE",
        &[&poll.feed],
    )? {
        let text: String = r.try_get(3)?;
        current.insert(
            r.try_get(0)?,
            Current {
                revision: r.try_get::<_, i64>(1)? as u32,
                removed_at_ms: r.try_get(2)?,
                incident: json(&text, "provider incident")?,
            },
        );
    }
    let updates = tx.prepare(
        "INSERT INTO provider_updates_seen (feed, external_id, at_ms, status, first_seen_at_ms)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )?;
    for incident in first_listings(incidents) {
        for u in &incident.updates {
            tx.execute(
                &updates,
                &[
                    &poll.feed,
                    &incident.external_id,
                    &u.at_ms,
                    &u.status,
                    &poll.at_ms,
                ],
            )?;
        }
    }
    let (revisions, seen) = revisions(&current, incidents, poll.overwrites_in_place);
    let document = sha.as_deref().unwrap_or("");
    for rev in revisions {
        rev.count(&mut summary);
        let leaf = size;
        let record = provider_revision_record(
            &poll.feed,
            &rev.id,
            rev.revision,
            rev.kind,
            poll.at_ms,
            &rev.changes,
            document,
            &rev.incident,
        );
        size = append_leaves(tx, log, &[record])?;
        let incident_json = to_json(&rev.incident)?;
        let revision = rev.revision as i64;
        tx.execute(
            "INSERT INTO provider_revisions (feed, external_id, revision, seen_at_ms, kind, changes, incident, document, leaf_idx)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[&poll.feed, &rev.id, &revision, &poll.at_ms, &rev.kind, &to_json(&rev.changes)?, &incident_json, &document, &(leaf as i64)],
        )?;
        match rev.kind {
            "new" => tx.execute(
                "INSERT INTO provider_incidents (feed, external_id, provider, first_seen_at_ms, last_seen_at_ms, revision, current)
                 VALUES ($1, $2, $3, $4, $4, $5, $6)",
                &[&poll.feed, &rev.id, &rev.incident.provider, &poll.at_ms, &revision, &incident_json],
            )?,
            "removed" => tx.execute(
                "UPDATE provider_incidents SET removed_at_ms = $3, revision = $4 WHERE feed = $1 AND external_id = $2",
                &[&poll.feed, &rev.id, &poll.at_ms, &revision],
            )?,
            _ => tx.execute(
                "UPDATE provider_incidents SET removed_at_ms = NULL, revision = $3, current = $4,
                    edited = edited OR $5, provider = $6 WHERE feed = $1 AND external_id = $2",
                &[&poll.feed, &rev.id, &revision, &incident_json, &rev.edited(), &rev.incident.provider],
            )?,
        };
    }
    // Everything listed was seen now.
    let ids: Vec<&String> = seen.iter().collect();
    tx.execute(
        "UPDATE provider_incidents SET last_seen_at_ms = $2 WHERE feed = $1 AND external_id = ANY($3)",
        &[&poll.feed, &poll.at_ms, &ids],
    )?;
    // Keep the document when what it declares changed, when it is the feed's first, or
    // when these bytes are kept already; otherwise its hash, size and evidence record say
    // what was read, and the bytes are not stored again.
    let h = sha.as_deref().unwrap_or_default();
    let changed = summary.new + summary.changed + summary.removed + summary.returned > 0;
    let first = tx
        .query_opt(
            "SELECT 1 FROM feed_polls WHERE feed = $1 AND kept = 1 AND sha256 IS NOT NULL AND outcome = 'ok' AND leaf_idx != $2 LIMIT 1",
            &[&poll.feed, &(poll_leaf as i64)],
        )?
        .is_none();
    let known = tx
        .query_opt("SELECT 1 FROM feed_documents WHERE sha256 = $1", &[&h])?
        .is_some();
    if changed || first || known {
        keep_document(tx, &poll.feed, h, body, poll.at_ms)?;
    } else {
        tx.execute(
            "UPDATE feed_polls SET kept = 0 WHERE leaf_idx = $1",
            &[&(poll_leaf as i64)],
        )?;
    }
    Ok((summary, size))
}

/// Deletes feed documents no poll since `before_ms` refers to and no provider incident's
/// revision was read from; their polls keep hash, size and evidence record, marked
/// `kept = 2`. Returns how many documents went.
pub(super) fn prune_documents(tx: &mut Transaction<'_>, before_ms: i64) -> StoreResult<usize> {
    let old: Vec<(String, i64)> = tx
        .query(
            "SELECT d.sha256, octet_length(d.body)::BIGINT FROM feed_documents d
             WHERE d.first_at_ms < $1
               AND NOT EXISTS (SELECT 1 FROM feed_polls p WHERE p.sha256 = d.sha256 AND p.at_ms >= $1)
               AND NOT EXISTS (SELECT 1 FROM provider_revisions r WHERE r.document = d.sha256)",
            &[&before_ms],
        )?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<StoreResult<_>>()?;
    for (sha, bytes) in &old {
        tx.execute(
            "UPDATE feed_state SET stored_bytes = GREATEST(0, stored_bytes - $2)
             WHERE feed = (SELECT feed FROM feed_polls WHERE sha256 = $1 ORDER BY at_ms LIMIT 1)",
            &[sha, bytes],
        )?;
        tx.execute(
            "UPDATE feed_polls SET kept = 2 WHERE sha256 = $1 AND kept = 1",
            &[sha],
        )?;
        tx.execute("DELETE FROM feed_documents WHERE sha256 = $1", &[sha])?;
    }
    Ok(old.len())
}

/// Deletes the polls from before `before_ms` whose document is not kept or that had none,
/// and notes how far
/// polls were pruned (as the SQLite store does). Returns how many polls went.
pub(super) fn prune_polls(tx: &mut Transaction<'_>, before_ms: i64) -> StoreResult<usize> {
    let n = tx.execute(
        "DELETE FROM feed_polls WHERE at_ms < $1 AND (kept != 1 OR sha256 IS NULL)",
        &[&before_ms],
    )?;
    tx.execute(
        "INSERT INTO pruned_before (what, before_ms) VALUES ('feed_polls', $1)
         ON CONFLICT (what) DO UPDATE SET before_ms = GREATEST(pruned_before.before_ms, excluded.before_ms)",
        &[&before_ms],
    )?;
    Ok(n as usize)
}

impl FeedStore for PgStore {
    fn record_feed_poll(&self, poll: &FeedPoll) -> StoreResult<PollSummary> {
        let mut evidence_size = self.evidence_size.lock().expect("evidence lock");
        let (summary, size) = self.write(|c| {
            let mut tx = c.transaction()?;
            let mut log = self.take_log(&mut tx)?;
            let (mut summary, size) = record_poll(&mut tx, &mut log, poll)?;
            summary.stored_bytes = tx
                .query_opt(
                    "SELECT stored_bytes FROM feed_state WHERE feed = $1",
                    &[&poll.feed],
                )?
                .map(|r| r.try_get::<_, i64>(0))
                .transpose()?
                .unwrap_or(0) as u64;
            tx.commit()?;
            self.keep_log(log);
            Ok((summary, size))
        })?;
        *evidence_size = size;
        Ok(summary)
    }

    fn feed_states(&self) -> StoreResult<Vec<FeedState>> {
        self.read(|c| {
            c.query(
                "SELECT s.feed, s.provider, s.format, s.last_poll_ms, s.last_ok_ms, s.last_outcome,
                        s.last_error, s.http_status, s.consecutive_failures, s.polls, s.failures, s.etag,
                        s.last_modified, s.last_sha256,
                        (SELECT COUNT(*) FROM provider_incidents p WHERE p.feed = s.feed AND p.removed_at_ms IS NULL),
                        s.stored_bytes
                 FROM feed_state s ORDER BY s.feed",
                &[],
            )?
            .iter()
            .map(|r| {
                Ok(FeedState {
                    feed: r.try_get(0)?,
                    provider: r.try_get(1)?,
                    format: r.try_get(2)?,
                    last_poll_ms: r.try_get(3)?,
                    last_ok_ms: r.try_get(4)?,
                    last_outcome: r.try_get(5)?,
                    last_error: r.try_get(6)?,
                    http_status: r.try_get::<_, Option<i64>>(7)?.map(|s| s as u16),
                    consecutive_failures: r.try_get::<_, i64>(8)? as u32,
                    polls: r.try_get::<_, i64>(9)? as u64,
                    failures: r.try_get::<_, i64>(10)? as u64,
                    etag: r.try_get(11)?,
                    last_modified: r.try_get(12)?,
                    last_sha256: r.try_get(13)?,
                    active_incidents: r.try_get::<_, i64>(14)? as u64,
                    stored_bytes: r.try_get::<_, i64>(15)? as u64,
                })
            })
            .collect()
        })
    }

    fn provider_incidents(&self, f: &ProviderFilter) -> StoreResult<Vec<StoredProviderIncident>> {
        let now = jiff::Timestamp::now().as_millisecond();
        self.read(|c| {
            let rows = c.query(
                "SELECT feed, external_id, first_seen_at_ms, last_seen_at_ms, removed_at_ms, edited, current
                 FROM provider_incidents
                 WHERE ($1::TEXT IS NULL OR provider = $1) AND ($2::TEXT IS NULL OR feed = $2)
                 ORDER BY first_seen_at_ms DESC, feed, external_id",
                &[&f.provider, &f.feed],
            )?;
            let updates = c.prepare(
                "SELECT at_ms, status, first_seen_at_ms FROM provider_updates_seen
                 WHERE feed = $1 AND external_id = $2 ORDER BY at_ms, status",
            )?;
            let revisions = c.prepare(
                "SELECT revision, seen_at_ms, kind, changes, incident, leaf_idx FROM provider_revisions
                 WHERE feed = $1 AND external_id = $2 ORDER BY revision",
            )?;
            let mut out = Vec::new();
            for r in rows {
                let text: String = r.try_get(6)?;
                let mut p = StoredProviderIncident {
                    feed: r.try_get(0)?,
                    incident: json(&text, "provider incident")?,
                    first_seen_at_ms: r.try_get(2)?,
                    last_seen_at_ms: r.try_get(3)?,
                    removed_at_ms: r.try_get(4)?,
                    changed_after_publication: r.try_get(5)?,
                    update_first_seen: Vec::new(),
                    revisions: Vec::new(),
                };
                if !wanted(&p, f, now) {
                    continue;
                }
                let key: [&(dyn postgres::types::ToSql + Sync); 2] =
                    [&p.feed, &p.incident.external_id];
                p.update_first_seen = c
                    .query(&updates, &key)?
                    .iter()
                    .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
                    .collect::<StoreResult<_>>()?;
                p.revisions = c
                    .query(&revisions, &key)?
                    .iter()
                    .map(|r| {
                        let changes: String = r.try_get(3)?;
                        let incident: String = r.try_get(4)?;
                        Ok(ProviderRevision {
                            revision: r.try_get::<_, i64>(0)? as u32,
                            seen_at_ms: r.try_get(1)?,
                            kind: r.try_get(2)?,
                            changes: json(&changes, "revision changes")?,
                            incident: json(&incident, "revision incident")?,
                            leaf: r.try_get::<_, i64>(5)? as u64,
                        })
                    })
                    .collect::<StoreResult<_>>()?;
                out.push(p);
            }
            Ok(out)
        })
    }

    fn feed_polls_pruned_before(&self) -> StoreResult<Option<i64>> {
        self.read(|c| {
            Ok(c.query_opt(
                "SELECT before_ms FROM pruned_before WHERE what = 'feed_polls'",
                &[],
            )?
            .map(|r| r.try_get(0))
            .transpose()?)
        })
    }

    fn feed_record_from_rows(&self, leaf: u64) -> StoreResult<Option<(Vec<u8>, Option<bool>)>> {
        self.read(|c| {
            let poll = c.query_opt(
                "SELECT feed, at_ms, outcome, http_status, sha256, bytes, error, kept FROM feed_polls WHERE leaf_idx = $1",
                &[&(leaf as i64)],
            )?;
            if let Some(r) = poll {
                let sha: Option<String> = r.try_get(4)?;
                let kept: i64 = r.try_get(7)?;
                let doc_ok = match &sha {
                    None => None,
                    // Not kept on purpose (0: it declared nothing new; 2: pruned after its
                    // retention): nothing to compare.
                    Some(_) if kept != 1 => None,
                    Some(h) => {
                        let body: Option<Vec<u8>> = c
                            .query_opt("SELECT body FROM feed_documents WHERE sha256 = $1", &[h])?
                            .map(|r| r.try_get(0))
                            .transpose()?;
                        Some(body.is_some_and(|b| &sha256_hex(&b) == h))
                    }
                };
                let record = feed_poll_record(
                    r.try_get(0)?,
                    r.try_get(1)?,
                    r.try_get(2)?,
                    r.try_get::<_, Option<i64>>(3)?.map(|s| s as u16),
                    sha.as_deref(),
                    r.try_get::<_, Option<i64>>(5)?.map(|b| b as usize),
                    r.try_get(6)?,
                );
                return Ok(Some((record, doc_ok)));
            }
            let Some(r) = c.query_opt(
                "SELECT feed, external_id, revision, kind, seen_at_ms, changes, incident, document
                 FROM provider_revisions WHERE leaf_idx = $1",
                &[&(leaf as i64)],
            )?
            else {
                return Ok(None);
            };
            let changes: Vec<FieldChange> = json(r.try_get(5)?, "revision changes")?;
            let incident: ProviderIncident = json(r.try_get(6)?, "revision incident")?;
            let record = provider_revision_record(
                r.try_get(0)?,
                r.try_get(1)?,
                r.try_get::<_, i64>(2)? as u32,
                r.try_get(3)?,
                r.try_get(4)?,
                &changes,
                r.try_get(7)?,
                &incident,
            );
            Ok(Some((record, None)))
        })
    }

    fn feed_document(&self, sha256: &str) -> StoreResult<Option<Vec<u8>>> {
        self.read(|c| {
            Ok(c.query_opt(
                "SELECT body FROM feed_documents WHERE sha256 = $1",
                &[&sha256],
            )?
            .map(|r| r.try_get(0))
            .transpose()?)
        })
    }
}
