#!/usr/bin/env bash
# Load benchmark of resource-api on loopback, in one sitting, with tokens
# from a real issuer (client-credentials grant):
#
#   - the unprotected /v1/public, /v1/me with one repeated token and /v1/me
#     with a distinct token on every request, each against a service with
#     the DEFAULT configuration (result cache and access log as shipped);
#   - the same three against a second, identical service with RUST_LOG=warn
#     (no access log): what the access log costs;
#   - /v1/me with distinct tokens against a third service with the result
#     cache off (RESOURCE_RESULT_CACHE=0): what the cache costs on misses,
#     and the verification cost against `openssl speed rsa2048` verify;
#   - peak RSS (VmHWM) of a fresh default service after TOKENS distinct
#     tokens (100,000 by default), each sent once.
#
# The services are pinned to CPU 0, wrk to CPU 1, openssl to CPU 0 while
# the services are idle. Logs go to a file, as a container's would go to a
# pipe. Each round runs every case once, for DURATION each, plus one
# `openssl speed` run; the tables show the median over ROUNDS. Besides
# requests/s it reports each service's own CPU time per request from /proc
# (user+system), which load elsewhere on the machine does not skew; the
# access-log cost is given both ways.
#
# Needs: wrk, openssl, python3, curl, taskset. Bounded: about
# ROUNDS x (7 x DURATION + OPENSSL_SECONDS), plus minting TOKENS tokens
# (about 30 s for 100,000) and one pass over them for the RSS figure.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-3}
OPENSSL_SECONDS=${OPENSSL_SECONDS:-3}
CONNECTIONS=${CONNECTIONS:-32}
TOKENS=${TOKENS:-100000}
BASE_PORT=${BASE_PORT:-18080}
case $ROUNDS in [1-9]) ;; *) echo "ROUNDS must be 1..9" >&2; exit 2 ;; esac
case $TOKENS in *[!0-9]*|'') echo "TOKENS must be a number" >&2; exit 2 ;; esac
[ "$TOKENS" -ge 1000 ] && [ "$TOKENS" -le 200000 ] || { echo "TOKENS must be 1000..200000" >&2; exit 2; }
for tool in wrk openssl python3 curl taskset; do
  command -v "$tool" >/dev/null || { echo "missing tool: $tool (Debian: apt-get install wrk openssl python3 curl util-linux)" >&2; exit 2; }
done

# BIN_DIR: take the binaries from there instead (such as a build of an
# older commit, for a before/after comparison).
if [ -n "${BIN_DIR:-}" ]; then
  bin=$BIN_DIR
else
  cargo build --release -q -p issuer -p resource-api
  bin=${CARGO_TARGET_DIR:-target}/release
fi
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

wait_ready() { for _ in $(seq 1 200); do curl -fs "$1" >/dev/null && return 0; sleep 0.05; done; echo "not ready: $1" >&2; exit 1; }

issuer_port=$BASE_PORT
export ISSUER_DATABASE_URL="sqlite:$work/issuer.db" ISSUER_KEK_FILE="$work/kek"
export ISSUER_LISTEN="127.0.0.1:$issuer_port" ISSUER_URL="http://127.0.0.1:$issuer_port"
export ISSUER_ACCESS_TOKEN_TTL=1h
python3 -c 'import base64,os;print(base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="))' > "$ISSUER_KEK_FILE"
echo "bench-secret-0123456789abcdef0123456789" | RUST_LOG=warn "$bin/issuer" clients add bench --scope items:read --audience orders --secret-stdin >/dev/null
RUST_LOG=warn "$bin/issuer" serve 2>"$work/issuer.log" & pids+=($!)
wait_ready "$ISSUER_URL/readyz"

# Distinct tokens from the client-credentials grant (no password hashing),
# four connections at a time.
echo "minting $TOKENS tokens…" >&2
python3 - "$issuer_port" "$TOKENS" > "$work/tokens" <<'PY'
import base64, http.client, json, sys, threading
port, n = int(sys.argv[1]), int(sys.argv[2])
auth = "Basic " + base64.b64encode(b"bench:bench-secret-0123456789abcdef0123456789").decode()
body = "grant_type=client_credentials&scope=items%3Aread&audience=orders"
out, failed = [[] for _ in range(4)], []
def mint(slot, count):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for _ in range(count):
        conn.request("POST", "/oauth2/token", body, {"Authorization": auth, "Content-Type": "application/x-www-form-urlencoded"})
        r = conn.getresponse(); data = r.read()
        if r.status != 200:
            failed.append(r.status); return
        out[slot].append(json.loads(data)["access_token"])
threads = [threading.Thread(target=mint, args=(i, n // 4 + (i < n % 4))) for i in range(4)]
for t in threads: t.start()
for t in threads: t.join()
if failed: sys.exit(f"token request failed: {failed[0]}")
for tokens in out:
    for t in tokens: print(t)
PY
[ "$(wc -l < "$work/tokens")" -eq "$TOKENS" ] || { echo "minted $(wc -l < "$work/tokens") of $TOKENS tokens" >&2; exit 1; }
token=$(head -n1 "$work/tokens")

# Each request takes the next token; with ONCE set, the thread stops after
# one pass over the file.
cat > "$work/distinct.lua" <<'LUA'
local tokens = {}
for line in io.lines(os.getenv("TOKENS_FILE")) do tokens[#tokens + 1] = line end
local once = os.getenv("ONCE") == "1"
local i, done = 0, 0
request = function()
  i = i + 1
  return wrk.format("GET", "/v1/me", { ["Authorization"] = "Bearer " .. tokens[((i - 1) % #tokens) + 1] })
end
if once then
  response = function()
    done = done + 1
    if done >= #tokens then wrk.thread:stop() end
  end
end
LUA

# start_resource NAME PORT [VAR=VALUE…]: a service with the default
# configuration plus the given variables; sets url_NAME and pid_NAME.
start_resource() {
  local name=$1 port=$2 pid
  shift 2
  env -u RUST_LOG RESOURCE_LISTEN="127.0.0.1:$port" RESOURCE_ISSUER_URL="$ISSUER_URL" \
    RESOURCE_AUDIENCE=orders "$@" taskset -c 0 "$bin/resource-api" 2>>"$work/$name.log" &
  pid=$!
  pids+=("$pid")
  printf -v "pid_$name" %s "$pid"
  printf -v "url_$name" %s "http://127.0.0.1:$port"
  wait_ready "http://127.0.0.1:$port/readyz"
}
start_resource default $((BASE_PORT + 1))
start_resource quiet $((BASE_PORT + 2)) RUST_LOG=warn
start_resource nocache $((BASE_PORT + 3)) RESOURCE_RESULT_CACHE=0 RUST_LOG=warn

peak_rss_mib() { awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# run ROUND SERVICE CASE [wrk args…]: one wrk run, appends a line to $work/rates
run() {
  local round=$1 service=$2 case=$3 out before after pid url
  shift 3
  pid=pid_$service url=url_$service
  pid=${!pid} url=${!url}
  local args=("$@")
  case $case in
    public) args+=("$url/v1/public") ;;
    repeated) args+=(-H "Authorization: Bearer $token" "$url/v1/me") ;;
    distinct) args+=(-s "$work/distinct.lua" "$url/v1/me") ;;
  esac
  before=$(cpu_ticks "$pid")
  out=$(TOKENS_FILE="$work/tokens" taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"$DURATION" "${args[@]}")
  after=$(cpu_ticks "$pid")
  local requests rps non2xx
  requests=$(awk '/requests in/ { print $1 }' <<<"$out")
  rps=$(awk '/Requests\/sec/ { print $2 }' <<<"$out")
  non2xx=$(awk '/Non-2xx/ { print $NF }' <<<"$out")
  echo "$round|$service|$case|$requests|$rps|$before|$after|${non2xx:-0}" >> "$work/rates"
}

echo "response bodies: /v1/public $(curl -fs "$url_default/v1/public" | wc -c) B, /v1/me $(curl -fs -H "Authorization: Bearer $token" "$url_default/v1/me" | wc -c) B" >&2
for round in $(seq 1 "$ROUNDS"); do
  echo "round $round/$ROUNDS…" >&2
  for case in public repeated distinct; do
    run "$round" default "$case"
    run "$round" quiet "$case"
  done
  run "$round" nocache distinct
  verify=$(taskset -c 0 openssl speed -seconds "$OPENSSL_SECONDS" rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ { print $NF }')
  echo "$round|$verify" >> "$work/openssl"
done

# Peak RSS: a fresh default service, every token once.
echo "peak RSS after $TOKENS distinct tokens…" >&2
start_resource fresh $((BASE_PORT + 4))
rss_before=$(peak_rss_mib "$pid_fresh")
out=$(TOKENS_FILE="$work/tokens" ONCE=1 taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d120s -s "$work/distinct.lua" "$url_fresh/v1/me")
rss_requests=$(awk '/requests in/ { print $1 }' <<<"$out")
rss_non2xx=$(awk '/Non-2xx/ { print $NF }' <<<"$out")
rss_after=$(peak_rss_mib "$pid_fresh")
hits=$(curl -fs "$url_fresh/metrics" | awk '/^resource_token_result_cache_misses_total/ { print $2 }')
echo "$rss_before|$rss_after|$rss_requests|${rss_non2xx:-0}|${hits:-?}" > "$work/rss"
dropped=$(curl -fs "$url_default/metrics" | awk '/^resource_access_log_dropped_total/ { print $2 }')
log_lines=$(grep -c 'request finished' "$work/default.log" || true)

python3 - "$work/rates" "$work/openssl" "$work/rss" "$(getconf CLK_TCK)" "$DURATION" "$ROUNDS" "$CONNECTIONS" "$TOKENS" "${dropped:-none}" "$log_lines" <<'PY'
import statistics, sys
rates_file, openssl_file, rss_file = sys.argv[1:4]
hz, duration, rounds, connections, tokens = float(sys.argv[4]), sys.argv[5], int(sys.argv[6]), sys.argv[7], sys.argv[8]
dropped, log_lines = sys.argv[9], sys.argv[10]
runs = {}  # (round, service, case) -> dict
for line in open(rates_file):
    rnd, service, case, n, rps, before, after, non2xx = line.strip().split("|")
    runs[(rnd, service, case)] = dict(rps=float(rps), non2xx=int(non2xx),
                                      cpu=(float(after) - float(before)) / hz * 1e6 / float(n))
verify = {r: float(v) for r, v in (l.strip().split("|") for l in open(openssl_file))}
rounds_ = sorted(verify)
med = statistics.median
fmt = lambda xs: " / ".join(f"{v:.2f}" for v in xs)
label = {"default": "default config", "quiet": "default config, RUST_LOG=warn", "nocache": "result cache off, RUST_LOG=warn"}
what = {"public": "unprotected /v1/public", "repeated": "/v1/me, one repeated token", "distinct": f"/v1/me, distinct tokens ({tokens})"}
print(f"resource-api, {rounds} rounds x {duration} per case, wrk -t1 -c{connections}, service on CPU 0; medians over rounds")
print()
print("| service | case | requests/s | service CPU µs/req (user+sys) | non-2xx |")
print("|---|---|---:|---:|---:|")
keys = [("default", c) for c in what] + [("quiet", c) for c in what] + [("nocache", "distinct")]
for service, case in keys:
    rs = [runs[(r, service, case)] for r in rounds_]
    print(f"| {label[service]} | {what[case]} | {med(x['rps'] for x in rs):,.0f} | {med(x['cpu'] for x in rs):.1f} | {sum(x['non2xx'] for x in rs)} |")
g = lambda r, s, c, k="rps": runs[(r, s, c)][k]
print()
ratio = [g(r, "default", "repeated") / g(r, "default", "public") for r in rounds_]
print(f"protected (one token) / unprotected, default config: {med(ratio):.2f} (rounds {fmt(ratio)}; target >= 0.85)")
for case in what:
    tput = [1 - g(r, "default", case) / g(r, "quiet", case) for r in rounds_]
    cpu = [g(r, "default", case, "cpu") / g(r, "quiet", case, "cpu") - 1 for r in rounds_]
    print(f"access log cost, {what[case]}: {100 * med(tput):.1f} % of throughput (rounds {fmt([100 * t for t in tput])}), "
          f"{100 * med(cpu):+.1f} % CPU per request (rounds {fmt([100 * c for c in cpu])}); target < 5 %")
miss = [g(r, "quiet", "distinct") / g(r, "nocache", "distinct") for r in rounds_]
print(f"distinct tokens, result cache on (all misses) / off, both RUST_LOG=warn: {med(miss):.2f} (rounds {fmt(miss)})")
op_us = [1e6 / verify[r] for r in rounds_]
marg = [(g(r, "nocache", "distinct", "cpu") - g(r, "quiet", "public", "cpu")) / o for r, o in zip(rounds_, op_us)]
print(f"verification cost (service CPU of distinct-token /v1/me minus /v1/public, cache off, RUST_LOG=warn) "
      f"vs openssl speed rsa2048 verify ({med(op_us):.1f} µs/op): {med(marg):.2f}x (rounds {fmt(marg)})")
before, after, n, non2xx, misses = open(rss_file).read().strip().split("|")
print(f"peak RSS (VmHWM) of a fresh default service: {before} MiB at start, {after} MiB after {n} requests with "
      f"{tokens} distinct tokens ({non2xx} non-2xx, {misses} cache misses); target < 64 MiB")
print(f"access log of the default service: {log_lines} 'request finished' lines, {dropped} dropped")
PY
