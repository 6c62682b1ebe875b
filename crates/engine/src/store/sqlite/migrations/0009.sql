-- Vantage points: results from agents, unmeasured results, agent tokens.
ALTER TABLE results ADD COLUMN unmeasured INTEGER NOT NULL DEFAULT 0;
ALTER TABLE results ADD COLUMN origin TEXT;
ALTER TABLE results ADD COLUMN clock_offset_ms INTEGER;
CREATE UNIQUE INDEX results_origin ON results (origin) WHERE origin IS NOT NULL;
CREATE TABLE incident_vantages (
    incident_id      INTEGER NOT NULL,
    change           TEXT NOT NULL,
    vantage          TEXT NOT NULL,
    status           TEXT NOT NULL,
    failing_since_ms INTEGER,
    last_at_ms       INTEGER,
    PRIMARY KEY (incident_id, change, vantage)
) WITHOUT ROWID;
CREATE TABLE vantages (
    name             TEXT PRIMARY KEY,
    region           TEXT,
    first_contact_ms INTEGER,
    last_contact_ms  INTEGER,
    clock_offset_ms  INTEGER,
    rtt_ms           INTEGER,
    backlog          INTEGER NOT NULL DEFAULT 0,
    dropped          INTEGER NOT NULL DEFAULT 0,
    controls_ok      INTEGER,
    version          TEXT,
    pushes           INTEGER NOT NULL DEFAULT 0,
    results          INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
ALTER TABLE api_tokens ADD COLUMN agent TEXT;
ALTER TABLE api_tokens ADD COLUMN revoked_at_ms INTEGER;
