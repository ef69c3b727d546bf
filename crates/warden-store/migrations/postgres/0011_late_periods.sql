-- Periods that decisions older than the live windows arrived for, noted in the transaction that logs them, until
-- a monitor round stores revised evaluations of the period. `generation` grows with every note, so a round
-- clears only the notes it read.
CREATE TABLE late_periods (
    model_id     BIGINT NOT NULL REFERENCES models (id),
    version      BIGINT NOT NULL,
    period_start BIGINT NOT NULL,
    generation   BIGINT NOT NULL,
    PRIMARY KEY (model_id, version, period_start)
);
