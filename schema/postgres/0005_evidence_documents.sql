-- Evidence documents, per project, by the digest the ledger records: as schema/sqlite/ 0007.

CREATE TABLE evidence_document (
    project     TEXT NOT NULL,
    digest      BYTEA NOT NULL CHECK (octet_length(digest) = 32),
    media_type  TEXT NOT NULL,
    content     BYTEA NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_ms BIGINT NOT NULL,
    PRIMARY KEY (project, digest)
);
