-- A model's data policy (retention, personal fields, the subject key), declared by a data steward. Append-only:
-- a model's latest row is in force.
CREATE TABLE data_policies (
    id       INTEGER PRIMARY KEY,
    model_id INTEGER NOT NULL REFERENCES models (id),
    at       INTEGER NOT NULL,
    actor    TEXT    NOT NULL,
    policy   TEXT    NOT NULL,
    reason   TEXT    NOT NULL
);
CREATE INDEX data_policies_by_model ON data_policies (model_id, id);
CREATE TRIGGER data_policies_append_only_u BEFORE UPDATE ON data_policies
BEGIN SELECT RAISE(ABORT, 'data policies are append-only'); END;
CREATE TRIGGER data_policies_append_only_d BEFORE DELETE ON data_policies
BEGIN SELECT RAISE(ABORT, 'data policies are append-only'); END;

-- Which decisions name which person (the subject key's token): what an erasure finds them by. An index, not a
-- record: an erasure removes the person's rows.
CREATE TABLE decision_subjects (
    subject    TEXT    NOT NULL,
    model_id   INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    request_id TEXT    NOT NULL,
    PRIMARY KEY (subject, model_id, version, request_id)
) WITHOUT ROWID;

-- Every purge of a retention period and every erasure of a person: what went (rows and the SHA-256 of their
-- content, in id order), when and by whom. Append-only; the decision log's and outcomes' guards below let a
-- row go only under one of these.
CREATE TABLE data_purges (
    id       INTEGER PRIMARY KEY,
    model_id INTEGER NOT NULL REFERENCES models (id),
    at       INTEGER NOT NULL,
    actor    TEXT    NOT NULL,
    kind     TEXT    NOT NULL CHECK (kind IN ('decisions', 'features', 'outcomes', 'erasure')),
    -- A retention purge: decisions made before this time (µs). An erasure: the subject's token.
    before   INTEGER,
    subject  TEXT,
    rows     INTEGER NOT NULL,
    sha256   TEXT    NOT NULL,
    CHECK ((kind = 'erasure') = (subject IS NOT NULL) AND (kind = 'erasure') = (before IS NULL))
);
CREATE INDEX data_purges_by_model ON data_purges (model_id, kind, before);
CREATE INDEX data_purges_by_subject ON data_purges (subject) WHERE subject IS NOT NULL;
CREATE TRIGGER data_purges_append_only_u BEFORE UPDATE ON data_purges
BEGIN SELECT RAISE(ABORT, 'data purges are append-only'); END;
CREATE TRIGGER data_purges_append_only_d BEFORE DELETE ON data_purges
BEGIN SELECT RAISE(ABORT, 'data purges are append-only'); END;

-- The decision log stays append-only, except what a recorded purge or erasure takes: a decision older than a
-- purge's time goes whole, or loses its features and attributes (to '{}') and nothing else.
DROP TRIGGER decisions_append_only_u;
DROP TRIGGER decisions_append_only_d;
CREATE TRIGGER decisions_append_only_u BEFORE UPDATE ON decisions
WHEN NOT (
    NEW.features = '{}' AND NEW.attributes = '{}'
    AND NEW.id = OLD.id AND NEW.at = OLD.at AND NEW.request_id = OLD.request_id AND NEW.model_id = OLD.model_id
    AND NEW.version = OLD.version AND NEW.route = OLD.route AND NEW.score IS OLD.score
    AND NEW.decision = OLD.decision AND NEW.latency_us = OLD.latency_us AND NEW.source = OLD.source
    AND (EXISTS (SELECT 1 FROM data_purges p
                 WHERE p.model_id = OLD.model_id AND p.kind = 'features' AND OLD.at < p.before)
         OR EXISTS (SELECT 1 FROM decision_subjects s JOIN data_purges p ON p.subject = s.subject
                    WHERE s.model_id = OLD.model_id AND s.version = OLD.version AND s.request_id = OLD.request_id
                      AND p.kind = 'erasure' AND p.model_id = OLD.model_id)))
BEGIN SELECT RAISE(ABORT, 'the decision log is append-only: only a recorded purge or erasure blanks a decision''s data'); END;
CREATE TRIGGER decisions_append_only_d BEFORE DELETE ON decisions
WHEN NOT EXISTS (SELECT 1 FROM data_purges p
                 WHERE p.model_id = OLD.model_id AND p.kind = 'decisions' AND OLD.at < p.before)
BEGIN SELECT RAISE(ABORT, 'the decision log is append-only: only a recorded purge deletes decisions'); END;

DROP TRIGGER outcomes_append_only_d;
CREATE TRIGGER outcomes_append_only_d BEFORE DELETE ON outcomes
WHEN NOT EXISTS (SELECT 1 FROM data_purges p JOIN decisions d ON d.model_id = p.model_id
                 WHERE d.request_id = OLD.request_id AND p.kind = 'outcomes' AND d.at < p.before)
BEGIN SELECT RAISE(ABORT, 'outcomes are append-only: only a recorded purge deletes them'); END;
