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
# Then the scale-out stage (docker-compose.scale-out.yml with the offline
# image tokenfleet-postgres:local): PostgreSQL, the shared KEK, two issuer
# instances behind the name `issuer` (checked with getent inside the
# network); tokens from either instance accepted by orders; a refresh token
# from one rotated by the other once, its reuse refused and the family then
# revoked on both; one instance stopped: the other issues, the name
# resolves to it alone and a restarted orders fetches its keys through it;
# `down -v`. Prints its cold start.
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
compose_files=(-f docker-compose.yml)     # the scale-out stage adds its override
bad_containers=()
compose() { timeout -k 5 120 "${compose_cmd[@]}" -p "$project" "${compose_files[@]}" "$@"; }
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

# ---------------------------------------------------------------------------
# Scale-out stage: PostgreSQL and two issuer instances behind one name.
log "scale-out stage: docker-compose.scale-out.yml with tokenfleet-postgres:local"
if [ -z "${SMOKE_SKIP_BUILD:-}" ]; then
    timeout -k 10 300 scripts/build-postgres-image-offline.sh
fi
docker image inspect tokenfleet-postgres:local >/dev/null 2>&1 \
    || fail "image tokenfleet-postgres:local is missing"
log "image tokenfleet-postgres:local: $(docker image ls tokenfleet-postgres:local --format '{{.Size}}')"

# The first stack goes away before the second starts (cleanup then handles
# the second one only).
for c in "${bad_containers[@]}"; do docker rm -f "$c" >/dev/null 2>&1 || true; done
bad_containers=()
compose down -v --remove-orphans >/dev/null 2>&1 || fail "compose down (first stack)"
project="tfsmoke${$}so"
compose_files=(-f docker-compose.yml -f docker-compose.scale-out.yml)
export ISSUER2_PORT=0 POSTGRES_IMAGE=tokenfleet-postgres:local
# Not the demo default: the password must reach both postgres and the URL.
POSTGRES_PASSWORD="smoke$(od -An -N8 -tx8 /dev/urandom | tr -d ' \n')"
export POSTGRES_PASSWORD

start=$(date +%s%N)
compose up -d || fail "compose up (scale-out)"
wait_healthy 120 postgres issuer issuer-2 orders billing
so_cold_ms=$(( ($(date +%s%N) - start) / 1000000 ))
log "cold start (scale-out): postgres, issuer, issuer-2, orders, billing healthy ${so_cold_ms} ms after 'up -d' began"
# -a: kek-init has exited (Compose v2 lists running containers only without it).
for svc in postgres kek-init issuer issuer-2 orders billing; do
    id=$(compose ps -a -q "$svc")
    [ -n "$id" ] || fail "no container for $svc"
    log "  $svc $(docker inspect -f 'started {{.State.StartedAt}} {{.State.Status}}{{if eq .State.Status "exited"}} exit={{.State.ExitCode}}{{end}}' "$id")"
done
kek_state=$(docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$(compose ps -a -q kek-init)")
[ "$kek_state" = "exited 0" ] || fail "kek-init: expected 'exited 0', got '$kek_state'"

# resolve NAME -> sorted IPv4 addresses, as seen inside the compose network.
network="${project}_default"
resolve() {
    docker run --rm --network "$network" --entrypoint getent tokenfleet-postgres:local \
        ahostsv4 "$1" | awk '{print $1}' | sort -u
}
ip_of() { docker inspect -f "{{(index .NetworkSettings.Networks \"$network\").IPAddress}}" "$(compose ps -q "$1")"; }
want=$(printf '%s\n' "$(ip_of issuer)" "$(ip_of issuer-2)" | sort -u)
got=$(resolve issuer) || fail "getent ahostsv4 issuer"
[ "$got" = "$want" ] || fail "the name issuer resolves to '$(echo $got)', expected both instances '$(echo $want)'"
log "ok  the name issuer resolves to both instances: $(echo $got)"

issuer="http://127.0.0.1:$(port issuer 8080)"
issuer2="http://127.0.0.1:$(port issuer-2 8080)"
orders="http://127.0.0.1:$(port orders 8081)"
log "issuer $issuer, issuer-2 $issuer2, orders $orders"

jwks1=$(curl_ "$issuer/.well-known/jwks.json") || fail "JWKS from issuer"
jwks2=$(curl_ "$issuer2/.well-known/jwks.json") || fail "JWKS from issuer-2"
[ -n "$jwks1" ] && [ "$jwks1" = "$jwks2" ] || fail "the two instances publish different key sets"
log "ok  both instances publish the same JWKS"

# grant URL FORM... -> the JSON answer of a password or refresh grant (demo-service)
grant() {
    local url=$1; shift
    curl_ -u "$svc_auth" -w '\n%{http_code}' "$url/oauth2/token" "$@" || fail "token request to $url"
}
field() { printf '%s' "$1" | sed -n "s/.*\"$2\":\"\([^\"]*\)\".*/\1/p"; }
password_grant=(-d grant_type=password -d username=demo -d password=demo-password
    -d scope=items:read -d audience=orders)

at1=$(issuer=$issuer token "$svc_auth" "${password_grant[@]}")
at2=$(issuer=$issuer2 token "$svc_auth" "${password_grant[@]}")
expect 200 GET "$orders/v1/items" "$at1"
expect 200 GET "$orders/v1/items" "$at2"
log "ok  tokens from issuer and from issuer-2 accepted by orders"

# A refresh token from issuer, rotated by issuer-2, replayed at issuer.
answer=$(grant "$issuer" "${password_grant[@]}")
[ "${answer##*$'\n'}" = 200 ] || fail "password grant at issuer: ${answer##*$'\n'}"
rt1=$(field "${answer%$'\n'*}" refresh_token)
[ -n "$rt1" ] || fail "no refresh token from issuer"
answer=$(grant "$issuer2" -d grant_type=refresh_token --data-urlencode "refresh_token=$rt1")
[ "${answer##*$'\n'}" = 200 ] || fail "refresh at issuer-2: expected 200, got ${answer##*$'\n'}"
rt2=$(field "${answer%$'\n'*}" refresh_token)
at3=$(field "${answer%$'\n'*}" access_token)
[ -n "$rt2" ] && [ -n "$at3" ] || fail "refresh at issuer-2: no tokens in the answer"
[ "$rt2" != "$rt1" ] || fail "refresh at issuer-2 did not rotate the refresh token"
expect 200 GET "$orders/v1/items" "$at3"
log "ok  refresh token from issuer rotated once by issuer-2"
answer=$(grant "$issuer" -d grant_type=refresh_token --data-urlencode "refresh_token=$rt1")
[ "${answer##*$'\n'}" = 400 ] && [ "$(field "${answer%$'\n'*}" error)" = invalid_grant ] \
    || fail "reuse at issuer: expected 400 invalid_grant, got ${answer##*$'\n'}"
log "ok  reuse of the rotated refresh token at issuer: 400 invalid_grant"
answer=$(grant "$issuer2" -d grant_type=refresh_token --data-urlencode "refresh_token=$rt2")
[ "${answer##*$'\n'}" = 400 ] || fail "successor after reuse at issuer-2: expected 400, got ${answer##*$'\n'}"
log "ok  the family is revoked for both: its newest token fails at issuer-2 too"

log "stopping the issuer instance 'issuer'"
compose stop issuer || fail "compose stop issuer"
expect 000 GET "$issuer/readyz"
at4=$(issuer=$issuer2 token "$svc_auth" "${password_grant[@]}")
expect 200 GET "$orders/v1/items" "$at4"
expect 200 GET "$orders/v1/items" "$at1"
got=$(resolve issuer) || fail "getent ahostsv4 issuer"
[ "$got" = "$(ip_of issuer-2)" ] || fail "with issuer stopped the name resolves to '$(echo $got)'"
log "ok  the name issuer now resolves to issuer-2 alone: $got"
# A restarted orders starts with an empty key cache: it is ready only after
# discovery and the JWKS came through the name, i.e. from issuer-2.
compose restart orders || fail "compose restart orders"
wait_healthy 60 orders
orders="http://127.0.0.1:$(port orders 8081)"
expect 200 GET "$orders/v1/items" "$at4"
log "ok  orders restarted with issuer stopped: keys fetched through the name from issuer-2"

down_start=$(date +%s%N)
compose down -v --remove-orphans >/dev/null 2>&1 || fail "compose down -v (scale-out)"
log "down -v (scale-out) took $(( ($(date +%s%N) - down_start) / 1000000 )) ms"
log "summary (scale-out): images $(docker image ls tokenfleet-postgres:local --format '{{.Size}}') (postgres, offline); cold start ${so_cold_ms} ms"
