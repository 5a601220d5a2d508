-- Idempotency keys: as schema/sqlite/ 0011.

CREATE TABLE idempotency_key (
    principal   TEXT COLLATE "C" NOT NULL,
    key         TEXT COLLATE "C" NOT NULL,
    fingerprint BYTEA NOT NULL,
    created_ms  BIGINT NOT NULL,
    status      INTEGER NOT NULL,
    media_type  TEXT NOT NULL,
    body        BYTEA NOT NULL,
    PRIMARY KEY (principal, key)
);
CREATE INDEX idempotency_key_created ON idempotency_key (created_ms);
