-- Login challenges and bearer tokens, their SHA-256 hashes only: as schema/sqlite/ 0003 and 0005.

CREATE TABLE auth_challenge (
    nonce_hash BYTEA PRIMARY KEY NOT NULL CHECK (octet_length(nonce_hash) = 32),
    principal  TEXT NOT NULL,
    expires_ms BIGINT NOT NULL,
    used_ms    BIGINT                      -- set when consumed; a challenge is used at most once
);
CREATE INDEX auth_challenge_expires ON auth_challenge (expires_ms);

CREATE TABLE api_token (
    token_hash      BYTEA PRIMARY KEY NOT NULL CHECK (octet_length(token_hash) = 32),
    token_id        TEXT NOT NULL UNIQUE,  -- first 8 bytes of the hash, hex
    principal       TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('session', 'service')),
    scopes          TEXT NOT NULL,         -- JSON array; empty for session tokens
    created_ms      BIGINT NOT NULL,
    expires_ms      BIGINT NOT NULL,
    revoked_ms      BIGINT,
    key_fingerprint TEXT                   -- the key a session token was obtained with (hex)
);
CREATE INDEX api_token_principal ON api_token (principal);
