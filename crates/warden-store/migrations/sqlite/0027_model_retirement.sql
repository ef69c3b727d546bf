-- A model's retirement: requested (with the reason), then retired. A low or medium tier model is retired at
-- once (requested and retired by the same person); a high tier one needs a second person to confirm.
-- Nothing of a retired model is deleted: it stops serving and ingesting, and keeps every record.
ALTER TABLE models ADD COLUMN retirement_requested_by TEXT;
ALTER TABLE models ADD COLUMN retirement_requested_at INTEGER;
ALTER TABLE models ADD COLUMN retirement_reason TEXT;
ALTER TABLE models ADD COLUMN retired_by TEXT;
ALTER TABLE models ADD COLUMN retired_at INTEGER;
