-- An agent's result ids are its own: unique per vantage, so no vantage can pre-claim
-- another's ids.
DROP INDEX results_origin;
CREATE UNIQUE INDEX results_origin ON results (vantage, origin) WHERE origin IS NOT NULL;
