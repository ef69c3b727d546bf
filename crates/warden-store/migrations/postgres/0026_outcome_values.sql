-- A regression model's outcome: the realized value it predicted (the loss given default, the exposure at
-- default, the income), beside the event label.
ALTER TABLE outcomes ADD COLUMN value DOUBLE PRECISION;
ALTER TABLE pending_outcomes ADD COLUMN value DOUBLE PRECISION;
