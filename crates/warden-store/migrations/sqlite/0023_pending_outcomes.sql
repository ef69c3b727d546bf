-- Outcomes read from a stream before the decision they label was logged (the outcomes topic ahead of the
-- decisions topic, or a replay of one without the other): kept until the decision arrives, then recorded as
-- outcomes by the next monitor round; after seven days without it, set aside as dead records. Kept once per
-- place read, as outcomes are.
CREATE TABLE pending_outcomes (
    id            INTEGER PRIMARY KEY,
    request_id    TEXT    NOT NULL,
    at            INTEGER NOT NULL,
    label         INTEGER NOT NULL CHECK (label IN (0, 1)),
    kind          TEXT    NOT NULL,
    amount        REAL,
    recorded_by   TEXT    NOT NULL,
    topic         TEXT    NOT NULL,
    partition     INTEGER NOT NULL,
    record_offset INTEGER NOT NULL,
    model         TEXT,
    payload       TEXT    NOT NULL,
    UNIQUE (topic, partition, record_offset, request_id)
);
CREATE INDEX pending_outcomes_by_request ON pending_outcomes (request_id);
