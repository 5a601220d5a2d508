-- Replay protection of signed statements (issue 24): a statement (a DSSE payload, by its SHA-256) counts once. A row
-- is kept until `until_ms`, the time of the entry that used it plus the 10 minutes a statement stays fresh plus the
-- minute of clock skew allowed: after that the engine refuses the statement as expired anyway, and the row is
-- forgotten. Written in the transaction of the entry; the primary key refuses a second use even if the engine did not.
-- The projection no longer keeps `statement/…` documents (projection format 6).
CREATE TABLE used_statement (
    digest   BLOB PRIMARY KEY,
    until_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX used_statement_until ON used_statement (until_ms);
