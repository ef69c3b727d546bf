-- Registry, aliases, tokens and the append-only audit trail.
-- Times are microseconds since the Unix epoch (UTC); JSON columns hold canonical serde_json text.

CREATE TABLE models (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    description TEXT    NOT NULL,
    owner       TEXT    NOT NULL,
    risk_tier   TEXT    NOT NULL CHECK (risk_tier IN ('high', 'medium', 'low')),
    use_case    TEXT    NOT NULL,
    tags        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    created_by  TEXT    NOT NULL
);

CREATE TABLE versions (
    model_id             INTEGER NOT NULL REFERENCES models (id),
    version              INTEGER NOT NULL CHECK (version >= 1),
    artifact_sha256      TEXT    NOT NULL,
    artifact_size        INTEGER NOT NULL,
    format               TEXT    NOT NULL,
    feature_schema       TEXT    NOT NULL,
    target_column        TEXT,
    protected_columns    TEXT    NOT NULL,
    reference_sha256     TEXT    NOT NULL,
    reference_size       INTEGER NOT NULL,
    reference_format     TEXT    NOT NULL,
    reference_profile    TEXT    NOT NULL,
    training_data_sha256 TEXT,
    training_data_rows   INTEGER,
    code_ref             TEXT,
    hyperparameters      TEXT    NOT NULL,
    parent_version       INTEGER,
    created_at           INTEGER NOT NULL,
    created_by           TEXT    NOT NULL,
    PRIMARY KEY (model_id, version),
    FOREIGN KEY (model_id, parent_version) REFERENCES versions (model_id, version)
);
CREATE INDEX versions_by_artifact ON versions (artifact_sha256);
CREATE INDEX versions_by_reference ON versions (reference_sha256);

-- A version is immutable once written.
CREATE TRIGGER versions_immutable BEFORE UPDATE ON versions
BEGIN SELECT RAISE(ABORT, 'versions are immutable'); END;
CREATE TRIGGER versions_undeletable BEFORE DELETE ON versions
BEGIN SELECT RAISE(ABORT, 'versions are immutable'); END;

-- Every alias change is a new row; the current target is the latest row. version NULL = alias removed.
CREATE TABLE alias_assignments (
    id          INTEGER PRIMARY KEY,
    model_id    INTEGER NOT NULL REFERENCES models (id),
    alias       TEXT    NOT NULL,
    version     INTEGER,
    assigned_at INTEGER NOT NULL,
    assigned_by TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    FOREIGN KEY (model_id, version) REFERENCES versions (model_id, version)
);
CREATE INDEX alias_assignments_lookup ON alias_assignments (model_id, alias, assigned_at, id);
CREATE TRIGGER alias_assignments_append_only_u BEFORE UPDATE ON alias_assignments
BEGIN SELECT RAISE(ABORT, 'alias history is append-only'); END;
CREATE TRIGGER alias_assignments_append_only_d BEFORE DELETE ON alias_assignments
BEGIN SELECT RAISE(ABORT, 'alias history is append-only'); END;

CREATE TABLE tokens (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    role          TEXT    NOT NULL,
    secret_sha256 TEXT    NOT NULL UNIQUE,
    created_at    INTEGER NOT NULL,
    created_by    TEXT    NOT NULL,
    revoked_at    INTEGER,
    revoked_by    TEXT
);

CREATE TABLE audit_events (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    actor   TEXT    NOT NULL,
    action  TEXT    NOT NULL,
    subject TEXT    NOT NULL,
    payload TEXT    NOT NULL
);
CREATE INDEX audit_events_by_subject ON audit_events (subject, seq);
CREATE TRIGGER audit_events_append_only_u BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TRIGGER audit_events_append_only_d BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
