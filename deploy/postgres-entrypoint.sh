#!/bin/sh
# Entry point of the offline image tokenfleet-postgres:local (built by
# scripts/build-postgres-image-offline.sh from the host's PostgreSQL). It
# follows the official postgres image where docker-compose.scale-out.yml
# relies on it:
#   - POSTGRES_PASSWORD (required), POSTGRES_USER (default postgres),
#     POSTGRES_DB (default: the user name);
#   - an empty $PGDATA is initialised once: that superuser with a
#     scram-sha-256 password, the database, connections from any address
#     with scram-sha-256 (the socket inside the container: trust);
#   - then `postgres` runs in the foreground listening on all interfaces.
# Runs as the image's user postgres; a non-empty $PGDATA is used as it is.
set -eu

if [ "${1:-postgres}" != postgres ] && [ "${1#-}" = "${1:-postgres}" ]; then
    exec "$@"    # another command, such as `psql` or `sh`
fi
[ "${1:-}" = postgres ] && shift

: "${PGDATA:=/var/lib/postgresql/data}"
user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}

# Names go into SQL unquoted below: letters, digits and underscores only.
for name in "$user" "$db"; do
    case $name in
        '' | [0-9]* | *[!A-Za-z0-9_]*)
            echo "postgres-entrypoint: POSTGRES_USER/POSTGRES_DB must be [A-Za-z_][A-Za-z0-9_]*" >&2
            exit 2
            ;;
    esac
done

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "${POSTGRES_PASSWORD:-}" ]; then
        echo "postgres-entrypoint: the data directory is empty and POSTGRES_PASSWORD is not set" >&2
        exit 2
    fi
    echo "postgres-entrypoint: initialising $PGDATA (user $user, database $db)"
    # The password travels on a pipe, never on a command line.
    printf '%s\n' "$POSTGRES_PASSWORD" | initdb -D "$PGDATA" --username="$user" \
        --pwfile=/dev/stdin --encoding=UTF8 --locale=C \
        --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    printf '\n# tokenfleet-postgres: clients on any network, with a password\nhost all all all scram-sha-256\n' \
        >>"$PGDATA/pg_hba.conf"
    printf "\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
    if [ "$db" != postgres ]; then
        # Single-user mode: no server listens while the database is created.
        echo "CREATE DATABASE $db OWNER $user" | postgres --single -D "$PGDATA" postgres >/dev/null
    fi
    echo "postgres-entrypoint: initialised"
fi

exec postgres -D "$PGDATA" "$@"
