-- Governance: validation reports, approvals, policy bundles and the gate's decision log.
-- Version records share one shape: who, when, and a JSON body; all are append-only.

CREATE TABLE validation_reports (
    id       INTEGER PRIMARY KEY,
    model_id INTEGER NOT NULL REFERENCES models (id),
    version  INTEGER NOT NULL,
    at       INTEGER NOT NULL,
    actor    TEXT    NOT NULL,
    body     TEXT    NOT NULL,
    FOREIGN KEY (model_id, version) REFERENCES versions (model_id, version)
);
CREATE INDEX validation_reports_by_version ON validation_reports (model_id, version, id);
CREATE TRIGGER validation_reports_append_only_u BEFORE UPDATE ON validation_reports
BEGIN SELECT RAISE(ABORT, 'validation reports are immutable'); END;
CREATE TRIGGER validation_reports_append_only_d BEFORE DELETE ON validation_reports
BEGIN SELECT RAISE(ABORT, 'validation reports are immutable'); END;

CREATE TABLE approvals (
    id       INTEGER PRIMARY KEY,
    model_id INTEGER NOT NULL REFERENCES models (id),
    version  INTEGER NOT NULL,
    at       INTEGER NOT NULL,
    actor    TEXT    NOT NULL,
    body     TEXT    NOT NULL,
    FOREIGN KEY (model_id, version) REFERENCES versions (model_id, version)
);
CREATE INDEX approvals_by_version ON approvals (model_id, version, id);
CREATE TRIGGER approvals_append_only_u BEFORE UPDATE ON approvals
BEGIN SELECT RAISE(ABORT, 'approvals are append-only'); END;
CREATE TRIGGER approvals_append_only_d BEFORE DELETE ON approvals
BEGIN SELECT RAISE(ABORT, 'approvals are append-only'); END;

-- Like OPA's decision log: decision id, bundle, input hash, result, time (body holds them and the input).
CREATE TABLE policy_decisions (
    id       INTEGER PRIMARY KEY,
    model_id INTEGER NOT NULL REFERENCES models (id),
    version  INTEGER NOT NULL,
    at       INTEGER NOT NULL,
    actor    TEXT    NOT NULL,
    body     TEXT    NOT NULL,
    FOREIGN KEY (model_id, version) REFERENCES versions (model_id, version)
);
CREATE INDEX policy_decisions_by_version ON policy_decisions (model_id, version, id);
CREATE TRIGGER policy_decisions_append_only_u BEFORE UPDATE ON policy_decisions
BEGIN SELECT RAISE(ABORT, 'policy decisions are append-only'); END;
CREATE TRIGGER policy_decisions_append_only_d BEFORE DELETE ON policy_decisions
BEGIN SELECT RAISE(ABORT, 'policy decisions are append-only'); END;

-- Every bundle ever in force; the highest number is the current one.
CREATE TABLE policy_bundles (
    number     INTEGER PRIMARY KEY,
    created_at INTEGER NOT NULL,
    created_by TEXT    NOT NULL,
    digest     TEXT    NOT NULL,
    files      TEXT    NOT NULL
);
CREATE TRIGGER policy_bundles_append_only_u BEFORE UPDATE ON policy_bundles
BEGIN SELECT RAISE(ABORT, 'policy bundles are immutable'); END;
CREATE TRIGGER policy_bundles_append_only_d BEFORE DELETE ON policy_bundles
BEGIN SELECT RAISE(ABORT, 'policy bundles are immutable'); END;

-- A move of a production alias names the gate decision that allowed it, or says it was an override.
ALTER TABLE alias_assignments ADD COLUMN decision_id TEXT;
ALTER TABLE alias_assignments ADD COLUMN override INTEGER NOT NULL DEFAULT 0 CHECK (override IN (0, 1));
