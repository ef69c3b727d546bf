-- Several replicas: who holds each piece of scheduled work (a lease that lapses unless renewed), and each
-- replica's live window profiles in 10-second buckets, which the monitors merge.
CREATE TABLE leases (
    name       TEXT   PRIMARY KEY,
    holder     TEXT   NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE window_buckets (
    model_id     BIGINT NOT NULL REFERENCES models (id),
    version      BIGINT NOT NULL,
    replica      TEXT   NOT NULL,
    bucket_start BIGINT NOT NULL,
    decisions    BIGINT NOT NULL,
    body         TEXT   NOT NULL,
    PRIMARY KEY (model_id, version, bucket_start, replica)
);
