-- People's chat handles (schema/webhooks.md, "Mentions"): a Slack member ID and a Teams user, used to mention a person
-- where a message names them. Not authority, not in the ledger; set by the person or an administrator. No secret.
CREATE TABLE chat_handle (
    principal   TEXT PRIMARY KEY,     -- the user's Signoff name
    slack       TEXT,                 -- a Slack member ID (U…/W…), or NULL
    teams       TEXT,                 -- a Teams object ID or user principal name, or NULL
    modified_ms INTEGER NOT NULL,
    modified_by TEXT NOT NULL         -- who set them (the person, or an administrator)
) WITHOUT ROWID;
