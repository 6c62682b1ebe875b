-- Several servers on one database.
-- Who is live: each server's row, its heartbeat renewed every second (times in ms by the
-- database's clock, so servers' clocks do not matter).
CREATE TABLE servers (
    name            TEXT PRIMARY KEY,
    instance        TEXT NOT NULL,
    address         TEXT NOT NULL,
    started_at_ms   BIGINT NOT NULL,
    heartbeat_at_ms BIGINT NOT NULL,
    targets         BIGINT NOT NULL DEFAULT 0
);
-- Jobs that run on one server at a time: who holds each, until when, and its epoch (one
-- more each time another server takes it).
CREATE TABLE leases (
    job           TEXT PRIMARY KEY,
    holder        TEXT NOT NULL,
    instance      TEXT NOT NULL,
    epoch         BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL
);
-- Result and incident ids are handed out in blocks, one block to one server at a time, so
-- that every server's recorder writes ids no other server writes.
CREATE SEQUENCE result_id_blocks MINVALUE 0 START 0;
CREATE SEQUENCE incident_id_blocks MINVALUE 0 START 0;
