"""Writes a reference and a current Parquet file of 20 numeric features for the drift benchmark.

Features 0-4 drift in the current file (a location shift of 0.25 standard deviations, so the normed
Wasserstein distance is about 0.25); features 5-19 do not. Deterministic (fixed seed).
Usage: make_drift_data.py REFERENCE_ROWS CURRENT_ROWS OUT_DIR
"""
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

FEATURES = 20
DRIFTED = 5


def columns(rng, rows, drift):
    data = {}
    for j in range(FEATURES):
        kind = j % 4
        if kind == 0:
            x = rng.lognormal(10.0, 0.5, rows)  # amounts
        elif kind == 1:
            x = np.floor(rng.uniform(18, 80, rows))  # ages
        elif kind == 2:
            x = rng.beta(2.0, 5.0, rows)  # rates
        else:
            x = rng.normal(0.0, 1.0, rows)  # scores
        if drift and j < DRIFTED:
            x = x + 0.25 * x.std()
        missing = rng.random(rows) < 0.01
        x[missing] = np.nan
        data[f"f{j:02d}"] = x
    return data


def write(path, rows, seed, drift):
    rng = np.random.default_rng(seed)
    table = pa.table(columns(rng, rows, drift))
    pq.write_table(table, path, compression="snappy", row_group_size=1_000_000)


def main():
    reference_rows, current_rows, out = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
    out.mkdir(parents=True, exist_ok=True)
    write(out / f"reference_{reference_rows}.parquet", reference_rows, 20261122, False)
    write(out / f"current_{current_rows}.parquet", current_rows, 20261123, True)


if __name__ == "__main__":
    main()
