#!/usr/bin/env bash
# A recorded fuzzing campaign: every cargo-fuzz target (or the ones named)
# runs until it has executed RUNS inputs, one target after another on one
# core, starting from its corpus (seeds plus what earlier runs kept). A
# crash stops the campaign (libFuzzer exits non-zero and leaves the input
# in fuzz/artifacts/TARGET/).
#
# Usage: scripts/fuzz-campaign.sh [RUNS] [TARGET...]   (RUNS default 10000000)
#        FUZZ_ARGS="-max_len=4096" scripts/fuzz-campaign.sh ...   (more libFuzzer flags)
#
# Prints one Markdown table row per target for fuzz/README.md: executions,
# wall time, executions per second, edge coverage (libFuzzer's `cov:`),
# features (`ft:`), corpus size and crashes; the full libFuzzer output is
# kept in target/fuzz-campaign/TARGET.log.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10000000}
shift || true
targets=${*:-$(cargo +nightly fuzz list)}
logs=target/fuzz-campaign
mkdir -p "$logs"

cargo +nightly fuzz build -O
echo "| target | executions | time | exec/s | coverage (edges) | features | corpus | crashes |"
echo "|---|---|---|---|---|---|---|---|"
for t in $targets; do
    corpus=$PWD/fuzz/corpus/$t
    mkdir -p "$corpus"
    log=$logs/$t.log
    started=$(date +%s)
    status=0
    cargo +nightly fuzz run -O "$t" "$corpus" -- \
        -runs="$runs" -dict="$PWD/fuzz/smtp.dict" -print_final_stats=1 ${FUZZ_ARGS:-} >"$log" 2>&1 || status=$?
    took=$(( $(date +%s) - started ))
    executed=$(grep -Eo 'stat::number_of_executed_units: [0-9]+' "$log" | grep -Eo '[0-9]+$' || echo 0)
    rate=$(grep -Eo 'stat::average_exec_per_sec: +[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo 0)
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
    cov=$(grep -Eo 'cov: [0-9]+' <<<"$last" | grep -Eo '[0-9]+' || echo "?")
    ft=$(grep -Eo 'ft: [0-9]+' <<<"$last" | grep -Eo '[0-9]+' || echo "?")
    corp=$(grep -Eo 'corp: [0-9]+' <<<"$last" | grep -Eo '[0-9]+' || echo "?")
    crashes=0
    [ "$status" -eq 0 ] || crashes=1
    echo "| \`$t\` | $executed | ${took} s | $rate | $cov | $ft | $corp | $crashes |"
    if [ "$status" -ne 0 ]; then
        tail -n 40 "$log" >&2
        echo "fuzz target $t FAILED (input in fuzz/artifacts/$t/)" >&2
        exit 1
    fi
done
