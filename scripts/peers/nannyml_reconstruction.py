"""The peer side of `cargo run -p xtask -- bench reconstruction`: writes the data (with --make) or times
NannyML's DataReconstructionDriftCalculator on it, printing JSON (seconds to read, to fit, to calculate, and
every chunk's value).
    python nannyml_reconstruction.py --make ROWS DIR
    python nannyml_reconstruction.py REFERENCE.parquet ANALYSIS.parquet CHUNK_SIZE
"""
import json
import os
import sys
import time

os.environ["NML_DISABLE_USAGE_LOGGING"] = "1"  # no telemetry: the machine reaches no such host
import numpy as np
import pandas as pd

FEATURES = 20

if sys.argv[1] == "--make":
    rows, out = int(sys.argv[2]), sys.argv[3]
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(20261207)
    # Pairs of features correlated 0.7; in the second half of the analysis the first pair's turns to -0.7.
    def sample(n, rho_first):
        data = rng.standard_normal((n, FEATURES))
        for pair in range(0, FEATURES, 2):
            rho = rho_first if pair == 0 else 0.7
            data[:, pair + 1] = rho * data[:, pair] + np.sqrt(1 - rho * rho) * data[:, pair + 1]
        data[rng.random((n, FEATURES)) < 0.01] = np.nan
        return pd.DataFrame(np.round(data, 6), columns=[f"f{i:02d}" for i in range(FEATURES)])
    sample(rows, 0.7).to_parquet(f"{out}/reference.parquet", index=False)
    pd.concat([sample(rows // 2, 0.7), sample(rows - rows // 2, -0.7)]).to_parquet(f"{out}/analysis.parquet", index=False)
    sys.exit(0)

import nannyml
from nannyml.drift.multivariate.data_reconstruction import DataReconstructionDriftCalculator

reference_path, analysis_path, chunk_size = sys.argv[1], sys.argv[2], int(sys.argv[3])
started = time.perf_counter()
reference = pd.read_parquet(reference_path)
analysis = pd.read_parquet(analysis_path)
read = time.perf_counter() - started
columns = list(reference.columns)
started = time.perf_counter()
calc = DataReconstructionDriftCalculator(column_names=columns, chunk_size=chunk_size).fit(reference)
fit = time.perf_counter() - started
started = time.perf_counter()
result = calc.calculate(analysis).filter(period="analysis").to_df()
calculate = time.perf_counter() - started
print(json.dumps({
    "nannyml": nannyml.__version__,
    "read_seconds": read,
    "fit_seconds": fit,
    "calculate_seconds": calculate,
    "components": int(calc._pca.n_components_),
    "values": [float(v) for v in result[("reconstruction_error", "value")]],
    "alerts": [bool(v) for v in result[("reconstruction_error", "alert")]],
}))
