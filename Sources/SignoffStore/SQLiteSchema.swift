/// The SQLite schema as numbered migrations. The same SQL is in `schema/sqlite/NNNN_name.sql`; a test keeps
/// the two identical. A shipped migration is never edited: add a new one.
enum SQLiteSchema {
    static let migrations: [(name: String, sql: String)] = [
        ("0001_ledger", ledger),
        ("0002_projection", projection),
        ("0003_auth", auth),
    ]

    static let auth = """
        -- Authentication for `signoff serve`: single-use login challenges and bearer tokens. Only SHA-256 hashes of
        -- nonces and tokens are stored, never the values themselves.

        CREATE TABLE auth_challenge (
            nonce_hash BLOB PRIMARY KEY NOT NULL CHECK (length(nonce_hash) = 32),
            principal  TEXT NOT NULL,
            expires_ms INTEGER NOT NULL,
            used_ms    INTEGER                      -- set when consumed; a challenge is used at most once
        ) WITHOUT ROWID;

        CREATE TABLE api_token (
            token_hash BLOB PRIMARY KEY NOT NULL CHECK (length(token_hash) = 32),
            token_id   TEXT NOT NULL UNIQUE,        -- first 8 bytes of the hash, hex: names a token in logs and revocations
            principal  TEXT NOT NULL,
            kind       TEXT NOT NULL CHECK (kind IN ('session', 'service')),
            scopes     TEXT NOT NULL,               -- JSON array; empty for session tokens (the engine's rules apply)
            created_ms INTEGER NOT NULL,
            expires_ms INTEGER NOT NULL,
            revoked_ms INTEGER
        ) WITHOUT ROWID;
        """

    static let projection = """
        -- The engine's projection: current users, groups, workflows, projects and requests, as canonical JSON
        -- documents keyed "kind/id". Updated in the same transaction as the ledger entries it folds; replaying the
        -- ledger from empty must give exactly these rows (`signoff audit verify --db` checks it).

        CREATE TABLE projection (
            key      TEXT PRIMARY KEY NOT NULL,   -- e.g. 'request/REQ-7', 'principal/alice'
            document TEXT NOT NULL                -- canonical JSON (sorted keys)
        ) WITHOUT ROWID;
        """

    static let ledger = """
        -- Signoff ledger: append-only entries, stored Merkle subtree hashes, signed checkpoints.
        -- Specified in schema/ledger.md.

        CREATE TABLE ledger_meta (
            key   TEXT PRIMARY KEY NOT NULL,   -- 'origin', 'verifier_key'
            value TEXT NOT NULL
        );

        CREATE TABLE ledger_entry (
            sequence   INTEGER PRIMARY KEY NOT NULL CHECK (sequence >= 0),  -- position, from 0
            time_ms    INTEGER NOT NULL,        -- milliseconds since the Unix epoch, UTC
            kind       TEXT NOT NULL,
            actor      TEXT NOT NULL,
            entry      BLOB NOT NULL,           -- the exact encoded bytes that are hashed
            leaf_hash  BLOB NOT NULL CHECK (length(leaf_hash) = 32),   -- SHA-256(0x00 || entry)
            chain_hash BLOB NOT NULL CHECK (length(chain_hash) = 32)   -- SHA-256(previous chain_hash || leaf_hash)
        );

        -- Complete subtrees of level >= 4 (lower levels are hashed from ledger_entry.leaf_hash). Keyed by the sequence number of
        -- the leaf whose append completed the node, so a scan in key order meets nodes in the order they close.
        CREATE TABLE merkle_node (
            last_sequence INTEGER NOT NULL,     -- ((node_index + 1) << level) - 1
            level         INTEGER NOT NULL CHECK (level >= 4 AND level < 64),
            hash          BLOB NOT NULL CHECK (length(hash) = 32),
            PRIMARY KEY (last_sequence, level)
        ) WITHOUT ROWID;

        CREATE TABLE checkpoint (
            tree_size    INTEGER PRIMARY KEY NOT NULL,
            root_hash    BLOB NOT NULL CHECK (length(root_hash) = 32),
            signed_at_ms INTEGER NOT NULL,
            note         TEXT NOT NULL          -- the C2SP signed note, exactly as signed
        );
        """
}
