-- Retraining jobs: what was trained from which data, and what became of the candidate. Append-only.
CREATE TABLE retrain_jobs (
    id       INTEGER PRIMARY KEY,
    model_id INTEGER NOT NULL REFERENCES models (id),
    at       INTEGER NOT NULL,
    body     TEXT    NOT NULL
);
CREATE INDEX retrain_jobs_by_model ON retrain_jobs (model_id, id);
CREATE TRIGGER retrain_jobs_append_only_u BEFORE UPDATE ON retrain_jobs
BEGIN SELECT RAISE(ABORT, 'retraining jobs are append-only'); END;
CREATE TRIGGER retrain_jobs_append_only_d BEFORE DELETE ON retrain_jobs
BEGIN SELECT RAISE(ABORT, 'retraining jobs are append-only'); END;
