-- People's reviews of single decisions (human oversight): a reviewer confirms, overrides (with a new decision)
-- or reverses a decision the production routes answered, with a reason code and free text. Append-only: the
-- latest review of a decision says how it stands.
CREATE TABLE decision_reviews (
    id              INTEGER PRIMARY KEY,
    model_id        INTEGER NOT NULL REFERENCES models (id),
    version         INTEGER NOT NULL,
    request_id      TEXT    NOT NULL,
    -- When the reviewed decision was made (monitors and training rows find it by this).
    decision_at     INTEGER NOT NULL,
    at              INTEGER NOT NULL,
    reviewer        TEXT    NOT NULL,
    action          TEXT    NOT NULL CHECK (action IN ('confirm', 'override', 'reverse')),
    -- The decision as it stood before this review, and as it stands after.
    decision_before TEXT    NOT NULL,
    decision        TEXT    NOT NULL,
    reason_code     TEXT    NOT NULL,
    note            TEXT    NOT NULL
);
CREATE INDEX decision_reviews_by_request ON decision_reviews (model_id, request_id);
CREATE INDEX decision_reviews_by_time ON decision_reviews (model_id, at);
CREATE INDEX decision_reviews_by_decision_time ON decision_reviews (model_id, decision_at);
CREATE TRIGGER decision_reviews_append_only_u BEFORE UPDATE ON decision_reviews
BEGIN SELECT RAISE(ABORT, 'decision reviews are append-only'); END;
CREATE TRIGGER decision_reviews_append_only_d BEFORE DELETE ON decision_reviews
BEGIN SELECT RAISE(ABORT, 'decision reviews are append-only'); END;
