-- Incidents on regulators' clocks: an incident classified under a framework (a DORA major ICT-related incident,
-- an EU AI Act serious incident, or an internal severity), with the classification's time and when the firm
-- became aware; the reports submitted to the authority (who recorded them, when they were submitted, the
-- authority's reference); and the reminders sent before a report's due time and once it has passed, each once.
-- Classifications and reports are append-only: the latest classification per framework counts.
CREATE TABLE incident_classifications (
    id            INTEGER PRIMARY KEY,
    incident_id   INTEGER NOT NULL REFERENCES incidents (id),
    at            INTEGER NOT NULL,
    actor         TEXT    NOT NULL,
    framework     TEXT    NOT NULL CHECK (framework IN ('dora', 'ai_act', 'internal')),
    classified_at INTEGER NOT NULL,
    aware_at      INTEGER NOT NULL,
    ground        TEXT    CHECK (ground IN ('death', 'widespread_or_critical_infrastructure', 'other')),
    severity      TEXT,
    note          TEXT    NOT NULL
);
CREATE INDEX incident_classifications_by_incident ON incident_classifications (incident_id, id);
CREATE TRIGGER incident_classifications_append_only_u BEFORE UPDATE ON incident_classifications
BEGIN SELECT RAISE(ABORT, 'incident classifications are append-only'); END;
CREATE TRIGGER incident_classifications_append_only_d BEFORE DELETE ON incident_classifications
BEGIN SELECT RAISE(ABORT, 'incident classifications are append-only'); END;

CREATE TABLE incident_reports (
    id             INTEGER PRIMARY KEY,
    incident_id    INTEGER NOT NULL REFERENCES incidents (id),
    at             INTEGER NOT NULL,
    actor          TEXT    NOT NULL,
    framework      TEXT    NOT NULL CHECK (framework IN ('dora', 'ai_act')),
    kind           TEXT    NOT NULL CHECK (kind IN ('initial', 'intermediate', 'final', 'report')),
    submitted_at   INTEGER NOT NULL,
    reference      TEXT    NOT NULL,
    content_sha256 TEXT
);
CREATE INDEX incident_reports_by_incident ON incident_reports (incident_id, id);
CREATE TRIGGER incident_reports_append_only_u BEFORE UPDATE ON incident_reports
BEGIN SELECT RAISE(ABORT, 'incident reports are append-only'); END;
CREATE TRIGGER incident_reports_append_only_d BEFORE DELETE ON incident_reports
BEGIN SELECT RAISE(ABORT, 'incident reports are append-only'); END;

CREATE TABLE incident_reminders (
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    framework   TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    stage       TEXT    NOT NULL CHECK (stage IN ('due_soon', 'overdue')),
    due_at      INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    PRIMARY KEY (incident_id, framework, kind, stage, due_at)
);
