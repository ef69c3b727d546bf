-- The tamper-evident ledger: one entry per audit event, in the same transaction, as the leaves of an RFC 9162
-- Merkle tree (warden-ledger), and the signed checkpoints of that tree.
--
-- An entry's canonical text is not stored twice: it is rebuilt from its audit event (when, who, what, to
-- what), the payload hash kept here, its position and the previous entry's leaf hash. The leaf hash kept here
-- is what the tree and the checkpoints are built from; verification rebuilds each entry and compares.

CREATE TABLE ledger_entries (
    idx            INTEGER PRIMARY KEY,    -- leaf index: 0, 1, 2, ...
    audit_seq      INTEGER NOT NULL UNIQUE REFERENCES audit_events (seq),
    payload_sha256 BLOB    NOT NULL,       -- SHA-256 of the payload's canonical JSON
    leaf_hash      BLOB    NOT NULL        -- SHA-256(0x00 || canonical entry)
);
CREATE TRIGGER ledger_entries_append_only_u BEFORE UPDATE ON ledger_entries
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TRIGGER ledger_entries_append_only_d BEFORE DELETE ON ledger_entries
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;

CREATE TABLE ledger_checkpoints (
    id         INTEGER PRIMARY KEY,
    tree_size  INTEGER NOT NULL,
    root       BLOB    NOT NULL,
    at         INTEGER NOT NULL,
    note       TEXT    NOT NULL        -- the C2SP signed note
);
CREATE TRIGGER ledger_checkpoints_append_only_u BEFORE UPDATE ON ledger_checkpoints
BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
CREATE TRIGGER ledger_checkpoints_append_only_d BEFORE DELETE ON ledger_checkpoints
BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
