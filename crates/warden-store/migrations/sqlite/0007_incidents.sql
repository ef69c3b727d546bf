-- Incidents: a critical alert opens one per model (later critical alerts of the model join it); it is
-- resolved when all its alerts are. Its timeline is its alerts' events.

CREATE TABLE incidents (
    id              INTEGER PRIMARY KEY,
    model_id        INTEGER NOT NULL REFERENCES models (id),
    title           TEXT    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('open', 'resolved')),
    opened_at       INTEGER NOT NULL,
    detect_micros   INTEGER NOT NULL,
    resolved_at     INTEGER
);
CREATE UNIQUE INDEX incidents_one_open ON incidents (model_id) WHERE state = 'open';

ALTER TABLE alerts ADD COLUMN incident_id INTEGER REFERENCES incidents (id);
