#!/usr/bin/env bash
# Token endpoint throughput as issuer CPU per token against the RSA limit,
# in one sitting on one machine:
#   1. `openssl speed -seconds 5 rsa2048` (one core, sign): the time of one
#      RSA-2048 signature, the floor of an RS256 token's cost;
#   2. one `issuer serve` (release, its own process, default settings, logs at
#      the default level into a file) on a fresh SQLite file in a temporary
#      directory, with a user and a confidential client made by the issuer CLI;
#   3. ROUNDS rounds of COUNT client_credentials grants, then COUNT refresh
#      grants (each client rotating its own session), driven by the load
#      generator issuer/examples/refresh_rate.rs in its external-target mode
#      with CLIENTS keep-alive clients; the issuer's CPU time (user + system,
#      every thread) is read from /proc/PID/stat before and after each run;
#   4. openssl again, and the mean of the two as the yardstick.
# Prints, per grant, the median over the rounds of: issuer CPU per token
# (us), openssl's sign time (us), their ratio (sign time / CPU per token: 1.0
# would mean the issuer spends nothing besides the signature), tokens/s and
# latency; then every round. Any answer but 200 is counted as an error.
#
#   scripts/bench-token.sh [count] [clients] [rounds]    # default: 10000 16 3
#
# Bounded: each run stops after COUNT answers or MAX_SECONDS (default 60),
# whichever comes first. Release binaries are built first. Honours
# CARGO_TARGET_DIR, SKIP_BUILD=1 (use the binaries as built), BENCH_PORT
# (default 18195), RUST_LOG and
# ISSUER_WORKERS for the issuer (defaults: info, one per core), and
# PERF_RECORD=FILE (records the issuer with `perf record -g` during the
# client_credentials runs of round 1, cpu-clock sampling). Needs openssl and
# curl; everything on loopback, nothing pinned.
set -euo pipefail
cd "$(dirname "$0")/.."

count=${1:-10000}
clients=${2:-16}
rounds=${3:-3}
max_seconds=${MAX_SECONDS:-60}
for v in "$count" "$clients" "$rounds" "$max_seconds"; do
  case $v in '' | *[!0-9]*) echo "usage: $0 [count] [clients] [rounds] (whole numbers)" >&2; exit 2 ;; esac
done
((count >= 100 && count <= 1000000)) || { echo "count: 100..1000000" >&2; exit 2; }
((clients >= 1 && clients <= 256)) || { echo "clients: 1..256" >&2; exit 2; }
((rounds >= 1 && rounds <= 9)) || { echo "rounds: 1..9" >&2; exit 2; }
((max_seconds >= 1 && max_seconds <= 600)) || { echo "MAX_SECONDS: 1..600" >&2; exit 2; }
for tool in openssl curl; do
  command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 2; }
done

[ -n "${SKIP_BUILD:-}" ] || cargo build --release -q -p issuer --bins --examples
bin=${CARGO_TARGET_DIR:-target}/release
port=${BENCH_PORT:-18195}
work=$(mktemp -d /tmp/bench-token.XXXXXX)
issuer_pid=''
cleanup() {
  if [ -n "$issuer_pid" ]; then
    kill "$issuer_pid" 2>/dev/null || true
    wait "$issuer_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

export ISSUER_DATABASE_URL="sqlite:$work/issuer.db"
ISSUER_KEK=$(openssl rand 32 | base64 | tr '+/' '-_' | tr -d '=\n')
export ISSUER_KEK
secret=bench-secret-0123456789
password='correct horse battery'
out=$(echo "$password" | "$bin/issuer" users add alice --role admin --password-stdin 2>&1) &&
  out=$(echo "$secret" | "$bin/issuer" clients add bench --scope items:read --scope items:write \
    --audience orders --secret-stdin 2>&1) || { echo "$out" >&2; exit 1; }

ISSUER_LISTEN="127.0.0.1:$port" ISSUER_URL="http://127.0.0.1:$port" \
  "$bin/issuer" serve >"$work/issuer.log" 2>&1 &
issuer_pid=$!
ready=''
for _ in $(seq 1 400); do
  curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && { ready=1; break; }
  sleep 0.05
done
[ -n "$ready" ] || { echo "issuer not ready; its log:" >&2; tail -20 "$work/issuer.log" >&2; exit 1; }

# sign_us: microseconds per RSA-2048 signature, one core.
sign_us() {
  openssl speed -seconds 5 rsa2048 2>/dev/null |
    awk '/^rsa 2048 bits/ { printf "%.1f", 1000000 / $(NF-1) }'
}

# run GRANT: one bounded run; prints the load generator's RESULT line.
run() {
  REFRESH_RATE_GRANT=$1 REFRESH_RATE_COUNT=$count REFRESH_RATE_TARGETS="http://127.0.0.1:$port" \
    REFRESH_RATE_CPU_PIDS="issuer=$issuer_pid" REFRESH_RATE_CLIENT_SECRET=$secret \
    REFRESH_RATE_PASSWORD=$password "$bin/examples/refresh_rate" "$max_seconds" "$clients" >"$work/load.out"
  cat "$work/load.out" >&2
  grep '^RESULT ' "$work/load.out"
}
field() { echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

load_avg=$(cut -d' ' -f1-3 /proc/loadavg)
echo "openssl speed -seconds 5 rsa2048 ..." >&2
sign_before=$(sign_us)
declare -A rows
for round in $(seq 1 "$rounds"); do
  for grant in client_credentials refresh_token; do
    echo "round $round: $count $grant grants, $clients clients ..." >&2
    perf_pid=''
    if [ -n "${PERF_RECORD:-}" ] && [ "$round" = 1 ] && [ "$grant" = client_credentials ]; then
      perf record -e cpu-clock -g -p "$issuer_pid" -o "$PERF_RECORD" 2>"$work/perf.err" &
      perf_pid=$!
      sleep 0.5
    fi
    r=$(run "$grant")
    if [ -n "$perf_pid" ]; then
      kill -INT "$perf_pid"
      wait "$perf_pid" || true
    fi
    ok=$(field ok "$r")
    ((ok > 0)) || { echo "no token issued; the issuer's log:" >&2; tail -20 "$work/issuer.log" >&2; exit 1; }
    cpu_us=$(awk -v c="$(field cpu_issuer "$r")" -v n="$ok" 'BEGIN { printf "%.1f", c * 1000000 / n }')
    rows[$grant]+="$round $cpu_us $(field rate "$r") $(field p50_ms "$r") $(field p99_ms "$r") $(field errors "$r") $ok"$'\n'
  done
done
echo "openssl speed -seconds 5 rsa2048 ..." >&2
sign_after=$(sign_us)
sign=$(awk -v a="$sign_before" -v b="$sign_after" 'BEGIN { printf "%.1f", (a + b) / 2 }')

col() { printf '%s' "${rows[$1]}" | awk -v c="$2" 'NF { print $c }'; }
echo
echo "Machine: $(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo); \
load average at the start: $load_avg"
echo "openssl rsa2048 sign (one core): ${sign_before} us before, ${sign_after} us after; \
$count grants per run, $clients clients, $rounds rounds, RUST_LOG=${RUST_LOG:-info (default)}"
echo
echo "| grant | issuer CPU us/token (median) | openssl sign us | ratio | tokens/s | p50 ms | p99 ms | errors |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for grant in client_credentials refresh_token; do
  cpu=$(col "$grant" 2 | median)
  ratio=$(awk -v s="$sign" -v c="$cpu" 'BEGIN { printf "%.2f", s / c }')
  echo "| $grant | $cpu | $sign | **$ratio** | $(col "$grant" 3 | median | xargs printf '%.0f') \
| $(col "$grant" 4 | median) | $(col "$grant" 5 | median) | $(col "$grant" 6 | awk '{ s += $1 } END { print s }') |"
done
echo
echo "Every round (issuer CPU us/token, tokens/s):"
for grant in client_credentials refresh_token; do
  printf '  %s:' "$grant"
  printf '%s' "${rows[$grant]}" | awk 'NF { printf " %s us (%.0f/s)", $2, $3 }'
  echo
done
