-- An alert belongs to one version: the open-alert key gains the version, and each existing alert takes back
-- the version it fired on (an evaluation of another version used to relabel it). An incident resolved by hand
-- records who resolved it and why.

DROP INDEX alerts_one_open;
UPDATE alerts SET version = COALESCE(
    (SELECT (e.details::jsonb ->> 'version')::BIGINT FROM alert_events e
     WHERE e.alert_id = alerts.id AND e.kind = 'fired' ORDER BY e.id LIMIT 1),
    version);
CREATE UNIQUE INDEX alerts_one_open ON alerts (model_id, monitor, feature, version) WHERE state != 'resolved';

ALTER TABLE incidents ADD COLUMN resolved_by TEXT;
ALTER TABLE incidents ADD COLUMN resolution TEXT;
