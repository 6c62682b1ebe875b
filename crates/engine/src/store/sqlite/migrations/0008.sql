-- API tokens, by their SHA-256 only.
CREATE TABLE api_tokens (
    sha256   TEXT PRIMARY KEY,
    name     TEXT NOT NULL,
    at_ms    INTEGER NOT NULL
) WITHOUT ROWID;
-- The organisation's own status page.
CREATE TABLE status_incidents (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    status         TEXT NOT NULL,
    impact         TEXT NOT NULL,
    components     TEXT NOT NULL,
    created_at_ms  INTEGER NOT NULL,
    updated_at_ms  INTEGER NOT NULL,
    resolved_at_ms INTEGER
) WITHOUT ROWID;
CREATE TABLE status_updates (
    id          TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL,
    at_ms       INTEGER NOT NULL,
    status      TEXT NOT NULL,
    message     TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX status_updates_incident ON status_updates (incident_id, at_ms);
