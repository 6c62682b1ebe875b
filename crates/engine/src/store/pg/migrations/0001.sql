-- The whole schema of the SQLite store's fourteen migrations, in PostgreSQL's types:
-- integers are BIGINT (times in ms, ids, counts), flags BOOLEAN, bytes BYTEA.
CREATE TABLE results (
    id              BIGINT PRIMARY KEY,
    target          TEXT NOT NULL,
    vantage         TEXT NOT NULL,
    at_ms           BIGINT NOT NULL,
    health          TEXT NOT NULL,
    dns_ms          DOUBLE PRECISION,
    connect_ms      DOUBLE PRECISION,
    tls_ms          DOUBLE PRECISION,
    ttfb_ms         DOUBLE PRECISION,
    total_ms        DOUBLE PRECISION,
    error_class     TEXT,
    error           TEXT,
    details         TEXT,
    unmeasured      BOOLEAN NOT NULL DEFAULT FALSE,
    origin          TEXT,
    clock_offset_ms BIGINT
);
CREATE INDEX results_target_at ON results (target, at_ms);
CREATE INDEX results_at ON results (at_ms);
-- An agent's result ids are its own: unique per vantage.
CREATE UNIQUE INDEX results_origin ON results (vantage, origin) WHERE origin IS NOT NULL;

CREATE TABLE rollups (
    target         TEXT NOT NULL,
    vantage        TEXT NOT NULL,
    minute_ms      BIGINT NOT NULL,
    count          BIGINT NOT NULL,
    failures       BIGINT NOT NULL,
    degraded       BIGINT NOT NULL,
    latency_min_ms DOUBLE PRECISION NOT NULL,
    latency_max_ms DOUBLE PRECISION NOT NULL,
    latency_sum_ms DOUBLE PRECISION NOT NULL,
    sketch         TEXT NOT NULL,
    PRIMARY KEY (target, vantage, minute_ms)
);
CREATE INDEX rollups_minute ON rollups (minute_ms);
CREATE INDEX rollups_target_minute ON rollups (target, minute_ms);

CREATE TABLE hourly (
    target   TEXT NOT NULL,
    vantage  TEXT NOT NULL,
    hour_ms  BIGINT NOT NULL,
    count    BIGINT NOT NULL,
    failures BIGINT NOT NULL,
    degraded BIGINT NOT NULL,
    PRIMARY KEY (target, vantage, hour_ms)
);
CREATE INDEX hourly_hour ON hourly (hour_ms);

CREATE TABLE incidents (
    id             BIGINT PRIMARY KEY,
    target         TEXT NOT NULL,
    started_at_ms  BIGINT NOT NULL,
    resolved_at_ms BIGINT,
    severity       TEXT NOT NULL,
    cause_class    TEXT NOT NULL,
    cause_detail   TEXT NOT NULL
);
CREATE INDEX incidents_open ON incidents (resolved_at_ms);

CREATE TABLE incident_evidence (
    incident_id BIGINT NOT NULL REFERENCES incidents (id),
    result_id   BIGINT NOT NULL,
    role        TEXT NOT NULL,
    PRIMARY KEY (incident_id, result_id)
);
CREATE INDEX incident_evidence_result ON incident_evidence (result_id);

CREATE TABLE incident_vantages (
    incident_id      BIGINT NOT NULL,
    change           TEXT NOT NULL,
    vantage          TEXT NOT NULL,
    status           TEXT NOT NULL,
    failing_since_ms BIGINT,
    last_at_ms       BIGINT,
    PRIMARY KEY (incident_id, change, vantage)
);

CREATE TABLE incident_acks (
    incident_id BIGINT PRIMARY KEY,
    at_ms       BIGINT NOT NULL,
    by          TEXT NOT NULL,
    note        TEXT NOT NULL
);

-- The evidence log: leaves, the perfect subtrees over them, signed checkpoints.
CREATE TABLE evidence_leaves (
    idx       BIGINT PRIMARY KEY,
    record    BYTEA NOT NULL,
    leaf_hash BYTEA NOT NULL,
    at_ms     BIGINT NOT NULL
);
CREATE INDEX evidence_leaves_at ON evidence_leaves (at_ms);
CREATE TABLE evidence_nodes (
    level BIGINT NOT NULL,
    idx   BIGINT NOT NULL,
    hash  BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
);
CREATE TABLE evidence_checkpoints (
    size  BIGINT PRIMARY KEY,
    root  BYTEA NOT NULL,
    note  TEXT NOT NULL,
    at_ms BIGINT NOT NULL
);
CREATE TABLE evidence_exports (
    at_ms           BIGINT NOT NULL,
    checkpoint_size BIGINT NOT NULL
);
CREATE TABLE incident_leaves (
    incident_id BIGINT NOT NULL,
    change      TEXT NOT NULL,
    leaf_idx    BIGINT NOT NULL,
    PRIMARY KEY (incident_id, leaf_idx)
);

-- Provider status feeds.
CREATE TABLE feed_state (
    feed                 TEXT PRIMARY KEY,
    provider             TEXT NOT NULL,
    format               TEXT NOT NULL,
    etag                 TEXT,
    last_modified        TEXT,
    last_poll_ms         BIGINT,
    last_ok_ms           BIGINT,
    last_outcome         TEXT,
    last_error           TEXT,
    http_status          BIGINT,
    consecutive_failures BIGINT NOT NULL DEFAULT 0,
    polls                BIGINT NOT NULL DEFAULT 0,
    failures             BIGINT NOT NULL DEFAULT 0,
    last_sha256          TEXT,
    stored_bytes         BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE feed_documents (
    sha256      TEXT PRIMARY KEY,
    body        BYTEA NOT NULL,
    first_at_ms BIGINT NOT NULL
);
CREATE TABLE feed_polls (
    id          BIGSERIAL PRIMARY KEY,
    feed        TEXT NOT NULL,
    at_ms       BIGINT NOT NULL,
    outcome     TEXT NOT NULL,
    http_status BIGINT,
    sha256      TEXT,
    bytes       BIGINT,
    duration_ms DOUBLE PRECISION,
    error       TEXT,
    leaf_idx    BIGINT NOT NULL,
    -- 1: the document's bytes are kept; 0: not kept (it declared nothing new);
    -- 2: pruned after its retention.
    kept        BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX feed_polls_feed_at ON feed_polls (feed, at_ms);
CREATE INDEX feed_polls_leaf ON feed_polls (leaf_idx);
CREATE INDEX feed_polls_sha ON feed_polls (sha256);
CREATE TABLE provider_incidents (
    feed             TEXT NOT NULL,
    external_id      TEXT NOT NULL,
    provider         TEXT NOT NULL,
    first_seen_at_ms BIGINT NOT NULL,
    last_seen_at_ms  BIGINT NOT NULL,
    removed_at_ms    BIGINT,
    revision         BIGINT NOT NULL,
    edited           BOOLEAN NOT NULL DEFAULT FALSE,
    current          TEXT NOT NULL,
    PRIMARY KEY (feed, external_id)
);
CREATE INDEX provider_incidents_provider ON provider_incidents (provider);
CREATE TABLE provider_revisions (
    feed        TEXT NOT NULL,
    external_id TEXT NOT NULL,
    revision    BIGINT NOT NULL,
    seen_at_ms  BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    changes     TEXT NOT NULL,
    incident    TEXT NOT NULL,
    document    TEXT NOT NULL,
    leaf_idx    BIGINT NOT NULL,
    PRIMARY KEY (feed, external_id, revision)
);
CREATE INDEX provider_revisions_leaf ON provider_revisions (leaf_idx);
CREATE TABLE provider_updates_seen (
    feed             TEXT NOT NULL,
    external_id      TEXT NOT NULL,
    at_ms            BIGINT NOT NULL,
    status           TEXT NOT NULL,
    first_seen_at_ms BIGINT NOT NULL,
    PRIMARY KEY (feed, external_id, at_ms, status)
);

-- The alert outbox.
CREATE TABLE alerts (
    id              BIGSERIAL PRIMARY KEY,
    key             TEXT NOT NULL UNIQUE,
    rule            TEXT NOT NULL,
    channel         TEXT NOT NULL,
    event           TEXT NOT NULL,
    target          TEXT,
    incident_id     BIGINT,
    payload         TEXT NOT NULL,
    created_at_ms   BIGINT NOT NULL,
    state           TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_ms BIGINT NOT NULL,
    delivered_at_ms BIGINT,
    last_error      TEXT
);
CREATE INDEX alerts_due ON alerts (state, next_attempt_ms);
CREATE TABLE alert_attempts (
    id          BIGSERIAL PRIMARY KEY,
    alert_id    BIGINT NOT NULL,
    at_ms       BIGINT NOT NULL,
    ok          BOOLEAN NOT NULL,
    http_status BIGINT,
    error       TEXT,
    duration_ms DOUBLE PRECISION NOT NULL
);
CREATE INDEX alert_attempts_alert ON alert_attempts (alert_id);

-- API and agent tokens, by their SHA-256 only.
CREATE TABLE api_tokens (
    sha256        TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    at_ms         BIGINT NOT NULL,
    agent         TEXT,
    revoked_at_ms BIGINT
);

-- The organisation's own status page.
CREATE TABLE status_incidents (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    status         TEXT NOT NULL,
    impact         TEXT NOT NULL,
    components     TEXT NOT NULL,
    created_at_ms  BIGINT NOT NULL,
    updated_at_ms  BIGINT NOT NULL,
    resolved_at_ms BIGINT
);
CREATE TABLE status_updates (
    id          TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL,
    at_ms       BIGINT NOT NULL,
    status      TEXT NOT NULL,
    message     TEXT NOT NULL
);
CREATE INDEX status_updates_incident ON status_updates (incident_id, at_ms);

CREATE TABLE vantages (
    name             TEXT PRIMARY KEY,
    region           TEXT,
    first_contact_ms BIGINT,
    last_contact_ms  BIGINT,
    clock_offset_ms  BIGINT,
    rtt_ms           BIGINT,
    backlog          BIGINT NOT NULL DEFAULT 0,
    dropped          BIGINT NOT NULL DEFAULT 0,
    controls_ok      BOOLEAN,
    version          TEXT,
    pushes           BIGINT NOT NULL DEFAULT 0,
    results          BIGINT NOT NULL DEFAULT 0
);

-- Witnessing other logs, and the cosignatures given to this one.
CREATE TABLE witnessed (
    origin TEXT PRIMARY KEY,
    size   BIGINT NOT NULL,
    root   BYTEA NOT NULL,
    at_ms  BIGINT NOT NULL
);
CREATE TABLE cosignatures (
    size    BIGINT NOT NULL,
    witness TEXT NOT NULL,
    line    TEXT NOT NULL,
    at_ms   BIGINT NOT NULL,
    PRIMARY KEY (size, witness)
);

-- Object storage canaries.
CREATE TABLE canaries (
    store         TEXT NOT NULL,
    slot          BIGINT NOT NULL,
    generation    BIGINT NOT NULL,
    key           TEXT NOT NULL,
    size          BIGINT NOT NULL,
    sha256        TEXT NOT NULL,
    written_at_ms BIGINT NOT NULL,
    e_tag         TEXT,
    version       TEXT,
    leaf_idx      BIGINT NOT NULL UNIQUE,
    PRIMARY KEY (store, slot, generation)
);

-- Federation.
CREATE TABLE federation_received (
    origin      TEXT NOT NULL,
    incident    BIGINT NOT NULL,
    ended       BOOLEAN NOT NULL,
    start_ms    BIGINT NOT NULL,
    end_ms      BIGINT,
    envelope    TEXT NOT NULL,
    received_ms BIGINT NOT NULL,
    PRIMARY KEY (origin, incident, ended)
);
CREATE INDEX federation_received_start ON federation_received (start_ms);
CREATE TABLE federation_sent (
    peer     TEXT NOT NULL,
    incident BIGINT NOT NULL,
    ended    BOOLEAN NOT NULL,
    at_ms    BIGINT NOT NULL,
    PRIMARY KEY (peer, incident, ended)
);
