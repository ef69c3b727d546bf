"""Runs Evidently's DataDriftPreset on two Parquet files, end to end from the files, and prints JSON:
wall seconds, peak resident memory, and each column's drift score and verdict.
Usage: evidently_drift.py REFERENCE CURRENT
"""
import json
import re
import resource
import sys
import time

start = time.perf_counter()
import pandas as pd  # noqa: E402
from evidently import Report  # noqa: E402
from evidently.presets import DataDriftPreset  # noqa: E402

reference = pd.read_parquet(sys.argv[1])
current = pd.read_parquet(sys.argv[2])
snapshot = Report([DataDriftPreset()]).run(current, reference)
result = snapshot.dict()
seconds = time.perf_counter() - start

columns = {}
for metric in result.get("metrics", []):
    name = str(metric.get("metric_id") or metric.get("metric_name") or "")
    match = re.match(r"ValueDrift\(column=([^,)]+)(.*)\)", name)
    if not match:
        continue
    column = match.group(1)
    method = re.search(r"method=(.*?),threshold", name)
    threshold = re.search(r"threshold=([0-9.e-]+)", name)
    value = metric.get("value")
    columns[column] = {
        "score": value,
        "method": method.group(1) if method else None,
        "threshold": float(threshold.group(1)) if threshold else None,
    }

print(json.dumps({
    "seconds": seconds,
    "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    "columns": columns,
}))
