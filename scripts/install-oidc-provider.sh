#!/usr/bin/env bash
# Installs oidc-provider-mock (PyPI), a real OpenID provider with a login form, into target/tools/oidc-provider
# (or the directory given) for the dashboard's single sign-on test (crates/warden/tests/it/sso.rs), which runs
# this script itself when the provider is missing. Python and its venv module come from Debian when missing (root or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-target/tools/oidc-provider}
if [ -x "$venv/bin/oidc-provider-mock" ]; then
    exit 0
fi
if ! python3 -c "import venv, ensurepip" 2>/dev/null; then
    run() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
    export DEBIAN_FRONTEND=noninteractive
    run apt-get update -qq
    run apt-get install -y -qq --no-install-recommends python3 python3-venv >/dev/null
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "oidc-provider-mock==0.3.4"
"$venv/bin/oidc-provider-mock" --help >/dev/null
