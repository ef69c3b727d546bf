-- Scoring: each version's serving configuration, canary traffic shares, the decision log and late outcomes.

ALTER TABLE versions ADD COLUMN serving_config TEXT NOT NULL DEFAULT '{}';

-- The share of traffic an alias takes (used by the `canary` alias); NULL = no share.
ALTER TABLE alias_assignments ADD COLUMN traffic REAL CHECK (traffic IS NULL OR (traffic >= 0 AND traffic <= 1));

-- One row per scored request and route (the champion's answer, a canary's answer, a shadow challenger's score).
CREATE TABLE decisions (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    request_id  TEXT    NOT NULL,
    model_id    INTEGER NOT NULL REFERENCES models (id),
    version     INTEGER NOT NULL,
    route       TEXT    NOT NULL CHECK (route IN ('champion', 'canary', 'shadow', 'batch', 'pinned')),
    features    TEXT    NOT NULL,
    attributes  TEXT    NOT NULL,
    score       REAL    NOT NULL,
    decision    TEXT    NOT NULL,
    latency_us  INTEGER NOT NULL,
    FOREIGN KEY (model_id, version) REFERENCES versions (model_id, version)
);
CREATE INDEX decisions_by_request ON decisions (request_id);
CREATE INDEX decisions_by_model_time ON decisions (model_id, version, at);
CREATE TRIGGER decisions_append_only_u BEFORE UPDATE ON decisions
BEGIN SELECT RAISE(ABORT, 'the decision log is append-only'); END;
CREATE TRIGGER decisions_append_only_d BEFORE DELETE ON decisions
BEGIN SELECT RAISE(ABORT, 'the decision log is append-only'); END;

-- Late labels, one per request id (a correction is a new row; the latest wins).
CREATE TABLE outcomes (
    id          INTEGER PRIMARY KEY,
    request_id  TEXT    NOT NULL,
    at          INTEGER NOT NULL,
    label       INTEGER NOT NULL CHECK (label IN (0, 1)),
    kind        TEXT    NOT NULL,
    amount      REAL,
    recorded_by TEXT    NOT NULL
);
CREATE INDEX outcomes_by_request ON outcomes (request_id, id);
CREATE TRIGGER outcomes_append_only_u BEFORE UPDATE ON outcomes
BEGIN SELECT RAISE(ABORT, 'outcomes are append-only'); END;
CREATE TRIGGER outcomes_append_only_d BEFORE DELETE ON outcomes
BEGIN SELECT RAISE(ABORT, 'outcomes are append-only'); END;
