-- Periods that decisions older than the live windows arrived for, noted in the transaction that logs them, until
-- a monitor round stores revised evaluations of the period. `generation` grows with every note, so a round
-- clears only the notes it read.
CREATE TABLE late_periods (
    model_id     INTEGER NOT NULL REFERENCES models (id),
    version      INTEGER NOT NULL,
    period_start INTEGER NOT NULL,
    generation   INTEGER NOT NULL,
    PRIMARY KEY (model_id, version, period_start)
);
