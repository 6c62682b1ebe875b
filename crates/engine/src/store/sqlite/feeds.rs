//! SQLite: providers' status feeds: polls, documents, incidents and their revisions.

use super::*;
use rusqlite::OptionalExtension;

impl FeedStore for SqliteStore {
    fn record_feed_poll(&self, poll: &FeedPoll) -> StoreResult<PollSummary> {
        let mut conn = self.writer.lock().expect("writer lock");
        let mut evidence_size = self.evidence_size.lock().expect("evidence lock");
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let (mut summary, size) = super::feed_rows::record_poll(&tx, log_size(&tx)?, poll)?;
        summary.stored_bytes = tx
            .query_row(
                "SELECT stored_bytes FROM feed_state WHERE feed = ?1",
                [&poll.feed],
                |r| r.get::<_, i64>(0),
            )
            .optional()?
            .unwrap_or(0) as u64;
        tx.commit()?;
        *evidence_size = size;
        Ok(summary)
    }

    fn feed_states(&self) -> StoreResult<Vec<FeedState>> {
        self.read(super::feed_rows::feed_states)
    }

    fn provider_incidents(
        &self,
        filter: &ProviderFilter,
    ) -> StoreResult<Vec<StoredProviderIncident>> {
        self.read(|c| super::feed_rows::provider_incidents(c, filter))
    }

    fn feed_record_from_rows(&self, leaf: u64) -> StoreResult<Option<(Vec<u8>, Option<bool>)>> {
        self.read(|c| super::feed_rows::record_from_rows(c, leaf))
    }

    fn feed_polls_pruned_before(&self) -> StoreResult<Option<i64>> {
        self.read(|c| {
            c.query_row(
                "SELECT before_ms FROM pruned_before WHERE what = 'feed_polls'",
                [],
                |r| r.get(0),
            )
            .optional()
        })
    }

    fn feed_document(&self, sha256: &str) -> StoreResult<Option<Vec<u8>>> {
        self.read(|c| {
            c.query_row(
                "SELECT body FROM feed_documents WHERE sha256 = ?1",
                [sha256],
                |r| r.get(0),
            )
            .optional()
        })
    }
}
