-- Monitors of each model and every evaluation of them (a time series).

CREATE TABLE monitors (
    id         INTEGER PRIMARY KEY,
    model_id   INTEGER NOT NULL REFERENCES models (id),
    name       TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    config     TEXT    NOT NULL,
    enabled    INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    updated_at INTEGER NOT NULL,
    updated_by TEXT    NOT NULL,
    UNIQUE (model_id, name)
);

CREATE TABLE monitor_evaluations (
    id           INTEGER PRIMARY KEY,
    monitor_id   INTEGER NOT NULL REFERENCES monitors (id),
    at           INTEGER NOT NULL,
    version      INTEGER NOT NULL,
    window_start INTEGER NOT NULL,
    decisions    INTEGER NOT NULL,
    status       TEXT    NOT NULL CHECK (status IN ('ok', 'warn', 'alert', 'insufficient')),
    value        REAL,
    details      TEXT    NOT NULL
);
CREATE INDEX monitor_evaluations_by_monitor ON monitor_evaluations (monitor_id, at, id);
CREATE TRIGGER monitor_evaluations_append_only_u BEFORE UPDATE ON monitor_evaluations
BEGIN SELECT RAISE(ABORT, 'monitor evaluations are append-only'); END;
CREATE TRIGGER monitor_evaluations_append_only_d BEFORE DELETE ON monitor_evaluations
BEGIN SELECT RAISE(ABORT, 'monitor evaluations are append-only'); END;
