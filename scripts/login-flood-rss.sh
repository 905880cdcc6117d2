#!/usr/bin/env bash
# Peak RSS of an `issuer serve` process under a flood of failed logins:
# LOGINS password-grant requests (default 200), IN_FLIGHT at a time
# (default 50), a quarter with a wrong password for the demo user (throttled
# after 5), the rest with unknown usernames (each one a password check; the
# per-address limit is lifted, as for an attack from many addresses).
# Prints VmHWM after start-up and one successful login (the base), VmHWM
# after the flood, the bound base + CONCURRENCY x 19 MiB, and the answers.
#
#   scripts/login-flood-rss.sh [ISSUER_BINARY]    (default target/release/issuer)
#
# Give it two binaries in turn (one built from main, one from the branch)
# to compare them in one sitting. Needs curl and xargs. Bounded: every curl
# call has a 30 s limit, the start-up wait 60 s.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${1:-target/release/issuer}
LOGINS=${LOGINS:-200}
IN_FLIGHT=${IN_FLIGHT:-50}
CONCURRENCY=${CONCURRENCY:-2}
[ -x "$bin" ] || { echo "no issuer binary at $bin (cargo build --release -p issuer)" >&2; exit 2; }

dir=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT

ISSUER_DATABASE_URL="sqlite:$dir/issuer.db" \
ISSUER_LISTEN=127.0.0.1:0 \
ISSUER_WORKERS=1 \
ISSUER_PASSWORD_HASH_CONCURRENCY=$CONCURRENCY \
ISSUER_LOGIN_MAX_FAILURES_PER_IP=100000 \
ISSUER_BOOTSTRAP_FILE=deploy/demo-bootstrap.json \
ISSUER_LOG_FORMAT=json RUST_LOG=warn,issuer=info \
  "$bin" serve 2>"$dir/log" &
pid=$!

addr=
for _ in $(seq 1 600); do
  addr=$(grep -o '"addr":"[^"]*"' "$dir/log" | head -n1 | cut -d'"' -f4 || true)
  [ -n "$addr" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$dir/log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$addr" ] || { echo "issuer did not start" >&2; cat "$dir/log" >&2; exit 1; }
url="http://$addr/oauth2/token"

hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status"; }

login() { # user password -> HTTP status
  curl -s -o /dev/null -w '%{http_code}\n' --max-time 30 \
    -u demo-service:demo-service-secret \
    --data-urlencode grant_type=password --data-urlencode "username=$1" \
    --data-urlencode "password=$2" "$url"
}
export -f login
export url

warm=$(login demo demo-password)
[ "$warm" = 200 ] || { echo "warm-up login answered $warm" >&2; exit 1; }
base=$(hwm)

answers=$(seq 1 "$LOGINS" | xargs -P "$IN_FLIGHT" -I{} bash -c '
  if [ $(( {} % 4 )) = 0 ]; then login demo wrong-password; else login "nobody-{}" wrong-password; fi')
peak=$(hwm)
bound=$(( base + CONCURRENCY * 19456 ))

echo "binary: $bin"
echo "logins: $LOGINS, $IN_FLIGHT in flight, ISSUER_PASSWORD_HASH_CONCURRENCY=$CONCURRENCY"
echo "VmHWM after start-up and one login: $base KiB"
echo "VmHWM after the flood:              $peak KiB"
echo "base + concurrency x 19 MiB:        $bound KiB (+20 %: $(( bound * 6 / 5 )) KiB)"
echo "answers (count status):"
sort <<<"$answers" | uniq -c
