#!/usr/bin/env bash
# Refresh-grant throughput, in one sitting on one machine:
#   (a) one `issuer serve` on a fresh SQLite file;
#   (b) two `issuer serve` processes on one PostgreSQL database (a throwaway
#       server from scripts/with-postgres.sh), each client alternating between
#       them on every refresh, so every rotation of a family crosses instances;
#   (c) `openssl speed -seconds 3 rsa2048` (sign/s) before and after, as the
#       yardstick for the machine's state.
# For each client count, (a) then (b) run back to back on fresh stores, with
# the same load generator (issuer/examples/refresh_rate.rs, external-target
# mode: keep-alive clients, one refresh family each, N seconds after a 1 s
# warm-up). Prints a markdown table: setup, clients, refreshes/s, latency,
# errors (any answer but 200), ratio to the SQLite case and to one core's
# openssl sign rate, CPU time per refresh of the issuer processes, of
# PostgreSQL and of the load generator during the window, and how many cores
# those processes kept busy against the whole machine (the rest is other work).
#
#   scripts/bench-refresh-scaleout.sh [seconds] [clients...]    # default: 10 "16 32"
#   scripts/bench-refresh-scaleout.sh 10 16,32
#
# Everything runs on loopback on the same cores, load generator included,
# nothing pinned; release binaries are built first. Honours CARGO_TARGET_DIR,
# PG_PORT (PostgreSQL, default 55432), BENCH_PORT (first of three issuer ports,
# default 18190), ISSUER_DB_MAX_CONNECTIONS, ISSUER_WORKERS and RUST_LOG (default
# warn) for the issuers. Needs: openssl, curl, PostgreSQL server binaries
# (with-postgres.sh installs them from Debian packages when missing, as root).
# Bounded: about 2 x (seconds + 1 s warm-up + start-up) per client count, plus 6 s.
set -euo pipefail
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$0")/.."

secs=${1:-10}
shift || true
clients=$(echo "${*:-16 32}" | tr ',' ' ')
case $secs in '' | *[!0-9]*) echo "seconds: a whole number" >&2; exit 2 ;; esac
((secs >= 1 && secs <= 300)) || { echo "seconds: 1..300" >&2; exit 2; }
for n in $clients; do
  case $n in '' | *[!0-9]*) echo "clients: whole numbers" >&2; exit 2 ;; esac
  ((n >= 1 && n <= 512)) || { echo "clients: 1..512" >&2; exit 2; }
done
bin=${CARGO_TARGET_DIR:-target}/release

# Outer run: build, then run this script again under a throwaway PostgreSQL.
if [ -z "${BENCH_REFRESH_INNER:-}" ]; then
  for tool in openssl curl; do
    command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 2; }
  done
  cargo build --release -q -p issuer --examples --bins
  BENCH_REFRESH_INNER=1 exec scripts/with-postgres.sh "$self" "$secs" $clients
fi

server=${ISSUER_TEST_DATABASE_URL:?run through scripts/with-postgres.sh}
pg_port=${server##*:}
pgbin=$(for d in /usr/lib/postgresql/*/bin; do [ -x "$d/psql" ] && echo "$d"; done | tail -1)
[ -n "$pgbin" ] || pgbin=$(dirname "$(command -v psql)")
psql_admin() { "$pgbin/psql" -X -q -At -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres "$@"; }
# The postmaster, whose process tree (every backend) is PostgreSQL's CPU.
pg_data=$(psql_admin -c 'SHOW data_directory')
pg_pid=$(head -1 "$pg_data/postmaster.pid")

base=${BENCH_PORT:-18190}
work=$(mktemp -d /tmp/bench-refresh.XXXXXX)
pids=()
stop_issuers() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
cleanup() { stop_issuers; rm -rf "$work"; }
trap cleanup EXIT

export RUST_LOG=${RUST_LOG:-warn}
# One key-encryption key for every instance (32 random bytes, base64url).
ISSUER_KEK=$(openssl rand 32 | base64 | tr '+/' '-_' | tr -d '=\n')
export ISSUER_KEK
secret=bench-secret-0123456789
password='correct horse battery'

wait_ready() {
  for _ in $(seq 1 400); do
    curl -fs "http://127.0.0.1:$1/readyz" >/dev/null && return 0
    sleep 0.05
  done
  echo "issuer on port $1 not ready; its log:" >&2
  tail -20 "$work/issuer-$1.log" >&2
  exit 1
}

# serve PORT ISSUER_URL: starts an issuer on the current ISSUER_DATABASE_URL.
serve() {
  ISSUER_LISTEN="127.0.0.1:$1" ISSUER_URL=$2 "$bin/issuer" serve >"$work/issuer-$1.log" 2>&1 &
  pids+=($!)
  wait_ready "$1"
}

# Users and clients through the issuer CLI, on the store ISSUER_DATABASE_URL names.
provision() {
  local out
  out=$(echo "$password" | "$bin/issuer" users add alice --role admin --password-stdin 2>&1) &&
    out=$(echo "$secret" | "$bin/issuer" clients add bench --scope items:read --scope items:write \
      --audience orders --secret-stdin 2>&1) || { echo "$out" >&2; exit 1; }
}

# load CLIENTS TARGETS CPU_PIDS: the load generator's RESULT line.
load() {
  REFRESH_RATE_TARGETS=$2 REFRESH_RATE_CPU_PIDS=$3 REFRESH_RATE_CLIENT_SECRET=$secret \
    REFRESH_RATE_PASSWORD=$password "$bin/examples/refresh_rate" "$secs" "$1" >"$work/load.out"
  cat "$work/load.out" >&2
  grep '^RESULT ' "$work/load.out"
}

field() { echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

sign_rate() { openssl speed -seconds 3 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ { print $(NF-1) }'; }

load_avg=$(cut -d' ' -f1-3 /proc/loadavg)
echo "openssl speed -seconds 3 rsa2048 ..." >&2
sign_before=$(sign_rate)
results=()
case_no=0
for n in $clients; do
  case_no=$((case_no + 1))
  # (a) one issuer on a fresh SQLite file.
  export ISSUER_DATABASE_URL="sqlite:$work/sqlite-$case_no.db"
  provision
  serve "$base" "http://127.0.0.1:$base"
  echo "SQLite, 1 issuer, $n clients, ${secs}s ..." >&2
  sqlite=$(load "$n" "http://127.0.0.1:$base" "issuer=${pids[0]}")
  stop_issuers

  # (b) two issuers on a fresh PostgreSQL database, both behind one issuer URL.
  psql_admin -c "CREATE DATABASE bench_$case_no"
  export ISSUER_DATABASE_URL="$server/bench_$case_no"
  provision
  url="http://127.0.0.1:$((base + 1))"
  serve $((base + 1)) "$url"
  serve $((base + 2)) "$url"
  echo "PostgreSQL, 2 issuers, $n clients, ${secs}s ..." >&2
  pg=$(load "$n" "http://127.0.0.1:$((base + 1)),http://127.0.0.1:$((base + 2))" \
    "issuer_a=${pids[0]},issuer_b=${pids[1]},postgres=$pg_pid")
  stop_issuers

  results+=("$sqlite" "$pg")
done
echo "openssl speed -seconds 3 rsa2048 ..." >&2
sign_after=$(sign_rate)
sign=$(awk -v a="$sign_before" -v b="$sign_after" 'BEGIN { print (a + b) / 2 }')

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
# CPU seconds -> ms per successful refresh.
per() { awk -v c="$1" -v ok="$2" 'BEGIN { if (ok > 0) printf "%.2f", c * 1000 / ok; else print "-" }'; }
rows=()
for r in "${results[@]}"; do
  n=$(field clients "$r") rate=$(field rate "$r") ok=$(field ok "$r")
  secs_run=$(field seconds "$r") self_cpu=$(field cpu_self "$r")
  if [ "$(field targets "$r")" = 1 ]; then
    setup="1 issuer, SQLite" base_rate=$rate
    issuer_s=$(field cpu_issuer "$r") db_s=0
    db_cpu="(in issuer)"
  else
    setup="2 issuers, PostgreSQL"
    issuer_s=$(awk -v a="$(field cpu_issuer_a "$r")" -v b="$(field cpu_issuer_b "$r")" 'BEGIN { print a + b }')
    db_s=$(field cpu_postgres "$r")
    db_cpu=$(per "$db_s" "$ok")
  fi
  issuer_cpu=$(per "$issuer_s" "$ok")
  ours=$(awk -v a="$issuer_s" -v b="$db_s" -v c="$self_cpu" -v t="$secs_run" 'BEGIN { printf "%.2f", (a + b + c) / t }')
  errors=$(field errors "$r") lost=$(field lost "$r")
  if [ "$errors" != 0 ] || [ "$lost" != 0 ]; then
    errors="**$errors** ($(awk -v e="$errors" -v ok="$ok" 'BEGIN { printf "%.2f %%", 100 * e / (e + ok) }'): \
$(field errors_4xx "$r") 4xx, $(field errors_5xx "$r") 5xx, $(field errors_transport "$r") transport; $lost clients lost)"
  fi
  rows+=("| $setup | $n | $(printf '%.0f' "$rate") | $(field p50_ms "$r") | $(field p99_ms "$r") | $errors \
| $(ratio "$rate" "$base_rate") | $(ratio "$rate" "$sign") | $issuer_cpu | $db_cpu | $(per "$self_cpu" "$ok") \
| $ours / $(field machine_cores_busy "$r") |")
done

echo
echo "Machine: $(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); \
PostgreSQL $(psql_admin -c 'SHOW server_version'); ${secs} s per case after a 1 s warm-up; loopback, nothing pinned"
echo "openssl rsa2048 sign (one core): ${sign_before}/s before, ${sign_after}/s after; load average at the start: $load_avg"
echo
echo "| setup | clients | refreshes/s | p50 ms | p99 ms | errors | vs SQLite | vs openssl sign | issuer CPU ms/refresh | PostgreSQL CPU ms/refresh | load generator CPU ms/refresh | cores busy: these / machine |"
echo "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
