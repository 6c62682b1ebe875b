-- The alert outbox: written in the transaction of the change that causes the alert,
-- delivered at least once, every attempt kept.
CREATE TABLE alerts (
    id              INTEGER PRIMARY KEY,
    key             TEXT NOT NULL UNIQUE,
    rule            TEXT NOT NULL,
    channel         TEXT NOT NULL,
    event           TEXT NOT NULL,
    target          TEXT,
    incident_id     INTEGER,
    payload         TEXT NOT NULL,
    created_at_ms   INTEGER NOT NULL,
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    delivered_at_ms INTEGER,
    last_error      TEXT
);
CREATE INDEX alerts_due ON alerts (state, next_attempt_ms);
CREATE TABLE alert_attempts (
    alert_id    INTEGER NOT NULL,
    at_ms       INTEGER NOT NULL,
    ok          INTEGER NOT NULL,
    http_status INTEGER,
    error       TEXT,
    duration_ms REAL NOT NULL
);
CREATE INDEX alert_attempts_alert ON alert_attempts (alert_id);
