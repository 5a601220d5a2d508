-- Leases on the work done once and the newest full verification: as schema/sqlite/ 0010.

CREATE TABLE lease (
    name       TEXT PRIMARY KEY NOT NULL,   -- 'leader'
    holder     TEXT NOT NULL,               -- the instance: host, process and a random part
    expires_ms BIGINT NOT NULL
);

CREATE TABLE verification_run (
    id          INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),   -- one row: the newest run
    started_ms  BIGINT NOT NULL,
    finished_ms BIGINT NOT NULL,
    entries     BIGINT NOT NULL,
    checkpoints INTEGER NOT NULL,
    failure     TEXT                        -- the first failure; absent when everything verified
);

-- Login attempts counted per address and per name across every instance (a load balancer spreads one client's
-- attempts over them): one row per event, kept for the longest window (an hour) and then forgotten.
CREATE TABLE rate_event (
    key   TEXT NOT NULL,                  -- the limit and what it counts, e.g. 'login-failure-address/203.0.113.7'
    at_ms BIGINT NOT NULL
);
CREATE INDEX rate_event_key ON rate_event (key, at_ms);
CREATE INDEX rate_event_at ON rate_event (at_ms);
