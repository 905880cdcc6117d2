#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ for a bounded time each, on the
# committed seed corpora, and fails if any target finds a crash.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# SECONDS per target (default 20); the targets default to all of them: jws,
# jwks, form, basic, cookie. Works on the stable toolchain (sanitizer
# `none`); installs cargo-fuzz if it is missing. The committed seeds in
# fuzz/corpus/TARGET are only read: inputs the run adds go to a scratch
# directory, so the corpus in git never grows by itself.
#
# Environment:
#   FUZZ_OUT=DIR      keep the grown corpora (DIR/corpus/TARGET) and the
#                     libFuzzer logs (DIR/TARGET.log) there; default a
#                     temporary directory removed at exit
#   FUZZ_PARALLEL=1   run the targets at the same time instead of one by one
#
# A crash leaves the input in fuzz/artifacts/TARGET/; reproduce it with
# `cargo fuzz run -s none TARGET fuzz/artifacts/TARGET/crash-…`.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-20}"
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
    targets=(jws jwks form basic cookie)
fi
case "$seconds" in
'' | *[!0-9]*)
    echo "fuzz.sh: SECONDS must be a whole number, got '$seconds'" >&2
    exit 2
    ;;
esac

# Longest input per target: past each parser's own caps (an 8 KiB token,
# a 4 KiB form value), so the refusals are reached too.
max_len() {
    case "$1" in
    jws) echo 12288 ;;
    jwks) echo 16384 ;;
    form) echo 9000 ;;
    *) echo 4096 ;;
    esac
}

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi
cargo fuzz --version

if [ -n "${FUZZ_OUT:-}" ]; then
    out="$FUZZ_OUT"
    mkdir -p "$out"
else
    out="$(mktemp -d)"
    trap 'rm -rf "$out"' EXIT
fi

# One optimised build of every target (debug assertions on, no sanitizer).
cargo fuzz build -s none

run_one() {
    local target="$1"
    local log="$out/$target.log"
    local dict=()
    mkdir -p "$out/corpus/$target" "fuzz/artifacts/$target"
    if [ -f "fuzz/dict/$target.dict" ]; then
        dict=("-dict=fuzz/dict/$target.dict")
    fi
    # -timeout: one input running 10 s is a hang; -rss_limit_mb: memory
    # growth past 1 GiB is a failure too.
    cargo fuzz run -s none "$target" "$out/corpus/$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 \
        -max_len="$(max_len "$target")" -print_final_stats=1 "${dict[@]}" \
        >"$log" 2>&1
}

# The closing figures of one target's log.
summary() {
    local target="$1" status="$2"
    local log="$out/$target.log"
    local execs rate done_line files bytes
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
    rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
    done_line="$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)"
    files="$(find "$out/corpus/$target" "fuzz/corpus/$target" -type f | wc -l)"
    bytes="$(cat "$out/corpus/$target"/* "fuzz/corpus/$target"/* 2>/dev/null | wc -c)"
    printf '%-7s %-6s executions=%s exec/s=%s corpus_files=%s corpus_bytes=%s | %s\n' \
        "$target" "$status" "${execs:-?}" "${rate:-?}" "$files" "$bytes" \
        "${done_line:-no DONE line}"
}

declare -A status
if [ "${FUZZ_PARALLEL:-0}" = 1 ]; then
    declare -A pids
    for t in "${targets[@]}"; do
        run_one "$t" &
        pids[$t]=$!
    done
    for t in "${targets[@]}"; do
        if wait "${pids[$t]}"; then status[$t]=ok; else status[$t]=FAILED; fi
    done
else
    for t in "${targets[@]}"; do
        echo "fuzz.sh: $t for ${seconds}s"
        if run_one "$t"; then status[$t]=ok; else status[$t]=FAILED; fi
    done
fi

failed=0
echo
echo "fuzz.sh: ${seconds}s per target; corpus = committed seeds + inputs added by this run"
for t in "${targets[@]}"; do
    summary "$t" "${status[$t]}"
    if [ "${status[$t]}" != ok ]; then
        failed=1
        echo "---- $t: end of the libFuzzer log ($out/$t.log)"
        tail -n 40 "$out/$t.log"
    fi
done
exit "$failed"
