-- The fingerprint of the key personal data is protected with, claimed by the first data policy that protects
-- anything: a replica with another key refuses to start, and its decision log to write, rather than protect
-- with a key the others cannot match or read back.
CREATE TABLE personal_data_key (
    id          BIGINT PRIMARY KEY CHECK (id = 1),
    fingerprint TEXT   NOT NULL
);

-- What a purge's clean-up and the erasure guard look subjects up by.
CREATE INDEX decision_subjects_by_decision ON decision_subjects (model_id, version, request_id);
