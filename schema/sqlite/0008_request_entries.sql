-- Which ledger entries are about which request (issue 16: a request's page lists them and the audit page proves each
-- one's inclusion). Written in the transaction of the entries; an index only: the ledger itself is the record, and
-- `signoff serve` (any writing command) fills it for entries appended before it existed.
CREATE TABLE request_entry (
    request  TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    PRIMARY KEY (request, sequence)
) WITHOUT ROWID;
