#!/usr/bin/env bash
# Installs from Debian what building librdkafka needs (crates/warden-stream: rdkafka-sys compiles the
# librdkafka source it bundles with its configure script and make, and links it statically): a C and C++
# compiler, make, pkg-config, and OpenSSL's headers (Kafka over TLS, SASL SCRAM and OAUTHBEARER).
# scripts/test.sh and scripts/test-fast.sh run it before building; it does nothing when everything is
# present and needs root (or sudo) otherwise. The Dockerfile's build image (rust:bookworm) has all of it.
set -euo pipefail
packages=()
command -v cc >/dev/null || packages+=(gcc)
command -v c++ >/dev/null || packages+=(g++)
command -v make >/dev/null || packages+=(make)
command -v pkg-config >/dev/null || packages+=(pkg-config)
[ -e /usr/include/openssl/ssl.h ] || packages+=(libssl-dev)
if [ ${#packages[@]} -eq 0 ]; then
    exit 0
fi
echo "installing Debian's ${packages[*]} to build librdkafka" >&2
run() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
export DEBIAN_FRONTEND=noninteractive
run flock /tmp/warden-apt.lock apt-get update -qq >&2
run flock /tmp/warden-apt.lock apt-get install -y -qq --no-install-recommends "${packages[@]}" >&2
