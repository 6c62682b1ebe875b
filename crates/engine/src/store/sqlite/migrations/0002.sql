-- The evidence log: leaves (canonical records), the perfect subtrees of the Merkle tree
-- over them, and signed checkpoints.
CREATE TABLE evidence_leaves (
    idx       INTEGER PRIMARY KEY,
    record    BLOB NOT NULL,
    leaf_hash BLOB NOT NULL,
    at_ms     INTEGER NOT NULL
);
CREATE TABLE evidence_nodes (
    level INTEGER NOT NULL,
    idx   INTEGER NOT NULL,
    hash  BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TABLE evidence_checkpoints (
    size  INTEGER PRIMARY KEY,
    root  BLOB NOT NULL,
    note  TEXT NOT NULL,
    at_ms INTEGER NOT NULL
);
