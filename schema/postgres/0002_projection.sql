-- The engine's projection, its metadata, the request pages' index and the used signed statements: as
-- schema/sqlite/ 0002, 0005, 0008 and 0009. Changed in the same transaction as the ledger entries it folds.

CREATE TABLE projection (
    key      TEXT COLLATE "C" PRIMARY KEY NOT NULL,   -- e.g. 'request/REQ-7', 'principal/alice'
    document TEXT NOT NULL                -- canonical JSON (sorted keys)
);

CREATE TABLE projection_meta (
    key   TEXT COLLATE "C" PRIMARY KEY NOT NULL,      -- 'format', 'directory-version', 'request-entry-index'
    value TEXT NOT NULL
);

CREATE TABLE request_entry (
    request  TEXT COLLATE "C" NOT NULL,
    sequence BIGINT NOT NULL,
    PRIMARY KEY (request, sequence)
);

-- Replay protection of signed statements: a statement (its DSSE payload's SHA-256) counts once; the row is kept until
-- `until_ms` (the using entry's time plus the replay window), then forgotten. The primary key refuses a second use.
CREATE TABLE used_statement (
    digest   BYTEA PRIMARY KEY NOT NULL CHECK (octet_length(digest) = 32),
    until_ms BIGINT NOT NULL
);
CREATE INDEX used_statement_until ON used_statement (until_ms);
