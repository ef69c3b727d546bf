-- A model's retraining schedule: which trainer, how often, and when next.
CREATE TABLE retrain_schedules (
    model_id      INTEGER PRIMARY KEY REFERENCES models (id),
    trainer       TEXT    NOT NULL,
    every_seconds INTEGER NOT NULL CHECK (every_seconds > 0),
    next_at       INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    updated_by    TEXT    NOT NULL
);
