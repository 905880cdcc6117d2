# Images for the issuer and the resource service:
#   docker build --target issuer -t tokenfleet-issuer:local .
#   docker build --target resource-api -t tokenfleet-resource-api:local .
# (`docker compose up --build` does both.) The builder is the official Rust
# image matching the workspace toolchain; each runtime image is FROM scratch
# with one binary, exactly the shared libraries it links, an unprivileged
# user and a /data directory. No secrets are baked in: configuration comes
# from the environment at run time.
# Without network access use scripts/build-images-offline.sh instead.

ARG RUST_IMAGE=rust:1.95-slim-bookworm

FROM ${RUST_IMAGE} AS builder
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p issuer -p resource-api \
 && deploy/assemble-rootfs.sh target/release/issuer /rootfs/issuer \
 && deploy/assemble-rootfs.sh target/release/resource-api /rootfs/resource-api \
 && mkdir -p /rootfs/empty

FROM scratch AS resource-api
COPY --from=builder /rootfs/resource-api/ /
USER 10001:10001
EXPOSE 8081
ENV RESOURCE_LISTEN=0.0.0.0:8081
ENTRYPOINT ["/usr/local/bin/resource-api"]
HEALTHCHECK --interval=2s --timeout=3s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/resource-api", "healthcheck"]

FROM scratch AS issuer
COPY --from=builder /rootfs/issuer/ /
# COPY --chown creates /data owned by the unprivileged user.
COPY --from=builder --chown=10001:10001 /rootfs/empty/ /data/
USER 10001:10001
WORKDIR /data
EXPOSE 8080
ENV ISSUER_LISTEN=0.0.0.0:8080 \
    ISSUER_DATABASE_URL=sqlite:/data/issuer.db
VOLUME ["/data"]
ENTRYPOINT ["/usr/local/bin/issuer"]
CMD ["serve"]
HEALTHCHECK --interval=2s --timeout=3s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/issuer", "healthcheck"]
