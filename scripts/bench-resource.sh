#!/usr/bin/env bash
# Load benchmark of resource-api on loopback, in one sitting:
#   unprotected route vs GET /v1/me with a valid token (result cache off and
#   on), GET /v1/me with a distinct token on every request, peak RSS, and
#   `openssl speed rsa2048` verify as the yardstick.
#
# Two service processes run side by side, one with the result cache off and
# one with it on, both pinned to CPU 0; wrk and openssl are pinned to CPU 1
# and to CPU 0 respectively (openssl on the service's own core, while the
# services are idle). Each round runs every case once, for DURATION each,
# plus an `openssl speed` run; the table shows the median over ROUNDS.
#
# Besides requests/s and p99 it reports the service's own CPU time per
# request from /proc (user, and user+system), which load elsewhere on the
# machine does not skew. "Verification cost per request" is the MARGINAL
# cost: user CPU per request of /v1/me with distinct tokens minus that of the
# unprotected route of the same process in the same round (same HTTP stack,
# same middleware, a small JSON answer of the same size class), compared
# with openssl's verify time per operation from the same round. The
# whole-request figure is printed too, labelled as such.
# Needs: wrk, openssl, python3, curl, taskset. Bounded: about
# ROUNDS x (4 x DURATION + OPENSSL_SECONDS) plus token minting.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-3}
OPENSSL_SECONDS=${OPENSSL_SECONDS:-3}
CONNECTIONS=${CONNECTIONS:-32}
TOKENS=${TOKENS:-20000}
ISSUER_PORT=${ISSUER_PORT:-18080}
RESOURCE_PORT=${RESOURCE_PORT:-18081}
CACHED_PORT=${CACHED_PORT:-18082}
case $ROUNDS in [1-9]) ;; *) echo "ROUNDS must be 1..9" >&2; exit 2 ;; esac
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

start_resource() { # $1: port, $2: result cache entries; sets resource_pid
  RESOURCE_LISTEN="127.0.0.1:$1" RESOURCE_ISSUER_URL="$ISSUER_URL" RESOURCE_AUDIENCE=orders \
  RESOURCE_RESULT_CACHE="$2" taskset -c 0 "$bin/resource-api" & resource_pid=$!
  pids+=("$resource_pid")
  wait_ready "http://127.0.0.1:$1/readyz"
}
start_resource "$RESOURCE_PORT" 0; plain_pid=$resource_pid
start_resource "$CACHED_PORT" 100000; cached_pid=$resource_pid
url="http://127.0.0.1:$RESOURCE_PORT"
cached_url="http://127.0.0.1:$CACHED_PORT"
peak_rss_mib() { awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
cpu_ticks() { awk '{ print $14, $14 + $15 }' "/proc/$1/stat"; }

# run ROUND PID NAME [wrk args…]: one wrk run, appends a line to $work/rates
run() {
  local round=$1 pid=$2 name=$3 out before after
  shift 3
  before=$(cpu_ticks "$pid")
  out=$(taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency "$@")
  after=$(cpu_ticks "$pid")
  local requests rps p99 non2xx
  requests=$(awk '/requests in/ { print $1 }' <<<"$out")
  rps=$(awk '/Requests\/sec/ { print $2 }' <<<"$out")
  p99=$(awk '$1 == "99%" { v = $2; if (v ~ /us$/) { sub(/us/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms/, "", v) } else if (v ~ /s$/) { sub(/s/, "", v); v *= 1000 }; print v }' <<<"$out")
  non2xx=$(awk '/Non-2xx/ { print $NF }' <<<"$out")
  echo "$round|$name|$requests|$rps|$p99|$before|$after|${non2xx:-0}|$(peak_rss_mib "$pid")" >> "$work/rates"
}

public="unprotected /v1/public"
off="/v1/me, one token, result cache off"
distinct="/v1/me, distinct tokens, result cache off"
on="/v1/me, one token, result cache on"
echo "response bodies: /v1/public $(curl -fs "$url/v1/public" | wc -c) B, /v1/me $(curl -fs -H "Authorization: Bearer $token" "$url/v1/me" | wc -c) B" >&2
for round in $(seq 1 "$ROUNDS"); do
  echo "round $round/$ROUNDS…" >&2
  run "$round" "$plain_pid" "$public" "$url/v1/public"
  run "$round" "$plain_pid" "$off" -H "Authorization: Bearer $token" "$url/v1/me"
  TOKENS_FILE="$work/tokens" run "$round" "$plain_pid" "$distinct" -s "$work/distinct.lua" "$url/v1/me"
  run "$round" "$cached_pid" "$on" -H "Authorization: Bearer $token" "$cached_url/v1/me"
  verify=$(taskset -c 0 openssl speed -seconds "$OPENSSL_SECONDS" rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ { print $NF }')
  echo "$round|openssl|$verify" >> "$work/openssl"
done

python3 - "$work/rates" "$work/openssl" "$(getconf CLK_TCK)" "$DURATION" "$ROUNDS" "$CONNECTIONS" <<'PY'
import statistics, sys
rates_file, openssl_file, hz = sys.argv[1], sys.argv[2], float(sys.argv[3])
duration, rounds, connections = sys.argv[4], int(sys.argv[5]), sys.argv[6]
runs = {}  # (round, case) -> dict
order = []
for line in open(rates_file):
    rnd, name, n, rps, p99, before, after, non2xx, rss = line.strip().split("|")
    b, a = [float(x) for x in before.split()], [float(x) for x in after.split()]
    n = float(n)
    runs[(rnd, name)] = dict(
        rps=float(rps), p99=float(p99), non2xx=int(non2xx), rss=float(rss),
        user=(a[0] - b[0]) / hz * 1e6 / n, cpu=(a[1] - b[1]) / hz * 1e6 / n,
    )
    if name not in order:
        order.append(name)
verify = {r: float(v) for r, _, v in (l.strip().split("|") for l in open(openssl_file))}
med = statistics.median
print(f"resource-api, {rounds} rounds x {duration} per case, wrk -t1 -c{connections}; medians over rounds")
print()
print("| case | requests/s | p99 ms | service user CPU us/req | user+sys us/req | peak RSS MiB | non-2xx |")
print("|---|---:|---:|---:|---:|---:|---:|")
for name in order:
    rs = [v for (r, n), v in runs.items() if n == name]
    print(f"| {name} | {med(x['rps'] for x in rs):.0f} | {med(x['p99'] for x in rs):.2f} "
          f"| {med(x['user'] for x in rs):.1f} | {med(x['cpu'] for x in rs):.1f} "
          f"| {max(x['rss'] for x in rs):.1f} | {sum(x['non2xx'] for x in rs)} |")
public, off, distinct, on = order
rounds_ = sorted(verify)
op_us = [1e6 / verify[r] for r in rounds_]
ratio_on = [runs[(r, on)]["rps"] / runs[(r, public)]["rps"] for r in rounds_]
marg_user = [runs[(r, distinct)]["user"] - runs[(r, public)]["user"] for r in rounds_]
marg_cpu = [runs[(r, distinct)]["cpu"] - runs[(r, public)]["cpu"] for r in rounds_]
whole_user = [runs[(r, distinct)]["user"] for r in rounds_]
x = lambda us: [u / o for u, o in zip(us, op_us)]
fmt = lambda xs: " ".join(f"{v:.2f}" for v in xs)
print()
print(f"openssl speed rsa2048 verify on the service's core: {med(op_us):.1f} us/op (rounds: {fmt(op_us)})")
print(f"result cache on vs unprotected throughput: {med(ratio_on):.2f} (rounds: {fmt(ratio_on)}; target >= 0.7)")
print(f"verification cost per request (MARGINAL: distinct-token /v1/me minus /v1/public, service user CPU): "
      f"{med(marg_user):.1f} us = {med(x(marg_user)):.2f}x openssl verify (rounds: {fmt(x(marg_user))}; target <= 1.3)")
print(f"  marginal with system time (user+sys): {med(marg_cpu):.1f} us = {med(x(marg_cpu)):.2f}x")
print(f"  WHOLE request, distinct-token /v1/me, service user CPU: {med(whole_user):.1f} us = {med(x(whole_user)):.2f}x openssl verify")
print(f"peak RSS of either service: {max(v['rss'] for v in runs.values()):.1f} MiB (target <= 64)")
PY
