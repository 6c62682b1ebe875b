-- The store's size on disk by UTC day: the server's latest sample of each day (it samples
-- once an hour, after pruning). `probity store stats` and /metrics read growth from it.
CREATE TABLE store_sizes (
    day_ms INTEGER PRIMARY KEY,
    at_ms  INTEGER NOT NULL,
    bytes  INTEGER NOT NULL
);
