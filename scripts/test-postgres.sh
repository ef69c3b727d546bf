#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server on 127.0.0.1 for the tests and prints its URL. The server is stopped
# and its directory deleted when process OWNER_PID exits (the test binary that asked for it).
# Installs Debian's postgresql when no server binaries are present.
#
# usage: scripts/test-postgres.sh DIR OWNER_PID
set -euo pipefail
dir=$1
owner=$2

server_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
bin=$(server_bin)
if [ -z "$bin" ] || [ ! -x "$bin/postgres" ]; then
    echo "installing Debian's postgresql for the tests" >&2
    sudo_=""; [ "$(id -u)" = 0 ] || sudo_="sudo"
    $sudo_ flock /tmp/warden-apt.lock apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo_ flock /tmp/warden-apt.lock apt-get install -y -qq postgresql >&2
    bin=$(server_bin)
fi

# PostgreSQL refuses to run as root: run it as the postgres user the package creates.
as_owner=()
if [ "$(id -u)" = 0 ]; then
    as_owner=(runuser -u postgres --)
fi
mkdir -p "$dir"
[ "$(id -u)" = 0 ] && chown postgres "$dir"
"${as_owner[@]}" "$bin/initdb" -D "$dir/data" -U warden --auth=trust --locale=C -E UTF8 >/dev/null

# Tests: no fsync (a test's database is thrown away). Benchmarks set WARDEN_PG_DURABLE=1 and keep
# PostgreSQL's durable defaults (fsync, synchronous commit), as SQLite's synchronous=FULL is kept.
options="-c listen_addresses=127.0.0.1 -k $dir -c max_connections=400"
# With WARDEN_PG_TLS_CERT and WARDEN_PG_TLS_KEY (PEM files), the server takes TLS connections too.
if [ -n "${WARDEN_PG_TLS_CERT:-}" ]; then
    install -m 0600 "$WARDEN_PG_TLS_CERT" "$dir/data/server.crt"
    install -m 0600 "$WARDEN_PG_TLS_KEY" "$dir/data/server.key"
    [ "$(id -u)" = 0 ] && chown postgres "$dir/data/server.crt" "$dir/data/server.key"
    options="$options -c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key"
fi
if [ "${WARDEN_PG_DURABLE:-0}" != 1 ]; then
    options="$options -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
fi
for attempt in 1 2 3 4 5 6 7 8; do
    port=$((20000 + RANDOM % 40000))
    if "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start -o \
        "$options -p $port" >/dev/null; then
        break
    fi
    port=""
done
if [ -z "$port" ]; then
    cat "$dir/server.log" >&2
    exit 1
fi

# The watchdog: stop the server when the owner is gone (a test binary has no teardown hook).
setsid bash -c "while kill -0 $owner 2>/dev/null; do sleep 1; done; \
    ${as_owner[*]} '$bin/pg_ctl' -D '$dir/data' -m immediate stop >/dev/null 2>&1; rm -rf '$dir'" \
    </dev/null >/dev/null 2>&1 &
echo "postgres://warden@127.0.0.1:$port"
