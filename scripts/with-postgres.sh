#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL server on loopback and
# ISSUER_TEST_DATABASE_URL pointing at it; the server and its data directory
# are removed afterwards, whatever the command's outcome.
#
#   scripts/with-postgres.sh cargo test -p issuer --test api
#
# Installs PostgreSQL from Debian packages when no server binary is found
# (needs root). Honours PG_PORT (default 55432). ISSUER_TEST_PG_STOP and
# ISSUER_TEST_PG_START name scripts that stop and start the server again
# (for the restart test, which runs alone).
set -euo pipefail

. "$(dirname "$0")/lib/postgres-bin.sh"
bin=$(postgres_bin)

port=${PG_PORT:-55432}
work=$(mktemp -d /tmp/tokenfleet-pg.XXXXXX)
chmod 755 "$work"
# PostgreSQL refuses to run as root: use the postgres account when root.
as_pg() {
    if [ "$(id -u)" = 0 ]; then
        su postgres -s /bin/sh -c "$*"
    else
        sh -c "$*"
    fi
}
if [ "$(id -u)" = 0 ]; then
    chown postgres "$work"
fi

stop() {
    as_pg "'$bin/pg_ctl' -D '$work/data' -m immediate stop" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap stop EXIT

as_pg "'$bin/initdb' -D '$work/data' -A trust -U postgres" >/dev/null
pg_ctl_start="'$bin/pg_ctl' -D '$work/data' -w -t 30 -l '$work/log' \
    -o \"-k '$work' -c listen_addresses=127.0.0.1 -p $port -c max_connections=300\" start"
as_pg "$pg_ctl_start" >/dev/null
# Stop (fast: sessions are ended, as in a restart) and start again.
as_pg_cmd='sh -c'
[ "$(id -u)" = 0 ] && as_pg_cmd='su postgres -s /bin/sh -c'
printf '#!/bin/sh\nexec %s %q\n' "$as_pg_cmd" "'$bin/pg_ctl' -D '$work/data' -m fast -w -t 30 stop" > "$work/pg-stop"
printf '#!/bin/sh\nexec %s %q\n' "$as_pg_cmd" "$pg_ctl_start" > "$work/pg-start"
chmod 755 "$work/pg-stop" "$work/pg-start"
export ISSUER_TEST_PG_STOP="$work/pg-stop" ISSUER_TEST_PG_START="$work/pg-start"
echo "with-postgres: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"

export ISSUER_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port"
export ISSUER_TEST_POSTGRES_URL="$ISSUER_TEST_DATABASE_URL"
"$@"
