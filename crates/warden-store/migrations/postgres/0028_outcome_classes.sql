-- A multiclass classifier's outcome: the class that was realized (one of its version's class labels), beside
-- the event label.
ALTER TABLE outcomes ADD COLUMN class TEXT;
ALTER TABLE pending_outcomes ADD COLUMN class TEXT;
