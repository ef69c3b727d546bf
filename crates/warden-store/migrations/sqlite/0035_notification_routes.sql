-- Routed notifications: how far the router has read each source (the alert outbox by id, the audit trail by
-- seq), and one delivery per receiver and source event, retried until its receiver takes it. A cursor and the
-- deliveries it routed move in one transaction, so each event is routed once.
CREATE TABLE notification_cursors (
    name     TEXT    PRIMARY KEY,
    position INTEGER NOT NULL
);

CREATE TABLE notification_deliveries (
    id              INTEGER PRIMARY KEY,
    created_at      INTEGER NOT NULL,
    receiver        TEXT    NOT NULL,
    source          TEXT    NOT NULL CHECK (source IN ('alert', 'audit')),
    source_id       INTEGER NOT NULL,
    event           TEXT    NOT NULL,
    -- The event as routed; each receiver's request is rendered from it when sent.
    payload         TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    delivered_at    INTEGER,
    last_error      TEXT,
    -- What the receiver answered on success (an issue key, an incident number), kept short.
    response        TEXT,
    UNIQUE (receiver, source, source_id)
);
CREATE INDEX notification_deliveries_pending ON notification_deliveries (delivered_at, next_attempt_at, id);
