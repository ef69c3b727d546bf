#!/usr/bin/env bash
# Installs Debian's Chromium and ChromeDriver for the dashboard's browser tests (crates/warden/tests/it/dashboard.rs),
# and poppler-utils (pdftotext, pdfinfo) for the test that reads the PDFs `warden docs generate` prints with Chromium.
# The tests run this script themselves when /usr/bin/chromedriver is missing; it needs root (or sudo). apt-get
# runs under one lock file shared by the project's install scripts, so installs started side by side queue.
set -euo pipefail
if command -v chromedriver >/dev/null && command -v chromium >/dev/null && command -v pdftotext >/dev/null; then
    exit 0
fi
run() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
export DEBIAN_FRONTEND=noninteractive
run flock /tmp/warden-apt.lock apt-get update -qq
run flock /tmp/warden-apt.lock apt-get install -y -qq --no-install-recommends chromium chromium-driver poppler-utils >/dev/null
chromium --version
chromedriver --version
