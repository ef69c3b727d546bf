-- A regression model's outcome: the realized value it predicted (the loss given default, the exposure at
-- default, the income), beside the event label.
ALTER TABLE outcomes ADD COLUMN value REAL;
ALTER TABLE pending_outcomes ADD COLUMN value REAL;
