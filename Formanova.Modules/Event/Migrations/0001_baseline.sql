-- The durable log. Ids come from the identity/autoincrement column; appends are serialised (advisory lock on
-- PostgreSQL, the single writer on SQLite) so id order is commit order and a reader following "id > last"
-- never skips a row that commits later with a smaller id.
CREATE TABLE event_log (
    id {{id}},
    idempotency_key TEXT NOT NULL,
    type TEXT NOT NULL,
    source TEXT NOT NULL,
    subject TEXT NULL,
    time {{timestamp}} NOT NULL,
    correlation_id TEXT NULL,
    data {{json}} NULL,
    -- The CloudEvents dataref extension: where an event whose data was too large to log is read in full; its data
    -- then holds a summary (see EventRules.Summarize).
    dataref TEXT NULL
);

CREATE UNIQUE INDEX ux_event_log_idempotency_key ON event_log (idempotency_key);
CREATE INDEX ix_event_log_type_id ON event_log (type, id);
CREATE INDEX ix_event_log_source_id ON event_log (source, id);
CREATE INDEX ix_event_log_time ON event_log (time);

CREATE TABLE event_webhooks (
    id {{id}},
    url TEXT NOT NULL,
    event_types TEXT NOT NULL,
    secret TEXT NOT NULL,
    description TEXT NULL,
    start_after_event_id BIGINT NOT NULL,
    created_at {{timestamp}} NOT NULL
);

CREATE TABLE event_webhook_deliveries (
    id {{id}},
    webhook_id BIGINT NOT NULL,
    event_id BIGINT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at {{timestamp}} NOT NULL,
    lease_until {{timestamp}} NULL,
    last_status_code INTEGER NULL,
    last_error TEXT NULL,
    created_at {{timestamp}} NOT NULL,
    updated_at {{timestamp}} NOT NULL,
    delivered_at {{timestamp}} NULL
);

CREATE UNIQUE INDEX ux_event_webhook_deliveries_webhook_event ON event_webhook_deliveries (webhook_id, event_id);
CREATE INDEX ix_event_webhook_deliveries_due ON event_webhook_deliveries (status, next_attempt_at);

CREATE TABLE event_webhook_attempts (
    id {{id}},
    delivery_id BIGINT NOT NULL,
    attempt INTEGER NOT NULL,
    attempted_at {{timestamp}} NOT NULL,
    outcome TEXT NOT NULL,
    status_code INTEGER NULL,
    error TEXT NULL,
    duration_ms {{float}} NOT NULL
);

CREATE INDEX ix_event_webhook_attempts_delivery ON event_webhook_attempts (delivery_id, attempt);

CREATE TABLE event_cursors (
    name TEXT NOT NULL PRIMARY KEY,
    position BIGINT NOT NULL
);
