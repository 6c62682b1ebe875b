-- Results partitioned by day (UTC) of at_ms, so that retention drops a day's partition
-- instead of deleting its rows one by one. Rows outside every day's partition (those of
-- before this migration, history imported, results kept as an incident's evidence after
-- their day was dropped) live in results_default, pruned row by row as before. Day
-- partitions are made ahead by the store (`pg::partitions`).
ALTER TABLE results RENAME TO results_before_partitions;
ALTER INDEX results_pkey RENAME TO results_before_partitions_pkey;
ALTER INDEX results_target_at RENAME TO results_before_target_at;
ALTER INDEX results_at RENAME TO results_before_at;
ALTER INDEX results_origin RENAME TO results_before_origin;
CREATE TABLE results (
    id              BIGINT NOT NULL,
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
    clock_offset_ms BIGINT,
    -- A unique key of a partitioned table holds the partition key; ids are unique by
    -- themselves (handed out in blocks), and this index finds them.
    PRIMARY KEY (id, at_ms)
) PARTITION BY RANGE (at_ms);
CREATE TABLE results_default PARTITION OF results DEFAULT;
CREATE INDEX results_target_at ON results (target, at_ms);
CREATE INDEX results_at ON results (at_ms);
-- An agent's result ids are its own: unique per vantage (and time: the partition key).
CREATE UNIQUE INDEX results_origin ON results (vantage, origin, at_ms) WHERE origin IS NOT NULL;
INSERT INTO results SELECT * FROM results_before_partitions;
DROP TABLE results_before_partitions;
