-- The business line a model serves (retail credit, cards, payments): a model-risk inventory's usual axis, and
-- what a role can be scoped to.
ALTER TABLE models ADD COLUMN business_line TEXT NOT NULL DEFAULT '';
