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
