-- Vulnerability findings imported from scanner reports: the scan they came from (format, tool and target) and
-- what makes them the same finding from one import to the next (rule and location). An unresolved finding is
-- unique per version and scan fingerprint (SHA-256 of scope and key, so the index entry stays small whatever
-- their length): a later import of the same scan finds it again instead of raising it twice, and two imports
-- at once cannot both raise it.
ALTER TABLE findings ADD COLUMN scan_scope TEXT;
ALTER TABLE findings ADD COLUMN scan_key TEXT;
ALTER TABLE findings ADD COLUMN scan_fingerprint TEXT;
CREATE UNIQUE INDEX findings_unresolved_by_scan ON findings (model_id, version, scan_fingerprint)
    WHERE scan_fingerprint IS NOT NULL AND state <> 'closed';
