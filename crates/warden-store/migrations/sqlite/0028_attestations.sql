-- Periodic owner attestations: the model is still used as documented and its limitations still hold. One opens
-- on schedule (Warden), the owner's side submits it, the second line accepts or rejects it (a rejected one is
-- submitted again). At most one unresolved attestation per model.
CREATE TABLE attestations (
    id              INTEGER PRIMARY KEY,
    model_id        INTEGER NOT NULL REFERENCES models (id),
    opened_at       INTEGER NOT NULL,
    due_at          INTEGER NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('open', 'submitted', 'accepted', 'rejected')),
    -- The owner's statement (JSON: still_used_as_documented, limitations_hold, comment).
    statement       TEXT,
    submitted_by    TEXT,
    submitted_at    INTEGER,
    reviewed_by     TEXT,
    reviewed_at     INTEGER,
    review_comment  TEXT,
    revision        INTEGER NOT NULL
);
CREATE UNIQUE INDEX attestations_one_unresolved ON attestations (model_id) WHERE state <> 'accepted';
