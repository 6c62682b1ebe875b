//! The SQLite side of provider feeds: one poll in one transaction (the document, the
//! feed's state, each incident's revision and first sightings, the evidence leaves), and
//! the reads behind the API.

use super::append_leaves;
use super::leaf::{feed_poll_record, provider_revision_record};
use super::*;
use crate::store::poll::{Current, first_listings, poll_body, revisions, sha256_hex, wanted};
use probity_core::provider::{FieldChange, ProviderIncident};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use std::collections::HashMap;

fn json_err(e: serde_json::Error) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
}

/// Stores a document (once per hash) and counts its bytes against its feed.
fn keep_document(
    tx: &Transaction<'_>,
    feed: &str,
    sha: &str,
    body: &[u8],
    at_ms: i64,
) -> StoreResult<()> {
    let added = tx.execute(
        "INSERT OR IGNORE INTO feed_documents (sha256, body, first_at_ms) VALUES (?1, ?2, ?3)",
        params![sha, body, at_ms],
    )?;
    if added > 0 {
        tx.execute(
            "UPDATE feed_state SET stored_bytes = stored_bytes + ?2 WHERE feed = ?1",
            params![feed, body.len() as i64],
        )?;
    }
    Ok(())
}

/// Stores one poll; returns what it changed and the new evidence log size.
pub(super) fn record_poll(
    tx: &Transaction<'_>,
    size: u64,
    poll: &FeedPoll,
) -> StoreResult<(PollSummary, u64)> {
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
    let mut size = append_leaves(tx, size, &[record])?;
    tx.execute(
        "INSERT INTO feed_polls (feed, at_ms, outcome, http_status, sha256, bytes, duration_ms, error, leaf_idx)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            poll.feed,
            poll.at_ms,
            poll.outcome.as_str(),
            poll.http_status,
            sha,
            body.map(|b| b.len() as i64),
            poll.duration_ms,
            error,
            poll_leaf as i64
        ],
    )?;
    let failed = matches!(poll.outcome, PollOutcome::Failed { .. });
    tx.execute(
        "INSERT INTO feed_state (feed, provider, format) VALUES (?1, ?2, ?3)
         ON CONFLICT (feed) DO UPDATE SET provider = ?2, format = ?3",
        params![poll.feed, poll.provider, poll.format],
    )?;
    tx.execute(
        "UPDATE feed_state SET
            last_poll_ms = ?2,
            last_ok_ms = CASE WHEN ?3 THEN last_ok_ms ELSE ?2 END,
            last_outcome = ?4,
            last_error = ?5,
            http_status = ?6,
            consecutive_failures = CASE WHEN ?3 THEN consecutive_failures + 1 ELSE 0 END,
            polls = polls + 1,
            failures = failures + CASE WHEN ?3 THEN 1 ELSE 0 END,
            etag = CASE WHEN ?3 THEN etag ELSE ?7 END,
            last_modified = CASE WHEN ?3 THEN last_modified ELSE ?8 END,
            last_sha256 = CASE WHEN ?9 IS NOT NULL AND NOT ?3 THEN ?9 ELSE last_sha256 END
         WHERE feed = ?1",
        params![
            poll.feed,
            poll.at_ms,
            failed,
            poll.outcome.as_str(),
            error,
            poll.http_status,
            poll.etag,
            poll.last_modified,
            sha
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
    {
        let mut stmt = tx.prepare_cached(
            "SELECT external_id, revision, removed_at_ms, current FROM provider_incidents WHERE feed = ?1",
        )?;
        let rows = stmt.query_map([&poll.feed], |r| {
            let json: String = r.get(3)?;
            Ok((
                r.get::<_, String>(0)?,
                Current {
                    revision: r.get(1)?,
                    removed_at_ms: r.get(2)?,
                    incident: serde_json::from_str(&json).map_err(json_err)?,
                },
            ))
        })?;
        for row in rows {
            let (id, c) = row?;
            current.insert(id, c);
        }
    }

    let mut updates = tx.prepare_cached(
        "INSERT OR IGNORE INTO provider_updates_seen (feed, external_id, at_ms, status, first_seen_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for incident in first_listings(incidents) {
        for u in &incident.updates {
            updates.execute(params![
                poll.feed,
                incident.external_id,
                u.at_ms,
                u.status,
                poll.at_ms
            ])?;
        }
    }
    let (revisions, seen) = revisions(&current, incidents, poll.overwrites_in_place);
    for rev in revisions {
        rev.count(&mut summary);
        let edited = rev.edited();
        let (id, revision, kind, changes, incident) =
            (&rev.id, rev.revision, rev.kind, &rev.changes, &rev.incident);
        let leaf = size;
        let record = provider_revision_record(
            &poll.feed,
            id,
            revision,
            kind,
            poll.at_ms,
            changes,
            sha.as_deref().unwrap_or(""),
            incident,
        );
        size = append_leaves(tx, size, &[record])?;
        let changes_json = serde_json::to_string(changes).map_err(json_err)?;
        let incident_json = serde_json::to_string(incident).map_err(json_err)?;
        tx.execute(
            "INSERT INTO provider_revisions (feed, external_id, revision, seen_at_ms, kind, changes, incident, document, leaf_idx)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![poll.feed, id, revision, poll.at_ms, kind, changes_json, incident_json, sha.as_deref().unwrap_or(""), leaf as i64],
        )?;
        match kind {
            "new" => {
                tx.execute(
                    "INSERT INTO provider_incidents (feed, external_id, provider, first_seen_at_ms, last_seen_at_ms, revision, current)
                     VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6)",
                    params![poll.feed, id, incident.provider, poll.at_ms, revision, incident_json],
                )?;
            }
            "removed" => {
                tx.execute(
                    "UPDATE provider_incidents SET removed_at_ms = ?3, revision = ?4 WHERE feed = ?1 AND external_id = ?2",
                    params![poll.feed, id, poll.at_ms, revision],
                )?;
            }
            _ => {
                tx.execute(
                    "UPDATE provider_incidents SET removed_at_ms = NULL, revision = ?3, current = ?4,
                        edited = edited OR ?5, provider = ?6 WHERE feed = ?1 AND external_id = ?2",
                    params![poll.feed, id, revision, incident_json, edited, incident.provider],
                )?;
            }
        }
    }
    // Everything listed was seen now.
    let mut stmt = tx.prepare_cached(
        "UPDATE provider_incidents SET last_seen_at_ms = ?3 WHERE feed = ?1 AND external_id = ?2",
    )?;
    for id in &seen {
        stmt.execute(params![poll.feed, id, poll.at_ms])?;
    }
    // Keep the document when what it declares changed, when it is the feed's first, or
    // when these bytes are kept already; otherwise its hash, size and evidence record say
    // what was read, and the bytes are not stored again.
    let h = sha.as_deref().unwrap_or_default();
    let changed = summary.new + summary.changed + summary.removed + summary.returned > 0;
    let first = !tx
        .prepare_cached("SELECT 1 FROM feed_polls WHERE feed = ?1 AND kept = 1 AND sha256 IS NOT NULL AND outcome = 'ok' AND leaf_idx != ?2 LIMIT 1")?
        .exists(params![poll.feed, poll_leaf as i64])?;
    let known = tx
        .prepare_cached("SELECT 1 FROM feed_documents WHERE sha256 = ?1")?
        .exists([h])?;
    if changed || first || known {
        keep_document(tx, &poll.feed, h, body, poll.at_ms)?;
    } else {
        tx.execute(
            "UPDATE feed_polls SET kept = 0 WHERE leaf_idx = ?1",
            [poll_leaf as i64],
        )?;
    }
    Ok((summary, size))
}

pub(super) fn feed_states(c: &Connection) -> rusqlite::Result<Vec<FeedState>> {
    let mut stmt = c.prepare(
        "SELECT s.feed, s.provider, s.format, s.last_poll_ms, s.last_ok_ms, s.last_outcome,
                s.last_error, s.http_status, s.consecutive_failures, s.polls, s.failures, s.etag,
                s.last_modified, s.last_sha256,
                (SELECT COUNT(*) FROM provider_incidents p WHERE p.feed = s.feed AND p.removed_at_ms IS NULL),
                s.stored_bytes
         FROM feed_state s ORDER BY s.feed",
    )?;
    stmt.query_map([], |r| {
        Ok(FeedState {
            feed: r.get(0)?,
            provider: r.get(1)?,
            format: r.get(2)?,
            last_poll_ms: r.get(3)?,
            last_ok_ms: r.get(4)?,
            last_outcome: r.get(5)?,
            last_error: r.get(6)?,
            http_status: r.get(7)?,
            consecutive_failures: r.get(8)?,
            polls: r.get::<_, i64>(9)? as u64,
            failures: r.get::<_, i64>(10)? as u64,
            etag: r.get(11)?,
            last_modified: r.get(12)?,
            last_sha256: r.get(13)?,
            active_incidents: r.get::<_, i64>(14)? as u64,
            stored_bytes: r.get::<_, i64>(15)? as u64,
        })
    })?
    .collect()
}

pub(super) fn provider_incidents(
    c: &Connection,
    f: &ProviderFilter,
) -> rusqlite::Result<Vec<StoredProviderIncident>> {
    let mut stmt = c.prepare(
        "SELECT feed, external_id, first_seen_at_ms, last_seen_at_ms, removed_at_ms, edited, current
         FROM provider_incidents
         WHERE (?1 IS NULL OR provider = ?1) AND (?2 IS NULL OR feed = ?2)
         ORDER BY first_seen_at_ms DESC, feed, external_id",
    )?;
    let rows = stmt.query_map(params![f.provider, f.feed], |r| {
        let json: String = r.get(6)?;
        Ok(StoredProviderIncident {
            feed: r.get(0)?,
            incident: serde_json::from_str(&json).map_err(json_err)?,
            first_seen_at_ms: r.get(2)?,
            last_seen_at_ms: r.get(3)?,
            removed_at_ms: r.get(4)?,
            changed_after_publication: r.get(5)?,
            update_first_seen: Vec::new(),
            revisions: Vec::new(),
        })
    })?;
    let now = jiff::Timestamp::now().as_millisecond();
    let mut out = Vec::new();
    for row in rows {
        let mut p = row?;
        if !wanted(&p, f, now) {
            continue;
        }
        let i = &p.incident;
        let mut s = c.prepare_cached(
            "SELECT at_ms, status, first_seen_at_ms FROM provider_updates_seen
             WHERE feed = ?1 AND external_id = ?2 ORDER BY at_ms, status",
        )?;
        p.update_first_seen = s
            .query_map(params![p.feed, i.external_id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut s = c.prepare_cached(
            "SELECT revision, seen_at_ms, kind, changes, incident, leaf_idx FROM provider_revisions
             WHERE feed = ?1 AND external_id = ?2 ORDER BY revision",
        )?;
        p.revisions = s
            .query_map(params![p.feed, i.external_id], |r| {
                let changes: String = r.get(3)?;
                let incident: String = r.get(4)?;
                Ok(ProviderRevision {
                    revision: r.get(0)?,
                    seen_at_ms: r.get(1)?,
                    kind: r.get(2)?,
                    changes: serde_json::from_str(&changes).map_err(json_err)?,
                    incident: serde_json::from_str(&incident).map_err(json_err)?,
                    leaf: r.get::<_, i64>(5)? as u64,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        out.push(p);
    }
    Ok(out)
}

pub(super) fn record_from_rows(
    c: &Connection,
    leaf: u64,
) -> rusqlite::Result<Option<(Vec<u8>, Option<bool>)>> {
    let poll = c
        .query_row(
            "SELECT feed, at_ms, outcome, http_status, sha256, bytes, error, kept FROM feed_polls WHERE leaf_idx = ?1",
            [leaf as i64],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<u16>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                    r.get::<_, Option<String>>(6)?,
                    r.get::<_, i64>(7)?,
                ))
            },
        )
        .optional()?;
    if let Some((feed, at, outcome, status, sha, bytes, error, kept)) = poll {
        let doc_ok = match &sha {
            None => None,
            // Not kept on purpose (0: it declared nothing new; 2: pruned after its
            // retention): nothing to compare.
            Some(_) if kept != 1 => None,
            Some(h) => {
                let body: Option<Vec<u8>> = c
                    .query_row(
                        "SELECT body FROM feed_documents WHERE sha256 = ?1",
                        [h],
                        |r| r.get(0),
                    )
                    .optional()?;
                Some(body.is_some_and(|b| &sha256_hex(&b) == h))
            }
        };
        let record = feed_poll_record(
            &feed,
            at,
            &outcome,
            status,
            sha.as_deref(),
            bytes.map(|b| b as usize),
            error.as_deref(),
        );
        return Ok(Some((record, doc_ok)));
    }
    let rev = c
        .query_row(
            "SELECT feed, external_id, revision, kind, seen_at_ms, changes, incident, document
             FROM provider_revisions WHERE leaf_idx = ?1",
            [leaf as i64],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, u32>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, String>(7)?,
                ))
            },
        )
        .optional()?;
    let Some((feed, id, revision, kind, seen, changes, incident, sha)) = rev else {
        return Ok(None);
    };
    let changes: Vec<FieldChange> = serde_json::from_str(&changes).map_err(json_err)?;
    let incident: ProviderIncident = serde_json::from_str(&incident).map_err(json_err)?;
    let record =
        provider_revision_record(&feed, &id, revision, &kind, seen, &changes, &sha, &incident);
    Ok(Some((record, None)))
}

/// Deletes feed documents no poll since `before_ms` refers to and no provider incident's
/// revision was read from (the bytes of older declarations, kept as long as rollups; those
/// that prove a revision are kept with it); their polls keep hash, size and evidence
/// record, marked `kept = 2`. Returns how many documents went.
pub(super) fn prune_documents(c: &Connection, before_ms: i64) -> rusqlite::Result<usize> {
    let old: Vec<(String, i64)> = c
        .prepare(
            "SELECT d.sha256, length(d.body) FROM feed_documents d
             WHERE d.first_at_ms < ?1
               AND NOT EXISTS (SELECT 1 FROM feed_polls p WHERE p.sha256 = d.sha256 AND p.at_ms >= ?1)
               AND NOT EXISTS (SELECT 1 FROM provider_revisions r WHERE r.document = d.sha256)",
        )?
        .query_map([before_ms], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (sha, bytes) in &old {
        c.execute(
            "UPDATE feed_state SET stored_bytes = MAX(0, stored_bytes - ?2)
             WHERE feed = (SELECT feed FROM feed_polls WHERE sha256 = ?1 ORDER BY at_ms LIMIT 1)",
            params![sha, bytes],
        )?;
        c.execute(
            "UPDATE feed_polls SET kept = 2 WHERE sha256 = ?1 AND kept = 1",
            [sha],
        )?;
        c.execute("DELETE FROM feed_documents WHERE sha256 = ?1", [sha])?;
    }
    Ok(old.len())
}

/// Deletes the polls from before `before_ms` whose document is not kept (it declared
/// nothing new, or its bytes were pruned) or that had none (not modified, unreachable),
/// and notes how far polls were pruned so the
/// audit does not take their absence for a deletion. Polls whose document is kept stay
/// with it. Returns how many polls went.
pub(super) fn prune_polls(c: &Connection, before_ms: i64) -> rusqlite::Result<usize> {
    let n = c.execute(
        "DELETE FROM feed_polls WHERE at_ms < ?1 AND (kept != 1 OR sha256 IS NULL)",
        [before_ms],
    )?;
    c.execute(
        "INSERT INTO pruned_before (what, before_ms) VALUES ('feed_polls', ?1)
         ON CONFLICT (what) DO UPDATE SET before_ms = MAX(before_ms, excluded.before_ms)",
        [before_ms],
    )?;
    Ok(n)
}
