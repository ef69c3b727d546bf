-- One row the decision log rewrites to learn whether the database takes commits again (after a full disk,
-- a lost connection) while no traffic is coming in.
CREATE TABLE write_probe (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    at BIGINT NOT NULL,
    filler TEXT NOT NULL
);
