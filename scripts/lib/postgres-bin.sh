# Sourced by scripts that need PostgreSQL's server binaries (with-postgres.sh,
# build-postgres-image-offline.sh). postgres_bin prints the directory that
# holds them (/usr/lib/postgresql/N/bin), installing PostgreSQL from Debian
# packages first when none is found (needs root).
postgres_bin() {
    local dir
    for dir in /usr/lib/postgresql/*/bin; do
        [ -x "$dir/postgres" ] && { echo "$dir"; return 0; }
    done
    echo "installing PostgreSQL from Debian packages" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    for dir in /usr/lib/postgresql/*/bin; do
        [ -x "$dir/postgres" ] && { echo "$dir"; return 0; }
    done
    echo "PostgreSQL is still not installed" >&2
    return 1
}
