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
