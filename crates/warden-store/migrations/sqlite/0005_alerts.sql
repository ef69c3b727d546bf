-- Alerts raised by monitors: one open alert per model, monitor and feature; every transition in alert_events.

CREATE TABLE alerts (
    id              INTEGER PRIMARY KEY,
    model_id        INTEGER NOT NULL REFERENCES models (id),
    monitor         TEXT    NOT NULL,
    feature         TEXT    NOT NULL,
    version         INTEGER NOT NULL,
    severity        TEXT    NOT NULL CHECK (severity IN ('warning', 'critical')),
    state           TEXT    NOT NULL CHECK (state IN ('firing', 'acknowledged', 'resolved')),
    opened_at       INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    value           REAL,
    acknowledged_by TEXT,
    resolved_at     INTEGER
);
CREATE UNIQUE INDEX alerts_one_open ON alerts (model_id, monitor, feature) WHERE state != 'resolved';
CREATE INDEX alerts_by_state ON alerts (state, id);

CREATE TABLE alert_events (
    id       INTEGER PRIMARY KEY,
    alert_id INTEGER NOT NULL REFERENCES alerts (id),
    at       INTEGER NOT NULL,
    kind     TEXT    NOT NULL CHECK (kind IN ('fired', 'escalated', 'acknowledged', 'resolved', 'action')),
    actor    TEXT    NOT NULL,
    details  TEXT    NOT NULL
);
CREATE INDEX alert_events_by_alert ON alert_events (alert_id, id);
CREATE TRIGGER alert_events_append_only_u BEFORE UPDATE ON alert_events
BEGIN SELECT RAISE(ABORT, 'alert events are append-only'); END;
CREATE TRIGGER alert_events_append_only_d BEFORE DELETE ON alert_events
BEGIN SELECT RAISE(ABORT, 'alert events are append-only'); END;
