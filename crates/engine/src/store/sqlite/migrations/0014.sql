-- Federation: outage statements received from peer instances, each version kept (an open
-- incident's statement, then its ended one), so corroboration as of any time can be
-- computed again; and which statements were delivered to which peer.
CREATE TABLE federation_received (
    origin TEXT NOT NULL,
    incident INTEGER NOT NULL,
    ended INTEGER NOT NULL,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER,
    envelope TEXT NOT NULL,
    received_ms INTEGER NOT NULL,
    PRIMARY KEY (origin, incident, ended)
);
CREATE INDEX federation_received_start ON federation_received (start_ms);
CREATE TABLE federation_sent (
    peer TEXT NOT NULL,
    incident INTEGER NOT NULL,
    ended INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    PRIMARY KEY (peer, incident, ended)
);
