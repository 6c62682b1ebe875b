-- How far pruning has gone, by kind of row: rows of that kind from before `before_ms` may be
-- gone on purpose, so the audit does not take their absence for a deletion.
CREATE TABLE pruned_before (
    what      TEXT PRIMARY KEY,
    before_ms BIGINT NOT NULL
);
