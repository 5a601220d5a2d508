-- The webhook outbox, its delivery log, disabled endpoints and scheduled notifications sent: as schema/sqlite/ 0006
-- (schema/webhooks.md).

CREATE TABLE webhook_message (
    id              TEXT PRIMARY KEY NOT NULL,   -- msg_<32 hex>: the webhook-id header, the same on every attempt
    subscription    TEXT NOT NULL,
    type            TEXT NOT NULL,
    notification    TEXT NOT NULL,               -- canonical JSON
    created_ms      BIGINT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'disabled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms BIGINT NOT NULL,
    last_status     INTEGER,
    last_error      TEXT,
    delivered_ms    BIGINT
);
CREATE INDEX webhook_message_due ON webhook_message (status, next_attempt_ms);
CREATE INDEX webhook_message_subscription ON webhook_message (subscription, created_ms);

CREATE TABLE webhook_attempt (
    message     TEXT NOT NULL,
    at_ms       BIGINT NOT NULL,
    status_code INTEGER,
    error       TEXT,
    duration_ms BIGINT NOT NULL
);
CREATE INDEX webhook_attempt_message ON webhook_attempt (message, at_ms);

CREATE TABLE webhook_endpoint (
    subscription TEXT PRIMARY KEY NOT NULL,
    disabled_ms  BIGINT NOT NULL,
    reason       TEXT NOT NULL
);

CREATE TABLE notification_sent (
    key   TEXT PRIMARY KEY NOT NULL,
    at_ms BIGINT NOT NULL
);
