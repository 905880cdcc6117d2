#!/usr/bin/env bash
# Builds every image docker-compose.yml needs without contacting any
# registry: the release binaries are built here with cargo, each runtime
# root file system is assembled from a binary and the shared libraries it
# links (deploy/assemble-rootfs.sh), and `docker build` puts it FROM scratch.
# The tags are the ones docker-compose.yml names, so `docker compose up`
# (or `docker-compose up`) then runs them unchanged.
#
#   scripts/build-images-offline.sh
#
# Honours CARGO_TARGET_DIR. The images match the Dockerfile's runtime stages
# (user 10001, /data owned by it, the same entrypoints and health checks).
set -euo pipefail
cd "$(dirname "$0")/.."

target_dir=${CARGO_TARGET_DIR:-target}
cargo build --release --locked -p issuer -p resource-api

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# build_image NAME TAG PORT ENV... ; the extra Dockerfile lines come on stdin.
build_image() {
    local name=$1 tag=$2
    local ctx="$work/$name"
    mkdir -p "$ctx"
    deploy/assemble-rootfs.sh "$target_dir/release/$name" "$ctx/rootfs"
    mkdir -p "$ctx/empty"
    {
        echo "FROM scratch"
        echo "COPY rootfs/ /"
        # Creates /data owned by the unprivileged user (the issuer's volume).
        echo "COPY --chown=10001:10001 empty/ /data/"
        echo "USER 10001:10001"
        cat
    } > "$ctx/Dockerfile"
    # No base image to pull: FROM scratch needs nothing from a registry.
    docker build --pull=false -q -t "$tag" "$ctx" >/dev/null
    echo "built $tag"
}

build_image resource-api tokenfleet-resource-api:local <<'DOCKERFILE'
EXPOSE 8081
ENV RESOURCE_LISTEN=0.0.0.0:8081
ENTRYPOINT ["/usr/local/bin/resource-api"]
HEALTHCHECK --interval=2s --timeout=3s --start-period=20s --retries=3 CMD ["/usr/local/bin/resource-api", "healthcheck"]
DOCKERFILE

build_image issuer tokenfleet-issuer:local <<'DOCKERFILE'
WORKDIR /data
EXPOSE 8080
ENV ISSUER_LISTEN=0.0.0.0:8080 ISSUER_DATABASE_URL=sqlite:/data/issuer.db
VOLUME ["/data"]
ENTRYPOINT ["/usr/local/bin/issuer"]
CMD ["serve"]
HEALTHCHECK --interval=2s --timeout=3s --start-period=20s --retries=3 CMD ["/usr/local/bin/issuer", "healthcheck"]
DOCKERFILE

docker image ls --format '{{.Repository}}:{{.Tag}}  {{.Size}}' | grep '^tokenfleet-'
