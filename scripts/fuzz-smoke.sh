#!/usr/bin/env bash
# Builds every cargo-fuzz target once and runs each for a short fixed time.
#
# Usage: scripts/fuzz-smoke.sh [SECONDS_PER_TARGET]   (default 30)
# A crash fails the script (libFuzzer exits non-zero and leaves the input in
# fuzz/artifacts/TARGET/). The last line per target reports libFuzzer's own
# execution count. Needs the nightly toolchain and cargo-fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

targets=$(cargo +nightly fuzz list)
cargo +nightly fuzz build -O
summary=()
for t in $targets; do
    corpus=$PWD/fuzz/corpus/$t
    mkdir -p "$corpus"
    log=$(mktemp)
    # -dict applies to every target: reply codes and keywords help all of them.
    if ! cargo +nightly fuzz run -O "$t" "$corpus" -- \
        -max_total_time="$secs" -dict="$PWD/fuzz/smtp.dict" -print_final_stats=1 >"$log" 2>&1; then
        tail -n 60 "$log"
        echo "fuzz target $t FAILED"
        exit 1
    fi
    runs=$(grep -Eo 'Done [0-9]+ runs in [0-9]+ second' "$log" | tail -n 1 || true)
    summary+=("$t: ${runs:-no summary line}")
    rm -f "$log"
done
printf 'fuzz smoke (%ss per target):\n' "$secs"
printf '  %s\n' "${summary[@]}"
