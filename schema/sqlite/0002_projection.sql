-- The engine's projection: current users, groups, workflows, projects and requests, as canonical JSON
-- documents keyed "kind/id". Updated in the same transaction as the ledger entries it folds; replaying the
-- ledger from empty must give exactly these rows (`signoff audit verify --db` checks it).

CREATE TABLE projection (
    key      TEXT PRIMARY KEY NOT NULL,   -- e.g. 'request/REQ-7', 'principal/alice'
    document TEXT NOT NULL                -- canonical JSON (sorted keys)
) WITHOUT ROWID;
