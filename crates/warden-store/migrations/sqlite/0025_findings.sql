-- Findings: what the second line records against a model (validation findings, limitations, policy
-- exceptions, vulnerabilities, monitoring breaches). A row holds the finding as it stands; every change is an
-- audit event (and ledger entry) carrying the whole finding after it, written in the same transaction.

CREATE TABLE findings (
    id                INTEGER PRIMARY KEY,
    model_id          INTEGER NOT NULL REFERENCES models (id),
    -- NULL: the finding concerns every version of the model.
    version           INTEGER,
    kind              TEXT    NOT NULL CHECK (kind IN ('validation', 'limitation', 'policy_exception', 'vulnerability', 'monitoring_breach')),
    severity          TEXT    NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    title             TEXT    NOT NULL,
    description       TEXT    NOT NULL,
    owner             TEXT    NOT NULL,
    state             TEXT    NOT NULL CHECK (state IN ('open', 'remediation_proposed', 'closed', 'accepted')),
    raised_by         TEXT    NOT NULL,
    raised_at         INTEGER NOT NULL,
    due_at            INTEGER NOT NULL,
    remediation       TEXT,
    remediation_by    TEXT,
    closed_by         TEXT,
    closed_at         INTEGER,
    evidence          TEXT,
    accepted_by       TEXT,
    accepted_until    INTEGER,
    exception_by      TEXT,
    exception_until   INTEGER,
    exception_reason  TEXT,
    updated_at        INTEGER NOT NULL,
    -- 1, 2, ...: every change names the revision it read, so two changes never both land.
    revision          INTEGER NOT NULL,
    FOREIGN KEY (model_id, version) REFERENCES versions (model_id, version)
);
CREATE INDEX findings_by_model ON findings (model_id, state);
