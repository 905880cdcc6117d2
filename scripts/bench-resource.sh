#!/usr/bin/env bash
# Load benchmark of resource-api on loopback, in one sitting:
#   unprotected route vs GET /v1/me with a valid token (result cache off and
#   on), GET /v1/me with a distinct token on every request, peak RSS, and
#   `openssl speed rsa2048` verify as the yardstick.
# The service is pinned to CPU 0 and wrk to CPU 1, so rates are per core.
# Besides requests/s it reports the service's own CPU time per request from
# /proc, which other load on the machine does not skew: user time (where
# verification happens) and user+system time. System time is mostly the
# loopback send, whose cost grows when the load generator sleeps between
# answers, so slower routes are charged more of it: compare user time to
# price the verification itself.
# Needs: wrk, openssl, python3, curl. Bounded: each run lasts DURATION.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
TOKENS=${TOKENS:-20000}
ISSUER_PORT=${ISSUER_PORT:-18080}
RESOURCE_PORT=${RESOURCE_PORT:-18081}
for tool in wrk openssl python3 curl taskset; do
  command -v "$tool" >/dev/null || { echo "missing tool: $tool (Debian: apt-get install wrk openssl python3 curl util-linux)" >&2; exit 2; }
done

cargo build --release -q -p issuer -p resource-api
bin=${CARGO_TARGET_DIR:-target}/release
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

wait_ready() { for _ in $(seq 1 200); do curl -fs "$1" >/dev/null && return 0; sleep 0.05; done; echo "not ready: $1" >&2; exit 1; }

export ISSUER_DATABASE_URL="sqlite:$work/issuer.db" ISSUER_KEK_FILE="$work/kek"
export ISSUER_LISTEN="127.0.0.1:$ISSUER_PORT" ISSUER_URL="http://127.0.0.1:$ISSUER_PORT"
export RUST_LOG=warn
python3 -c 'import base64,os;print(base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="))' > "$ISSUER_KEK_FILE"
echo "bench-secret-0123456789abcdef0123456789" | "$bin/issuer" clients add bench --scope items:read --audience orders --secret-stdin >/dev/null
taskset -c 1 "$bin/issuer" serve & pids+=($!)
wait_ready "$ISSUER_URL/readyz"

# Distinct tokens from the client-credentials grant (no password hashing).
python3 - "$ISSUER_PORT" "$TOKENS" > "$work/tokens" <<'PY'
import base64, http.client, json, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
auth = "Basic " + base64.b64encode(b"bench:bench-secret-0123456789abcdef0123456789").decode()
conn = http.client.HTTPConnection("127.0.0.1", port)
body = "grant_type=client_credentials&scope=items%3Aread&audience=orders"
for _ in range(n):
    conn.request("POST", "/oauth2/token", body, {"Authorization": auth, "Content-Type": "application/x-www-form-urlencoded"})
    r = conn.getresponse(); data = r.read()
    if r.status != 200: sys.exit(f"token request failed: {r.status}")
    print(json.loads(data)["access_token"])
PY
token=$(head -n1 "$work/tokens")

cat > "$work/distinct.lua" <<'LUA'
local tokens = {}
for line in io.lines(os.getenv("TOKENS_FILE")) do tokens[#tokens + 1] = line end
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", "/v1/me", { ["Authorization"] = "Bearer " .. tokens[(i % #tokens) + 1] })
end
LUA

start_resource() { # $1: result cache entries
  RESOURCE_LISTEN="127.0.0.1:$RESOURCE_PORT" RESOURCE_ISSUER_URL="$ISSUER_URL" RESOURCE_AUDIENCE=orders \
  RESOURCE_RESULT_CACHE="$1" taskset -c 0 "$bin/resource-api" & resource_pid=$!
  pids+=("$resource_pid")
  wait_ready "http://127.0.0.1:$RESOURCE_PORT/readyz"
}
stop_resource() { kill "$resource_pid"; wait "$resource_pid" 2>/dev/null || true; }
peak_rss_mib() { awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$resource_pid/status"; }
cpu_ticks() { awk '{ print $14, $14 + $15 }' "/proc/$resource_pid/stat"; }

# run NAME PATH [extra wrk args…] -> "rps p99_ms"
run() {
  local out before after
  before=$(cpu_ticks)
  out=$(taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency "${@:2}")
  after=$(cpu_ticks)
  local requests user_us cpu_us
  requests=$(awk '/requests in/ { print $1 }' <<<"$out")
  read -r user_us cpu_us < <(awk -v b="$before" -v a="$after" -v hz="$(getconf CLK_TCK)" -v n="$requests" \
    'BEGIN { split(b, x, " "); split(a, y, " "); printf "%.1f %.1f\n", (y[1] - x[1]) / hz * 1e6 / n, (y[2] - x[2]) / hz * 1e6 / n }')
  local rps p99
  rps=$(awk '/Requests\/sec/ { print $2 }' <<<"$out")
  p99=$(awk '$1 == "99%" { v = $2; if (v ~ /us$/) { sub(/us/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms/, "", v) } else if (v ~ /s$/) { sub(/s/, "", v); v *= 1000 }; print v }' <<<"$out")
  local non2xx
  non2xx=$(awk '/Non-2xx/ { print $NF }' <<<"$out"); non2xx=${non2xx:-0}
  printf '| %s | %.0f | %.2f | %s | %s | %s | %s |\n' "$1" "$rps" "$p99" "$user_us" "$cpu_us" "$(peak_rss_mib)" "$non2xx"
  echo "$1|$rps|$user_us|$cpu_us" >> "$work/rates"
}

url="http://127.0.0.1:$RESOURCE_PORT"
echo "| case | requests/s | p99 ms | service user CPU µs/req | user+sys µs/req | peak RSS MiB | non-2xx |"
echo "|---|---:|---:|---:|---:|---:|---:|"
start_resource 0
run "unprotected /v1/public" "$url/v1/public"
run "/v1/me, one token, result cache off" -H "Authorization: Bearer $token" "$url/v1/me"
TOKENS_FILE="$work/tokens" run "/v1/me, distinct tokens, result cache off" -s "$work/distinct.lua" "$url/v1/me"
stop_resource
start_resource 100000
run "/v1/me, one token, result cache on" -H "Authorization: Bearer $token" "$url/v1/me"
stop_resource

verify=$(taskset -c 1 openssl speed -seconds 5 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ { print $NF }')
python3 - "$work/rates" "$verify" <<'PY'
import sys
rates, user, cpu = {}, {}, {}
for line in open(sys.argv[1]):
    name, rate, u, c = line.strip().split("|")
    rates[name], user[name], cpu[name] = float(rate), float(u), float(c)
openssl = float(sys.argv[2])
public, cached, distinct = (
    "unprotected /v1/public",
    "/v1/me, one token, result cache on",
    "/v1/me, distinct tokens, result cache off",
)
print()
print(f"openssl speed rsa2048 verify: {openssl:.0f}/s on one core = {1e6 / openssl:.1f} us each")
print(f"result cache on vs unprotected: {rates[cached] / rates[public]:.2f} of the unprotected throughput (target >= 0.7)")
by_user = user[distinct] - user[public]
by_cpu = cpu[distinct] - cpu[public]
by_rate = (1 / rates[distinct] - 1 / rates[public]) * 1e6
print(f"verification cost per request, distinct tokens: {by_user:.1f} us of service user CPU = {by_user * openssl / 1e6:.2f}x openssl verify (target <= 1.3)")
print(f"  with system time: {by_cpu:.1f} us = {by_cpu * openssl / 1e6:.2f}x; from throughput: {by_rate:.1f} us = {by_rate * openssl / 1e6:.2f}x")
PY
