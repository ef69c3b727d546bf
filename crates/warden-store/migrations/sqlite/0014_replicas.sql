-- Several replicas: who holds each piece of scheduled work (a lease that lapses unless renewed), and each
-- replica's live window profiles in 10-second buckets, which the monitors merge.
CREATE TABLE leases (
    name       TEXT    PRIMARY KEY,
    holder     TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE TABLE window_buckets (
    model_id     INTEGER NOT NULL REFERENCES models (id),
    version      INTEGER NOT NULL,
    replica      TEXT    NOT NULL,
    bucket_start INTEGER NOT NULL,
    decisions    INTEGER NOT NULL,
    body         TEXT    NOT NULL,
    PRIMARY KEY (model_id, version, bucket_start, replica)
);
