-- Signoff ledger on PostgreSQL: the same tables, columns and meaning as schema/sqlite/ (0001, 0004), specified in
-- schema/ledger.md. Types are PostgreSQL's: BIGINT for integers, BYTEA for blobs, TEXT for text. Keys that are compared or
-- ordered as text use the "C" collation: bytewise, as SQLite compares them, whatever the database's locale.

CREATE TABLE ledger_meta (
    key   TEXT COLLATE "C" PRIMARY KEY NOT NULL,   -- 'origin', 'verifier_key'
    value TEXT NOT NULL
);

CREATE TABLE ledger_entry (
    sequence   BIGINT PRIMARY KEY NOT NULL CHECK (sequence >= 0),  -- position, from 0
    time_ms    BIGINT NOT NULL,        -- milliseconds since the Unix epoch, UTC
    kind       TEXT NOT NULL,
    actor      TEXT NOT NULL,
    entry      BYTEA NOT NULL,         -- the exact encoded bytes that are hashed
    leaf_hash  BYTEA NOT NULL CHECK (octet_length(leaf_hash) = 32),   -- SHA-256(0x00 || entry)
    chain_hash BYTEA NOT NULL CHECK (octet_length(chain_hash) = 32)   -- SHA-256(previous chain_hash || leaf_hash)
);

-- Complete subtrees of level >= 4 (lower levels are hashed from ledger_entry.leaf_hash), keyed by the sequence number of
-- the leaf whose append completed the node.
CREATE TABLE merkle_node (
    last_sequence BIGINT NOT NULL,     -- ((node_index + 1) << level) - 1
    level         INTEGER NOT NULL CHECK (level >= 4 AND level < 64),
    hash          BYTEA NOT NULL CHECK (octet_length(hash) = 32),
    PRIMARY KEY (last_sequence, level)
);

-- A checkpoint row keeps only what its signature covers: the tree size (which must equal the note's) and the note.
CREATE TABLE checkpoint (
    tree_size BIGINT PRIMARY KEY NOT NULL,
    note      TEXT NOT NULL             -- the C2SP signed note, exactly as signed
);
