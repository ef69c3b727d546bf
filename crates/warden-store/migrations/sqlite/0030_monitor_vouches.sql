-- How far each model's monitor evaluations are vouched for: a `monitor.hour` ledger entry vouches for every
-- evaluation of the model stored after the previous one's `through_id` up to its own (write transactions are
-- serial, so ids grow in commit order), once per hour of the rounds' clock.
CREATE TABLE monitor_vouches (
    model_id   INTEGER PRIMARY KEY REFERENCES models (id),
    through_id INTEGER NOT NULL,
    hour_start INTEGER NOT NULL
);
