-- Evidence documents (issue 16): the files behind evidence (a JUnit report, a model card), kept by the digest the ledger
-- already records for the evidence, so that the console can show them. The ledger never holds them: an entry binds the
-- digest, and a document is accepted only if its SHA-256 is that digest. Kept per project: the same digest attached in
-- another project does not make one project's document readable there.
CREATE TABLE evidence_document (
    project     TEXT NOT NULL,
    digest      BLOB NOT NULL CHECK (length(digest) = 32),
    media_type  TEXT NOT NULL,
    content     BLOB NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_ms INTEGER NOT NULL,
    PRIMARY KEY (project, digest)
) WITHOUT ROWID;
