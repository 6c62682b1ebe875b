-- Witnessing other logs: the latest checkpoint cosigned for each witnessed origin. A row
-- only ever moves forward (checked and updated in one statement).
CREATE TABLE witnessed (
    origin TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    root BLOB NOT NULL,
    at_ms INTEGER NOT NULL
);
-- Cosignatures other witnesses gave this log's checkpoints: one line per witness and size.
CREATE TABLE cosignatures (
    size INTEGER NOT NULL,
    witness TEXT NOT NULL,
    line TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    PRIMARY KEY (size, witness)
);
