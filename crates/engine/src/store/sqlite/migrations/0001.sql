CREATE TABLE results (
    id          INTEGER PRIMARY KEY,
    target      TEXT NOT NULL,
    vantage     TEXT NOT NULL,
    at_ms       INTEGER NOT NULL,
    health      TEXT NOT NULL,
    dns_ms      REAL,
    connect_ms  REAL,
    tls_ms      REAL,
    ttfb_ms     REAL,
    total_ms    REAL,
    error_class TEXT,
    error       TEXT,
    details     TEXT
);
CREATE INDEX results_target_at ON results (target, at_ms);
CREATE INDEX results_at ON results (at_ms);

CREATE TABLE rollups (
    target         TEXT NOT NULL,
    vantage        TEXT NOT NULL,
    minute_ms      INTEGER NOT NULL,
    count          INTEGER NOT NULL,
    failures       INTEGER NOT NULL,
    degraded       INTEGER NOT NULL,
    latency_min_ms REAL NOT NULL,
    latency_max_ms REAL NOT NULL,
    latency_sum_ms REAL NOT NULL,
    sketch         TEXT NOT NULL,
    PRIMARY KEY (target, vantage, minute_ms)
) WITHOUT ROWID;
CREATE INDEX rollups_minute ON rollups (minute_ms);

-- Hourly totals, kept with the rollups, so that uptime over days and months across many
-- targets reads hundreds of rows instead of tens of thousands.
CREATE TABLE hourly (
    target   TEXT NOT NULL,
    vantage  TEXT NOT NULL,
    hour_ms  INTEGER NOT NULL,
    count    INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    degraded INTEGER NOT NULL,
    PRIMARY KEY (target, vantage, hour_ms)
) WITHOUT ROWID;
CREATE INDEX hourly_hour ON hourly (hour_ms);

CREATE TABLE incidents (
    id             INTEGER PRIMARY KEY,
    target         TEXT NOT NULL,
    started_at_ms  INTEGER NOT NULL,
    resolved_at_ms INTEGER,
    severity       TEXT NOT NULL,
    cause_class    TEXT NOT NULL,
    cause_detail   TEXT NOT NULL
);
CREATE INDEX incidents_open ON incidents (resolved_at_ms);

CREATE TABLE incident_evidence (
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    result_id   INTEGER NOT NULL,
    role        TEXT NOT NULL,
    PRIMARY KEY (incident_id, result_id)
) WITHOUT ROWID;
