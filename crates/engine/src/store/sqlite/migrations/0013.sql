-- Object storage canaries: the manifest of every canary object written (each generation of
-- each slot), with the evidence leaf that attests it.
CREATE TABLE canaries (
    store TEXT NOT NULL,
    slot INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    key TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    written_at_ms INTEGER NOT NULL,
    e_tag TEXT,
    version TEXT,
    leaf_idx INTEGER NOT NULL UNIQUE,
    PRIMARY KEY (store, slot, generation)
);
