-- Compact results: results older than `[server] compact_after` move out of `results` into
-- per-target chunks (probity_core::chunk), and the evidence records of their leaves are
-- rebuilt from the chunks instead of being stored twice.
--
-- The leaf whose record lists a result (NULL: written before this migration, never
-- compacted; -1: copied into a chunk and kept as a row because an incident names it).
ALTER TABLE results ADD COLUMN leaf INTEGER;
CREATE INDEX results_leaf ON results (leaf) WHERE leaf IS NOT NULL;

-- Whether an incident names a result, by the result (compaction keeps such rows).
CREATE INDEX incident_evidence_result ON incident_evidence (result_id);

-- One target's results from one vantage within one UTC hour (`start_ms` and `end_ms` are
-- the first and last result's times), coded; several chunks may share an hour (results
-- pushed late).
CREATE TABLE result_chunks (
    target   TEXT NOT NULL,
    vantage  TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    end_ms   INTEGER NOT NULL,
    rows     INTEGER NOT NULL,
    data     BLOB NOT NULL
);
CREATE INDEX result_chunks_target ON result_chunks (target, start_ms);
CREATE INDEX result_chunks_start ON result_chunks (start_ms);

-- A results leaf whose record is rebuilt from chunks keeps an empty `record` and says where
-- its results are: their times (`span_from_ms`..=`span_to_ms`) and ids.
ALTER TABLE evidence_leaves ADD COLUMN span_from_ms INTEGER;
ALTER TABLE evidence_leaves ADD COLUMN span_to_ms INTEGER;
ALTER TABLE evidence_leaves ADD COLUMN first_id INTEGER;
ALTER TABLE evidence_leaves ADD COLUMN last_id INTEGER;
CREATE INDEX evidence_leaves_ids ON evidence_leaves (first_id) WHERE first_id IS NOT NULL;
