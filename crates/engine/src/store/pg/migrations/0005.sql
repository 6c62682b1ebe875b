-- The store's size on disk by UTC day: the server's latest sample of each day (it samples
-- once an hour, after pruning). `probity store stats` and /metrics read growth from it.
CREATE TABLE store_sizes (
    day_ms BIGINT PRIMARY KEY,
    at_ms  BIGINT NOT NULL,
    bytes  BIGINT NOT NULL
);
