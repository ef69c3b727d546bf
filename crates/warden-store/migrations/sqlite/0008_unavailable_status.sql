-- An evaluation can be `unavailable`: an input the monitor needs is missing (no LGD, no labelled reference).
-- SQLite cannot change a CHECK constraint in place, so the table is rebuilt with its rows, index and triggers.

CREATE TABLE monitor_evaluations_v2 (
    id           INTEGER PRIMARY KEY,
    monitor_id   INTEGER NOT NULL REFERENCES monitors (id),
    at           INTEGER NOT NULL,
    version      INTEGER NOT NULL,
    window_start INTEGER NOT NULL,
    decisions    INTEGER NOT NULL,
    status       TEXT    NOT NULL CHECK (status IN ('ok', 'warn', 'alert', 'insufficient', 'unavailable')),
    value        REAL,
    details      TEXT    NOT NULL
);
INSERT INTO monitor_evaluations_v2 SELECT * FROM monitor_evaluations;
DROP TABLE monitor_evaluations;
ALTER TABLE monitor_evaluations_v2 RENAME TO monitor_evaluations;
CREATE INDEX monitor_evaluations_by_monitor ON monitor_evaluations (monitor_id, at, id);
CREATE TRIGGER monitor_evaluations_append_only_u BEFORE UPDATE ON monitor_evaluations
BEGIN SELECT RAISE(ABORT, 'monitor evaluations are append-only'); END;
CREATE TRIGGER monitor_evaluations_append_only_d BEFORE DELETE ON monitor_evaluations
BEGIN SELECT RAISE(ABORT, 'monitor evaluations are append-only'); END;
