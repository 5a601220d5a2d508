-- Connected directories (SCIM, schema/directory.md): the attributes of the users and groups a directory provisioned that
-- the ledger does not hold (display names, e-mail addresses, external ids), kept for the SCIM service to answer with.
-- Who exists, who is enabled and who is in which group are the ledger's (entries whose actor is directory:NAME); a row
-- is written in the same unit of work as the entries its change causes. No secret is kept here.
CREATE TABLE directory_resource (
    directory   TEXT NOT NULL,        -- the connected directory's name
    type        TEXT NOT NULL,        -- 'User' or 'Group'
    id          TEXT NOT NULL,        -- the user's or group's Signoff name (the SCIM id)
    attributes  TEXT NOT NULL,        -- JSON object: the SCIM attributes the ledger does not hold
    created_ms  INTEGER NOT NULL,
    modified_ms INTEGER NOT NULL,
    version     INTEGER NOT NULL,     -- bumped by every change (the SCIM meta.version)
    PRIMARY KEY (directory, type, id)
) WITHOUT ROWID;
