#!/usr/bin/env bash
# Starts an issuer and one resource service natively on loopback (fresh
# SQLite database in a temporary directory), registers a client and a user,
# and runs `jwtctl bench` and a short `jwtctl drill` (manual rotation and
# emergency revocation) against them. Usage: jwtctl/scripts/native-bench.sh [seconds]
# PROFILE=release uses release binaries (build them first with
# `cargo build --release -p issuer -p resource-api -p jwtctl`).
set -euo pipefail
SECS=${1:-3}
BIN=${CARGO_TARGET_DIR:-target}/${PROFILE:-debug}
DIR=$(mktemp -d)
ISSUER_PID='' RES_PID='' RES2_PID=''
trap 'kill $ISSUER_PID $RES_PID $RES2_PID 2>/dev/null || true; rm -rf "$DIR"' EXIT
export ISSUER_DATABASE_URL="sqlite:$DIR/issuer.db" \
  ISSUER_LISTEN=127.0.0.1:18080 ISSUER_URL=http://127.0.0.1:18080 ISSUER_JWKS_MAX_AGE=2 \
  ISSUER_KEY_MARGIN=1s ISSUER_KEY_ROTATION_PERIOD=1m ISSUER_LOG_FORMAT=json
JWTCTL_CLIENT_SECRET=$("$BIN/issuer" clients add cli --scope items:read --audience orders --audience billing)
JWTCTL_ADMIN_SECRET=$("$BIN/issuer" clients add ops --scope keys:admin --audience http://127.0.0.1:18080)
export JWTCTL_CLIENT_SECRET JWTCTL_ADMIN_SECRET JWTCTL_PASSWORD='correct horse battery staple'
echo "$JWTCTL_PASSWORD" | "$BIN/issuer" users add alice --password-stdin >/dev/null
"$BIN/issuer" serve >"$DIR/issuer.log" 2>&1 & ISSUER_PID=$!
RESOURCE_LISTEN=127.0.0.1:18081 RESOURCE_ISSUER_URL=http://127.0.0.1:18080 RESOURCE_AUDIENCE=orders \
  RESOURCE_JWKS_MIN_TTL=2s RESOURCE_JWKS_MAX_TTL=2s RESOURCE_JWKS_COOLDOWN=2s \
  "$BIN/resource-api" >"$DIR/resource.log" 2>&1 & RES_PID=$!
RESOURCE_LISTEN=127.0.0.1:18082 RESOURCE_ISSUER_URL=http://127.0.0.1:18080 RESOURCE_AUDIENCE=billing \
  RESOURCE_JWKS_MIN_TTL=2s RESOURCE_JWKS_MAX_TTL=2s RESOURCE_JWKS_COOLDOWN=2s \
  "$BIN/resource-api" >"$DIR/resource2.log" 2>&1 & RES2_PID=$!
for port in 18081 18082; do
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
done
"$BIN/jwtctl" bench --issuer http://127.0.0.1:18080 --resource orders=http://127.0.0.1:18081 \
  --client-id cli --username alice --scope items:read --seconds "${SECS}s" --concurrency 8
"$BIN/jwtctl" drill --issuer http://127.0.0.1:18080 \
  --resource orders=http://127.0.0.1:18081 --resource billing=http://127.0.0.1:18082 \
  --admin-client ops --client-id cli --username alice --scope items:read --duration 85s --rate 100 \
  --op rotate@10s --op wait-scheduled --op revoke-active@75s --json drill.json --svg drill.svg
