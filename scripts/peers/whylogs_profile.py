"""Profiles decision records with whylogs, the peer of Warden's ingestion benchmark (`xtask bench ingest`).

usage: whylogs_profile.py RECORDS.ndjson BATCH RUNS

Reads the same NDJSON decision records Warden ingests, flattens each batch of BATCH records into a pandas
DataFrame (features, attributes, score) and profiles it with `why.log`, merging the batches' profiles into one,
as a service profiling a stream of predictions would. Prints rows per second of each run and their median.
"""

import json
import statistics
import sys
import time

import pandas as pd
import whylogs as why


def batches(lines, size):
    for start in range(0, len(lines), size):
        rows = []
        for line in lines[start:start + size]:
            record = json.loads(line)
            row = dict(record["features"])
            row.update(record.get("attributes", {}))
            row["score"] = record["score"]
            rows.append(row)
        yield pd.DataFrame(rows)


def main():
    path, size, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    with open(path) as f:
        lines = f.read().splitlines()
    rates = []
    for _ in range(runs):
        started = time.perf_counter()
        profile = None
        for frame in batches(lines, size):
            view = why.log(frame).view()
            profile = view if profile is None else profile.merge(view)
        elapsed = time.perf_counter() - started
        rates.append(len(lines) / elapsed)
    counts = profile.get_column("score").get_metric("counts").n.value
    if counts != len(lines):
        raise SystemExit(f"whylogs counted {counts} scores of {len(lines)} rows")
    runs_text = ", ".join(f"{r:.0f}" for r in rates)
    print(f"whylogs {why.__version__} (JSON parsed, pandas frames, merged profile): {statistics.median(rates):.0f} rows/s   runs: {runs_text}")


if __name__ == "__main__":
    main()
