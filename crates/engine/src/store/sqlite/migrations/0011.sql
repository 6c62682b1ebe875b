-- Feed documents kept only when what they declare changed: a poll whose document was not
-- kept records its hash and size (and its evidence record), not its bytes.
ALTER TABLE feed_polls ADD COLUMN kept INTEGER NOT NULL DEFAULT 1;
-- The bytes of documents each feed has stored, for /metrics.
ALTER TABLE feed_state ADD COLUMN stored_bytes INTEGER NOT NULL DEFAULT 0;
