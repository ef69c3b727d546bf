#!/usr/bin/env bash
# Installs oidc-provider-mock (PyPI), a real OpenID provider with a login form, into target/tools/oidc-provider
# (or the directory given) for the dashboard's single sign-on test (crates/warden/tests/it/sso.rs), which runs
# this script itself when the provider is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-target/tools/oidc-provider}
if [ -x "$venv/bin/oidc-provider-mock" ]; then
    exit 0
fi
scripts/python-venv.sh "$venv" "oidc-provider-mock==0.3.4"
"$venv/bin/oidc-provider-mock" --help >/dev/null
