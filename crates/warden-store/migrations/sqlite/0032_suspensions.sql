-- The stop switch: a model suspended stops answering with its production versions on every replica and answers
-- its fallback instead (decline, refer to manual review, or a named version the gate let into the alias).
-- Append-only: a model's latest row says whether it is suspended.
CREATE TABLE model_suspensions (
    id               INTEGER PRIMARY KEY,
    model_id         INTEGER NOT NULL REFERENCES models (id),
    at               INTEGER NOT NULL,
    actor            TEXT    NOT NULL,
    action           TEXT    NOT NULL CHECK (action IN ('suspend', 'resume')),
    reason           TEXT    NOT NULL,
    -- A suspension's fallback: 'decline', 'refer' or 'version' (with fallback_version); NULL for a resumption.
    fallback         TEXT    CHECK (fallback IN ('decline', 'refer', 'version')),
    fallback_version INTEGER
);
CREATE INDEX model_suspensions_by_model ON model_suspensions (model_id, id);
CREATE TRIGGER model_suspensions_append_only_u BEFORE UPDATE ON model_suspensions
BEGIN SELECT RAISE(ABORT, 'suspensions are append-only'); END;
CREATE TRIGGER model_suspensions_append_only_d BEFORE DELETE ON model_suspensions
BEGIN SELECT RAISE(ABORT, 'suspensions are append-only'); END;

-- The decision log's `route` gains `fallback` (answered while the model was suspended), and a fallback that
-- scores nothing (decline, refer) has no score. Rebuilt, it drops its per-row foreign keys, as PostgreSQL's did
-- (its migration 0007): versions are never deleted or changed, and the decision log's one writer checks each
-- version once (`known_versions`), which keeps what the keys kept without a lookup per row.
CREATE TABLE decisions_fallback (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    request_id  TEXT    NOT NULL,
    model_id    INTEGER NOT NULL,
    version     INTEGER NOT NULL,
    route       TEXT    NOT NULL
        CHECK (route IN ('champion', 'canary', 'shadow', 'batch', 'pinned', 'unapproved', 'fallback')),
    features    TEXT    NOT NULL,
    attributes  TEXT    NOT NULL,
    score       REAL,
    decision    TEXT    NOT NULL,
    latency_us  INTEGER NOT NULL,
    source      TEXT    NOT NULL DEFAULT 'scored' CHECK (source IN ('scored', 'http', 'kserve', 'kafka'))
);
INSERT INTO decisions_fallback (id, at, request_id, model_id, version, route, features, attributes, score, decision,
                                latency_us, source)
SELECT id, at, request_id, model_id, version, route, features, attributes, score, decision, latency_us, source
FROM decisions;
DROP TABLE decisions;
ALTER TABLE decisions_fallback RENAME TO decisions;
CREATE UNIQUE INDEX decisions_by_request
    ON decisions (request_id, model_id, version, (CASE WHEN source <> 'scored' THEN 1 END));
CREATE INDEX decisions_by_model_time ON decisions (model_id, version, at);
CREATE TRIGGER decisions_append_only_u BEFORE UPDATE ON decisions
BEGIN SELECT RAISE(ABORT, 'the decision log is append-only'); END;
CREATE TRIGGER decisions_append_only_d BEFORE DELETE ON decisions
BEGIN SELECT RAISE(ABORT, 'the decision log is append-only'); END;
