#!/usr/bin/env bash
# Creates (once) a Python virtual environment in DIR and installs the given pip requirements into it:
#   scripts/python-venv.sh DIR REQUIREMENT...
# Python and its venv module come from Debian when missing (root or sudo).
set -euo pipefail
venv=$1
shift
if ! python3 -c "import venv, ensurepip" 2>/dev/null; then
    run() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
    export DEBIAN_FRONTEND=noninteractive
    run flock /tmp/warden-apt.lock apt-get update -qq
    run flock /tmp/warden-apt.lock apt-get install -y -qq --no-install-recommends python3 python3-venv >/dev/null
fi
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check "$@"
