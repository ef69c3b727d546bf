-- Notifications waiting for delivery (webhooks): written with the alert event that causes them, so a
-- restart loses none; delivered rows stay as the record of what was sent.

CREATE TABLE notification_outbox (
    id              INTEGER PRIMARY KEY,
    created_at      INTEGER NOT NULL,
    alert_id        INTEGER NOT NULL REFERENCES alerts (id),
    payload         TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    delivered_at    INTEGER,
    last_error      TEXT
);
CREATE INDEX notification_outbox_pending ON notification_outbox (delivered_at, next_attempt_at, id);
