-- A topic replayed from offset 0 (a new consumer group, a reset) adds no rows: outcomes and dead records read
-- from Kafka keep where they were read, and one already kept from there is skipped. The request id (outcomes)
-- and the payload's hash (dead records) are part of the key, so a topic deleted and created again under the
-- same name, whose offsets start over, loses nothing.
ALTER TABLE outcomes ADD COLUMN topic TEXT;
ALTER TABLE outcomes ADD COLUMN partition BIGINT;
ALTER TABLE outcomes ADD COLUMN record_offset BIGINT;
CREATE UNIQUE INDEX outcomes_read_once ON outcomes (topic, partition, record_offset, request_id)
    WHERE record_offset IS NOT NULL;
ALTER TABLE dead_letters ADD COLUMN payload_sha256 TEXT;
CREATE UNIQUE INDEX dead_letters_read_once ON dead_letters (topic, partition, record_offset, payload_sha256)
    WHERE record_offset IS NOT NULL;
