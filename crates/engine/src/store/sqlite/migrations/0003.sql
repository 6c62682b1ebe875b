CREATE INDEX evidence_leaves_at ON evidence_leaves (at_ms);
-- Which checkpoint each export ended at, so the next export proves consistency with it.
CREATE TABLE evidence_exports (
    at_ms           INTEGER NOT NULL,
    checkpoint_size INTEGER NOT NULL
);
