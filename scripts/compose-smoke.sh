#!/usr/bin/env bash
# Compose smoke test: the offline images, `up`, wait for health, tokens from
# the issuer, both resource services (200/403/401), the issuer stopped (both
# services keep verifying), started again, bad configuration (no issuer URL,
# unreachable issuer: running and not ready), `down -v`. Cleans up on any
# exit. Bounded: building the images by SMOKE_BUILD_TIMEOUT (default 2400 s,
# a cold release build), every docker and compose command by its own
# timeout, every wait loop by a deadline. Prints image sizes and the cold
# start (from `up` to all healthy).
#
#   scripts/compose-smoke.sh            # SKIPPED (exit 0) when no Docker engine answers
#   SMOKE_SKIP_BUILD=1 scripts/compose-smoke.sh   # reuse images already built
set -euo pipefail
cd "$(dirname "$0")/.."

if ! timeout 20 docker info >/dev/null 2>&1; then
    echo "############################################################"
    echo "## SKIPPED: no Docker engine (docker info failed);        ##"
    echo "## the compose smoke test did NOT run.                    ##"
    echo "############################################################"
    exit 0
fi
if docker compose version >/dev/null 2>&1; then
    compose_cmd=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
    compose_cmd=(docker-compose)
else
    echo "compose-smoke: FAILED: neither 'docker compose' nor 'docker-compose' is installed" >&2
    exit 1
fi

project="tfsmoke$$"
bad_containers=()
compose() { timeout -k 5 120 "${compose_cmd[@]}" -p "$project" -f docker-compose.yml "$@"; }
docker_bin=$(command -v docker)
docker() { timeout -k 5 60 "$docker_bin" "$@"; }
log() { printf '[smoke %s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }
fail() {
    log "FAILED: $*"
    compose logs --no-color --tail 40 >&2 || true
    exit 1
}
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    for c in "${bad_containers[@]}"; do docker rm -f "$c" >/dev/null 2>&1 || true; done
    compose down -v --remove-orphans >/dev/null 2>&1 || true
    if [ "$rc" -eq 0 ]; then log "PASSED"; else log "FAILED (exit $rc)"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 124' INT TERM

log "compose command: ${compose_cmd[*]}"
if [ -z "${SMOKE_SKIP_BUILD:-}" ]; then
    log "building images offline"
    timeout -k 10 "${SMOKE_BUILD_TIMEOUT:-2400}" scripts/build-images-offline.sh
fi
for image in tokenfleet-issuer:local tokenfleet-resource-api:local; do
    docker image inspect "$image" >/dev/null 2>&1 || fail "image $image is missing"
    log "image $image: $(docker image ls "$image" --format '{{.Size}}')"
done

# Port 0: the engine picks free host ports; `compose port` reports them.
export ISSUER_PORT=0 ORDERS_PORT=0 BILLING_PORT=0
start=$(date +%s%N)
compose up -d || fail "compose up"

# wait_healthy SECONDS SERVICE...
wait_healthy() {
    local limit=$1; shift
    local deadline=$(( $(date +%s) + limit ))
    local ids=() svc id
    for svc in "$@"; do
        id=$(compose ps -q "$svc")
        [ -n "$id" ] || fail "no container for $svc"
        ids+=("$id")
    done
    while :; do
        local statuses
        statuses=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "${ids[@]}" 2>/dev/null || true)
        if [ "$(printf '%s\n' "$statuses" | grep -c '^healthy$')" -eq "${#ids[@]}" ]; then
            return 0
        fi
        [ "$(date +%s)" -lt "$deadline" ] || fail "not healthy within ${limit}s: $*"
        sleep 0.2
    done
}
wait_healthy 90 issuer orders billing
cold_ms=$(( ($(date +%s%N) - start) / 1000000 ))
log "cold start: all three services healthy ${cold_ms} ms after 'up -d' began"
for svc in issuer orders billing; do
    id=$(compose ps -q "$svc")
    started=$(docker inspect -f '{{.State.StartedAt}}' "$id")
    log "  $svc container started at $started"
done

port() { compose port "$1" "$2" | sed 's/.*://'; }
issuer="http://127.0.0.1:$(port issuer 8080)"
orders="http://127.0.0.1:$(port orders 8081)"
billing="http://127.0.0.1:$(port billing 8081)"
log "issuer $issuer, orders $orders, billing $billing"

curl_() { curl -sS --max-time 10 "$@"; }
# token CLIENT:SECRET FORM... -> access token on stdout
token() {
    local auth=$1; shift
    local body
    body=$(curl_ -u "$auth" "$issuer/oauth2/token" "$@") || fail "token request"
    local t
    t=$(printf '%s' "$body" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
    [ -n "$t" ] || fail "no access token in the answer: $(printf '%s' "$body" | head -c 200)"
    printf '%s' "$t"
}
# expect CODE METHOD URL [TOKEN] [curl args...]
expect() {
    local want=$1 method=$2 url=$3 tok=${4:-}; shift 3; [ $# -gt 0 ] && shift
    local auth=()
    [ -n "$tok" ] && auth=(-H "Authorization: Bearer $tok")
    local got
    got=$(curl_ -o /dev/null -w '%{http_code}' -X "$method" "${auth[@]}" "$@" "$url") || got=000
    [ "$got" = "$want" ] || fail "$method $url: expected $want, got $got"
    log "ok  $want  $method ${url#http://127.0.0.1:}${tok:+ (with token)}"
}

svc_auth="demo-service:demo-service-secret"
user_orders=$(token "$svc_auth" -d grant_type=password -d username=demo \
    -d password=demo-password -d scope=items:read -d audience=orders)
admin_orders=$(token "$svc_auth" -d grant_type=password -d username=demo-admin \
    -d password=demo-admin-password -d 'scope=items:read items:write' -d audience=orders)
svc_billing=$(token "$svc_auth" -d grant_type=client_credentials \
    -d 'scope=items:read items:write' -d audience=billing)
token "demo-admin-cli:demo-admin-cli-secret" -d grant_type=client_credentials \
    -d scope=keys:admin -d audience=http://issuer:8080 >/dev/null
log "ok  tokens: password grant (demo, demo-admin), client_credentials (demo-service, demo-admin-cli)"

check_services() {
    expect 200 GET "$orders/v1/items" "$user_orders"
    expect 200 GET "$orders/v1/me" "$user_orders"
    expect 403 POST "$orders/v1/items" "$user_orders" -H 'content-type: application/json' -d '{"name":"widget"}'
    expect 201 POST "$orders/v1/items" "$admin_orders" -H 'content-type: application/json' -d '{"name":"widget"}'
    expect 403 GET "$orders/v1/admin" "$user_orders"
    expect 200 GET "$orders/v1/admin" "$admin_orders"
    expect 401 GET "$orders/v1/items"
    expect 401 GET "$orders/v1/items" "$svc_billing"     # wrong audience
    expect 200 GET "$billing/v1/items" "$svc_billing"
    expect 201 POST "$billing/v1/items" "$svc_billing" -H 'content-type: application/json' -d '{"name":"invoice"}'
    expect 401 GET "$billing/v1/items"
    expect 401 GET "$billing/v1/items" "$user_orders"    # wrong audience
}
check_services

log "stopping the issuer"
compose stop issuer || fail "compose stop issuer"
expect 000 GET "$issuer/readyz"
check_services
expect 200 GET "$orders/readyz"
expect 200 GET "$billing/readyz"

log "starting the issuer again"
compose start issuer || fail "compose start issuer"
wait_healthy 60 issuer
issuer="http://127.0.0.1:$(port issuer 8080)"
user_orders=$(token "$svc_auth" -d grant_type=password -d username=demo \
    -d password=demo-password -d scope=items:read -d audience=orders)
expect 200 GET "$orders/v1/items" "$user_orders"

log "bad configuration: no issuer URL, and an unreachable issuer"
bad_containers=("${project}-noissuer" "${project}-unreachable")
docker run -d --name "${project}-noissuer" tokenfleet-resource-api:local >/dev/null \
    || fail "docker run (no issuer URL)"
docker run -d --name "${project}-unreachable" \
    -e RESOURCE_ISSUER_URL=http://unreachable.invalid:8080 \
    -e RESOURCE_ALLOW_INSECURE_HTTP=true tokenfleet-resource-api:local >/dev/null \
    || fail "docker run (unreachable issuer)"
sleep 3
for c in "${bad_containers[@]}"; do
    state=$(docker inspect -f '{{.State.Status}} restarts={{.RestartCount}}' "$c")
    [ "$state" = "running restarts=0" ] || fail "$c: expected running, got $state"
    if docker exec "$c" /usr/local/bin/resource-api healthcheck >/dev/null 2>&1; then
        fail "$c: healthcheck says ready"
    fi
    log "ok  $c: $state, healthcheck reports not ready"
done

log "summary: images $(docker image ls tokenfleet-issuer:local --format '{{.Size}}') (issuer), $(docker image ls tokenfleet-resource-api:local --format '{{.Size}}') (resource-api); cold start ${cold_ms} ms"
