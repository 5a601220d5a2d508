-- Webhook deliveries (`schema/webhooks.md`). A message is inserted in the same transaction as the ledger entries of
-- the event it tells of (an outbox): nothing is sent for an event that was rolled back, and nothing committed is
-- lost. `signoff serve` delivers them, at least once, with the message's id as `webhook-id` (receivers deduplicate).
CREATE TABLE webhook_message (
    id              TEXT PRIMARY KEY NOT NULL,   -- msg_<32 hex>: the webhook-id header, the same on every attempt
    subscription    TEXT NOT NULL,               -- WH-n
    type            TEXT NOT NULL,               -- request.filed, reminder, ...
    notification    TEXT NOT NULL,               -- canonical JSON; rendered for the subscription's format when sent
    created_ms      INTEGER NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'disabled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    last_status     INTEGER,                     -- the HTTP status of the last attempt, if it got one
    last_error      TEXT,
    delivered_ms    INTEGER
) WITHOUT ROWID;
CREATE INDEX webhook_message_due ON webhook_message (status, next_attempt_ms);
CREATE INDEX webhook_message_subscription ON webhook_message (subscription, created_ms);

-- Every attempt, for `signoff webhook deliveries`.
CREATE TABLE webhook_attempt (
    message     TEXT NOT NULL,
    at_ms       INTEGER NOT NULL,
    status_code INTEGER,                         -- absent when no answer came (refused, timed out)
    error       TEXT,
    duration_ms INTEGER NOT NULL
);
CREATE INDEX webhook_attempt_message ON webhook_attempt (message, at_ms);

-- An endpoint that answered 410 Gone is disabled until an administrator enables it again.
CREATE TABLE webhook_endpoint (
    subscription TEXT PRIMARY KEY NOT NULL,
    disabled_ms  INTEGER NOT NULL,
    reason       TEXT NOT NULL
) WITHOUT ROWID;

-- Scheduled notifications already sent (a reminder of a request's stage to a person, an overdue retrospective), so
-- that each is sent once.
CREATE TABLE notification_sent (
    key   TEXT PRIMARY KEY NOT NULL,
    at_ms INTEGER NOT NULL
) WITHOUT ROWID;
