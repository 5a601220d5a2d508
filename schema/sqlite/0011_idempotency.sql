-- Idempotency keys (IETF draft-ietf-httpapi-idempotency-key-header): the first answer to a mutating API call made with an
-- `Idempotency-Key` header, per principal and key, kept for 24 hours. A call that records ledger entries writes its row in
-- the same transaction as the entries, so a retry after a lost answer finds either both or neither. Shared by every
-- instance on the database.
CREATE TABLE idempotency_key (
    principal   TEXT NOT NULL,        -- who made the call (the bearer token's principal)
    key         TEXT NOT NULL,        -- the header's value: 1-255 visible ASCII characters
    fingerprint BLOB NOT NULL,        -- SHA-256 of the method, the path with its query, and the body
    created_ms  INTEGER NOT NULL,
    status      INTEGER NOT NULL,     -- the first answer: its HTTP status, media type and body
    media_type  TEXT NOT NULL,
    body        BLOB NOT NULL,
    PRIMARY KEY (principal, key)
) WITHOUT ROWID;
CREATE INDEX idempotency_key_created ON idempotency_key (created_ms);
