-- The organisation's inventory fields: a JSON Schema a risk officer puts in force (each put is a new number;
-- the highest is in force), and each model's values, validated against it on write. A model's risk tier is
-- declared at registration, computed from its fields by the policy bundle's tiering rules, or overridden with
-- a reason; a change to a field the schema marks material makes the model "revalidation required".
CREATE TABLE inventory_schemas (
    id      INTEGER PRIMARY KEY,
    schema  TEXT    NOT NULL,
    put_by  TEXT    NOT NULL,
    put_at  INTEGER NOT NULL
);
ALTER TABLE models ADD COLUMN fields TEXT NOT NULL DEFAULT '{}';
-- The tier given at registration, which the model goes back to when no rule or override decides.
ALTER TABLE models ADD COLUMN declared_tier TEXT CHECK (declared_tier IN ('high', 'medium', 'low'));
UPDATE models SET declared_tier = risk_tier;
-- The tier a change lowered the model from (cleared when a change raises it): whoever lowered a high tier does
-- not retire the model alone.
ALTER TABLE models ADD COLUMN tier_lowered_from TEXT;
ALTER TABLE models ADD COLUMN tier_basis TEXT NOT NULL DEFAULT 'declared'
    CHECK (tier_basis IN ('declared', 'computed', 'override'));
-- JSON array: the tiering rules' reasons, or the override's reason.
ALTER TABLE models ADD COLUMN tier_reasons TEXT NOT NULL DEFAULT '[]';
ALTER TABLE models ADD COLUMN tier_set_by TEXT;
ALTER TABLE models ADD COLUMN tier_set_at INTEGER;
ALTER TABLE models ADD COLUMN material_change_at INTEGER;
ALTER TABLE models ADD COLUMN material_change TEXT;
-- Grows with every change to the fields or the tier: a write based on an older read is refused.
ALTER TABLE models ADD COLUMN inventory_revision INTEGER NOT NULL DEFAULT 0;
