#!/usr/bin/env bash
# Starts a throwaway S3-compatible server (s3s-fs, from crates.io) on 127.0.0.1 for the tests and prints its
# endpoint URL. The server is stopped and its directory deleted when process OWNER_PID exits.
# Installs s3s-fs into target/tools on first use (a few minutes, once).
#
# usage: scripts/test-s3.sh DIR OWNER_PID ACCESS_KEY SECRET_KEY BUCKET
set -euo pipefail
dir=$1
owner=$2
access=$3
secret=$4
bucket=$5
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/target/tools"
if [ ! -x "$tools/bin/s3s-fs" ]; then
    echo "installing s3s-fs 0.14.1 for the tests" >&2
    # 0.14.1: the newest release that builds with Rust 1.95.
    cargo install --quiet --locked --root "$tools" s3s-fs --version 0.14.1 --features binary >&2
fi
mkdir -p "$dir/data/$bucket"
for attempt in 1 2 3 4 5 6 7 8; do
    port=$((20000 + RANDOM % 40000))
    setsid "$tools/bin/s3s-fs" --host 127.0.0.1 --port "$port" --access-key "$access" --secret-key "$secret" \
        "$dir/data" </dev/null >"$dir/server.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 50); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            break 2
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill "$pid" 2>/dev/null || true
    port=""
done
if [ -z "$port" ]; then
    cat "$dir/server.log" >&2
    exit 1
fi
setsid bash -c "while kill -0 $owner 2>/dev/null; do sleep 1; done; kill $pid; rm -rf '$dir'" \
    </dev/null >/dev/null 2>&1 &
echo "http://127.0.0.1:$port"
