-- Decisions made outside Warden (sent over HTTP, by KServe's payload logger, from a Kafka topic) join the one
-- decision log. SQLite cannot widen a CHECK in place, so the table is rebuilt: `route` gains `unapproved` (a
-- decision of a version no production alias held when it was made) and `source` says how a decision arrived.
DROP TRIGGER decisions_append_only_u;
DROP TRIGGER decisions_append_only_d;
CREATE TABLE decisions_ingestion (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    request_id  TEXT    NOT NULL,
    model_id    INTEGER NOT NULL REFERENCES models (id),
    version     INTEGER NOT NULL,
    route       TEXT    NOT NULL CHECK (route IN ('champion', 'canary', 'shadow', 'batch', 'pinned', 'unapproved')),
    features    TEXT    NOT NULL,
    attributes  TEXT    NOT NULL,
    score       REAL    NOT NULL,
    decision    TEXT    NOT NULL,
    latency_us  INTEGER NOT NULL,
    source      TEXT    NOT NULL DEFAULT 'scored' CHECK (source IN ('scored', 'http', 'kserve', 'kafka')),
    FOREIGN KEY (model_id, version) REFERENCES versions (model_id, version)
);
INSERT INTO decisions_ingestion (id, at, request_id, model_id, version, route, features, attributes, score, decision,
                                 latency_us)
SELECT id, at, request_id, model_id, version, route, features, attributes, score, decision, latency_us FROM decisions;
DROP TABLE decisions;
ALTER TABLE decisions_ingestion RENAME TO decisions;
CREATE INDEX decisions_by_request ON decisions (request_id);
CREATE INDEX decisions_by_model_time ON decisions (model_id, version, at);
-- An ingested decision is logged once: a retried batch, a replayed topic or a re-sent event adds nothing.
CREATE UNIQUE INDEX decisions_ingested_once ON decisions (model_id, version, request_id) WHERE source <> 'scored';
CREATE TRIGGER decisions_append_only_u BEFORE UPDATE ON decisions
BEGIN SELECT RAISE(ABORT, 'the decision log is append-only'); END;
CREATE TRIGGER decisions_append_only_d BEFORE DELETE ON decisions
BEGIN SELECT RAISE(ABORT, 'the decision log is append-only'); END;

-- Where each stream consumer has reached: the next offset of each partition, committed in the same transaction
-- as the records before it, so a restart, a rebalance or a replay from offset 0 adds nothing twice.
CREATE TABLE stream_offsets (
    consumer_group TEXT    NOT NULL,
    topic          TEXT    NOT NULL,
    partition      INTEGER NOT NULL,
    next_offset    INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    PRIMARY KEY (consumer_group, topic, partition)
);

-- Records that could not be ingested, with where they came from and why: kept, counted, never dropped silently.
CREATE TABLE dead_letters (
    id            INTEGER PRIMARY KEY,
    at            INTEGER NOT NULL,
    source        TEXT    NOT NULL CHECK (source IN ('http', 'kserve', 'kafka')),
    topic         TEXT,
    partition     INTEGER,
    record_offset INTEGER,
    model         TEXT,
    reason        TEXT    NOT NULL,
    payload       TEXT    NOT NULL
);
CREATE INDEX dead_letters_by_time ON dead_letters (at);
CREATE TRIGGER dead_letters_append_only_u BEFORE UPDATE ON dead_letters
BEGIN SELECT RAISE(ABORT, 'dead letters are append-only'); END;

-- Halves of KServe inference events waiting for the other half, joined by the CloudEvent id (the response may
-- come first, or minutes later). A joined pair is removed once its decision is logged.
CREATE TABLE kserve_events (
    model_id    INTEGER NOT NULL REFERENCES models (id),
    version     INTEGER NOT NULL,
    event_id    TEXT    NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('request', 'response')),
    received_at INTEGER NOT NULL,
    body        TEXT    NOT NULL,
    PRIMARY KEY (model_id, version, event_id, kind)
);
CREATE INDEX kserve_events_by_time ON kserve_events (received_at);
