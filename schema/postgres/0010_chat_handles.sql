-- People's chat handles: as schema/sqlite/ 0014.

CREATE TABLE chat_handle (
    principal   TEXT COLLATE "C" PRIMARY KEY,
    slack       TEXT,
    teams       TEXT,
    modified_ms BIGINT NOT NULL,
    modified_by TEXT NOT NULL
);
