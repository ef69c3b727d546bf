#!/usr/bin/env bash
# Installs NannyML 0.13.1 (the reference for reconstruction drift, DLE and multiclass CBPE golden values, and
# the peer for `cargo run -p xtask -- bench reconstruction`) into ./.venv-nannyml. Never needed by the test
# suite. Its own environment: nannyml pins lightgbm<4.6 and xgboost<3, which the other peers do not want.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -x .venv-nannyml/bin/python ]; then
    python3 -m venv .venv-nannyml
fi
.venv-nannyml/bin/pip install --quiet --upgrade pip
# nannyml 0.13.1 imports statsmodels, which must be 0.15 to load under numpy 2.
.venv-nannyml/bin/pip install --quiet "nannyml==0.13.1" "statsmodels>=0.14.4" pyarrow
.venv-nannyml/bin/python -c "import nannyml, sklearn, numpy, pandas; print('nannyml', nannyml.__version__, 'sklearn', sklearn.__version__, 'numpy', numpy.__version__, 'pandas', pandas.__version__)"
