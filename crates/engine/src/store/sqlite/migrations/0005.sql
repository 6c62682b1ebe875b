-- Provider status feeds: each feed's polling state, every document fetched (by hash),
-- every poll, and every revision of every incident a feed listed.
CREATE TABLE feed_state (
    feed                 TEXT PRIMARY KEY,
    provider             TEXT NOT NULL,
    format               TEXT NOT NULL,
    etag                 TEXT,
    last_modified        TEXT,
    last_poll_ms         INTEGER,
    last_ok_ms           INTEGER,
    last_outcome         TEXT,
    last_error           TEXT,
    http_status          INTEGER,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    polls                INTEGER NOT NULL DEFAULT 0,
    failures             INTEGER NOT NULL DEFAULT 0,
    last_sha256          TEXT
);
CREATE TABLE feed_documents (
    sha256      TEXT PRIMARY KEY,
    body        BLOB NOT NULL,
    first_at_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE feed_polls (
    id          INTEGER PRIMARY KEY,
    feed        TEXT NOT NULL,
    at_ms       INTEGER NOT NULL,
    outcome     TEXT NOT NULL,
    http_status INTEGER,
    sha256      TEXT,
    bytes       INTEGER,
    duration_ms REAL,
    error       TEXT,
    leaf_idx    INTEGER NOT NULL
);
CREATE INDEX feed_polls_feed_at ON feed_polls (feed, at_ms);
CREATE TABLE provider_incidents (
    feed             TEXT NOT NULL,
    external_id      TEXT NOT NULL,
    provider         TEXT NOT NULL,
    first_seen_at_ms INTEGER NOT NULL,
    last_seen_at_ms  INTEGER NOT NULL,
    removed_at_ms    INTEGER,
    revision         INTEGER NOT NULL,
    edited           INTEGER NOT NULL DEFAULT 0,
    current          TEXT NOT NULL,
    PRIMARY KEY (feed, external_id)
) WITHOUT ROWID;
CREATE INDEX provider_incidents_provider ON provider_incidents (provider);
CREATE TABLE provider_revisions (
    feed        TEXT NOT NULL,
    external_id TEXT NOT NULL,
    revision    INTEGER NOT NULL,
    seen_at_ms  INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    changes     TEXT NOT NULL,
    incident    TEXT NOT NULL,
    document    TEXT NOT NULL,
    leaf_idx    INTEGER NOT NULL,
    PRIMARY KEY (feed, external_id, revision)
) WITHOUT ROWID;
CREATE TABLE provider_updates_seen (
    feed             TEXT NOT NULL,
    external_id      TEXT NOT NULL,
    at_ms            INTEGER NOT NULL,
    status           TEXT NOT NULL,
    first_seen_at_ms INTEGER NOT NULL,
    PRIMARY KEY (feed, external_id, at_ms, status)
) WITHOUT ROWID;
