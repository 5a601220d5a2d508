-- The projection's format: when Signoff's state gains or changes documents, a projection written by an earlier
-- version is rebuilt from the ledger (the source of truth) in the first write transaction that sees the old format.
CREATE TABLE projection_meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- Which key a session token was obtained with (the fingerprint, hex): revoking that key ends the session.
-- Service tokens carry none (they are issued by an administrator, not by a key's signature).
ALTER TABLE api_token ADD COLUMN key_fingerprint TEXT;
CREATE INDEX api_token_principal ON api_token (principal);
