#!/usr/bin/env bash
# Builds tokenfleet-postgres:local, a stand-in for the official postgres image
# for machines that cannot pull one, from the PostgreSQL installed on this
# host (Debian packages; installed with apt-get when missing, as
# scripts/with-postgres.sh does). FROM scratch: the server, initdb, psql and
# pg_isready, PostgreSQL's share and module files, the time zone data, the
# shared libraries all of them link (ldd), /bin/sh (dash), the few
# coreutils the scale-out profile's kek-init step uses, getent (name checks
# in scripts/compose-smoke.sh), a user postgres (999, as in the official
# image) and deploy/postgres-entrypoint.sh.
#
#   scripts/build-postgres-image-offline.sh
#   POSTGRES_IMAGE=tokenfleet-postgres:local docker compose \
#       -f docker-compose.yml -f docker-compose.scale-out.yml up
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/lib/postgres-bin.sh
bin=$(postgres_bin)
pg_root=$(dirname "$bin")              # /usr/lib/postgresql/15
major=$(basename "$pg_root")
share=/usr/share/postgresql/$major
[ -d "$share" ] || { echo "build-postgres-image: $share is missing" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"
mkdir -p "$root"

# Files copied with their path; every ELF among them also brings the shared
# libraries it links.
elves=()
copy() {
    local f
    for f in "$@"; do
        cp -PR --parents "$f" "$root"
    done
}
for tool in postgres initdb pg_isready psql; do
    copy "$bin/$tool"
    elves+=("$bin/$tool")
done
# Loadable modules (plpgsql, encoding conversions, snowball, contrib); not the
# LLVM JIT, which the server simply does without when it is absent.
for so in "$pg_root"/lib/*.so; do
    case $(basename "$so") in llvmjit*) continue ;; esac
    copy "$so"
    elves+=("$so")
done
copy "$share" /usr/share/zoneinfo
for tool in /bin/dash /usr/bin/head /usr/bin/base64 /usr/bin/tr /usr/bin/mv \
    /usr/bin/chown /usr/bin/chmod /usr/bin/getent; do
    mkdir -p "$root/bin"
    cp -L "$tool" "$root/bin/$(basename "$tool")"
    elves+=("$tool")
done
ln -s dash "$root/bin/sh"

libs=$(for f in "${elves[@]}"; do ldd "$f"; done | grep -o '/[^ ]*' | sort -u)
for lib in $libs; do
    # -L: the file a symlink (such as /lib64/ld-linux-x86-64.so.2) names.
    cp -L --parents "$lib" "$root"
done

mkdir -p "$root/etc" "$root/usr/local/bin" "$root/tmp"
chmod 1777 "$root/tmp"
printf 'root:x:0:0:root:/root:/bin/sh\npostgres:x:999:999:PostgreSQL:/var/lib/postgresql:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\npostgres:x:999:\n' >"$root/etc/group"
install -m 0755 deploy/postgres-entrypoint.sh "$root/usr/local/bin/docker-entrypoint.sh"

# Directories the server writes, owned by postgres (COPY --chown); a new
# named volume on $PGDATA takes over its owner and mode 0700.
mkdir -p "$work/pgdirs/var/lib/postgresql/data" "$work/pgdirs/var/run/postgresql"
chmod 0700 "$work/pgdirs/var/lib/postgresql/data"
chmod 2775 "$work/pgdirs/var/run/postgresql"

cat >"$work/Dockerfile" <<DOCKERFILE
FROM scratch
COPY rootfs/ /
COPY --chown=999:999 pgdirs/ /
ENV PATH=$bin:/usr/local/bin:/bin PGDATA=/var/lib/postgresql/data
USER 999:999
EXPOSE 5432
VOLUME ["/var/lib/postgresql/data"]
STOPSIGNAL SIGINT
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
CMD ["postgres"]
DOCKERFILE

# No base image to pull: FROM scratch needs nothing from a registry.
docker build --pull=false -q -t tokenfleet-postgres:local "$work" >/dev/null
echo "built tokenfleet-postgres:local (PostgreSQL $("$bin/postgres" --version | awk '{print $3}'))"
docker image ls tokenfleet-postgres:local --format '{{.Repository}}:{{.Tag}}  {{.Size}}'
