-- Acknowledgments: who took an incident, and when. The first stands.
CREATE TABLE incident_acks (
    incident_id INTEGER PRIMARY KEY,
    at_ms       INTEGER NOT NULL,
    by          TEXT NOT NULL,
    note        TEXT NOT NULL
);
