-- Coordination of several `signoff serve` instances on one database (issue 26): leases on the work done once (the
-- leader: reminders, escalations, expiry, full verification, checkpoint publishing), held until `expires_ms` and renewed
-- by their holder; and the newest full verification of the ledger, shown by every instance's audit page.
CREATE TABLE lease (
    name       TEXT PRIMARY KEY NOT NULL,   -- 'leader'
    holder     TEXT NOT NULL,               -- the instance: host, process and a random part
    expires_ms INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE verification_run (
    id          INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),   -- one row: the newest run
    started_ms  INTEGER NOT NULL,
    finished_ms INTEGER NOT NULL,
    entries     INTEGER NOT NULL,
    checkpoints INTEGER NOT NULL,
    failure     TEXT                        -- the first failure; absent when everything verified
);

-- Login attempts counted per address and per name across every instance (a load balancer spreads one client's
-- attempts over them): one row per event, kept for the longest window (an hour) and then forgotten.
CREATE TABLE rate_event (
    key   TEXT NOT NULL,                  -- the limit and what it counts, e.g. 'login-failure-address/203.0.113.7'
    at_ms INTEGER NOT NULL
);
CREATE INDEX rate_event_key ON rate_event (key, at_ms);
CREATE INDEX rate_event_at ON rate_event (at_ms);
