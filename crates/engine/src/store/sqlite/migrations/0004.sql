-- The evidence leaf of each incident change.
CREATE TABLE incident_leaves (
    incident_id INTEGER NOT NULL,
    change      TEXT NOT NULL,
    leaf_idx    INTEGER NOT NULL,
    PRIMARY KEY (incident_id, leaf_idx)
) WITHOUT ROWID;
