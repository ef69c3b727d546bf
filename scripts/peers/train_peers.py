"""Side-by-side training for `cargo run -p xtask -- bench train`.

`generate DIR ROWS TEST_ROWS`: writes DIR/train.csv (ROWS) and DIR/test.csv (TEST_ROWS) with 20 numeric
features and a label drawn from a logistic model with interactions and thresholds (seeded, deterministic).
`fit DIR`: fits scikit-learn's LogisticRegression (StandardScaler, C=1) and XGBoost's hist trees
(100 trees, depth 6, learning rate 0.3, 2 threads) on train.csv and prints their fit times and held-out AUCs
on test.csv as JSON.
"""
import json
import sys
import time

import numpy as np


def generate(directory, rows, test_rows):
    rng = np.random.default_rng(20261122)
    n = rows + test_rows
    x = rng.normal(size=(n, 20))
    x[:, 15:] = rng.integers(0, 5, size=(n, 5))  # five small-integer features
    z = (0.8 * x[:, 0] - 0.6 * x[:, 1] + 0.4 * x[:, 2] * x[:, 3] + 0.7 * (x[:, 4] > 0.5)
         - 0.5 * np.abs(x[:, 5]) + 0.3 * x[:, 15] - 0.2 * x[:, 16] + 0.1 * x[:, 6:15].sum(axis=1) - 0.8)
    y = rng.random(n) < 1 / (1 + np.exp(-z))
    header = ",".join([f"f{j:02d}" for j in range(20)] + ["label"])
    for name, part in [("train.csv", slice(0, rows)), ("test.csv", slice(rows, n))]:
        data = np.column_stack([x[part], y[part].astype(int)])
        fmt = ["%.6f"] * 15 + ["%d"] * 6
        np.savetxt(f"{directory}/{name}", data, delimiter=",", header=header, comments="", fmt=fmt)


def fit(directory):
    import pandas as pd
    import sklearn
    import xgboost
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train = pd.read_csv(f"{directory}/train.csv")
    test = pd.read_csv(f"{directory}/test.csv")
    xs, ys = train.drop(columns="label").values, train["label"].values
    xt, yt = test.drop(columns="label").values, test["label"].values
    out = {"sklearn": sklearn.__version__, "xgboost": xgboost.__version__, "rows": len(ys)}
    started = time.perf_counter()
    lr = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000)).fit(xs, ys)
    out["sklearn_lr_seconds"] = time.perf_counter() - started
    out["sklearn_lr_auc"] = roc_auc_score(yt, lr.predict_proba(xt)[:, 1])
    started = time.perf_counter()
    gbt = xgboost.XGBClassifier(n_estimators=100, max_depth=6, learning_rate=0.3, tree_method="hist", n_jobs=2).fit(xs, ys)
    out["xgboost_seconds"] = time.perf_counter() - started
    out["xgboost_auc"] = roc_auc_score(yt, gbt.predict_proba(xt)[:, 1])
    print(json.dumps(out))


if __name__ == "__main__":
    if sys.argv[1] == "generate":
        generate(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        fit(sys.argv[2])
