#!/usr/bin/env bash
# The whole test suite: the command README.md gives and .ci/run calls.
#
#   scripts/test.sh
#
# 1. installs the real test servers if they are missing (scripts/install-test-deps.sh,
#    idempotent; needs root for apt-get) and cargo-nextest;
# 2. starts the project's private Postfix, smtp-sink, Dovecot LMTP and aiosmtpd
#    instances on loopback (scripts/test-servers.sh) and stops them on exit;
# 3. runs every unit, transcript, property and integration test of the workspace
#    with cargo-nextest (native-tls, the default TLS backend), the TLS tests a
#    second time with rustls as the only backend, then the doc tests (which
#    nextest does not run).
#
# Tests that need a server read the SMTP_TEST_* variables printed by
# `scripts/test-servers.sh env`; under CI=true a missing server fails the test.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo-nextest >/dev/null 2>&1; then
    cargo install cargo-nextest --locked
fi

scripts/install-test-deps.sh
scripts/test-servers.sh start
trap 'scripts/test-servers.sh stop >/dev/null 2>&1 || true' EXIT
eval "$(scripts/test-servers.sh env)"

# Both runners' own output goes through; their counts are added up into one
# closing line, `tests: N passed, N failed`, which .ci/run repeats at its end.
summary=${TEST_SUMMARY_FILE:-target/test-summary.txt}
mkdir -p "$(dirname "$summary")"
log=$(mktemp)
trap 'rm -f "$log"; scripts/test-servers.sh stop >/dev/null 2>&1 || true' EXIT
status=0
cargo nextest run --config-file scripts/nextest.toml --workspace --all-targets --no-fail-fast 2>&1 | tee "$log" || status=1
# The TLS tests again with rustls as the only backend (README "TLS backends"):
# the real-server TLS tests (STARTTLS, implicit TLS, wrong CA, wrong name, the
# caller's own connector), the hostile suite's STARTTLS cases, SCRAM -PLUS
# against the scripted peer, Exim's STARTTLS, the send examples' --ca-file, the
# adapters' and smtp-tls's unit tests. Only these binaries, to keep CI short.
rustls_tests=(--lib --test servers --test real_servers --test hostile --test scram --test exim --test send_example)
cargo nextest run --config-file scripts/nextest.toml -p smtp-blocking -p smtp-tokio -p smtp-tls \
    --no-default-features --features rustls,builder "${rustls_tests[@]}" --no-fail-fast 2>&1 | tee -a "$log" || status=1
# smtp-tls with Mozilla's roots as well (rustls-webpki-roots): its verifier
# tests then also run against a full root store. Only smtp-tls is rebuilt.
cargo nextest run --config-file scripts/nextest.toml -p smtp-tls --features rustls-native-roots,rustls-webpki-roots \
    --no-fail-fast 2>&1 | tee -a "$log" || status=1
# The `tracing` feature's own test (spans, events, and the secrets sweep over
# the subscriber's output); only smtp-proto and this one test are rebuilt.
cargo nextest run --config-file scripts/nextest.toml -p smtp-client-proto --features tracing --test tracing --no-fail-fast 2>&1 | tee -a "$log" || status=1
cargo test --workspace --doc 2>&1 | tee -a "$log" || status=1
passed=0
failed=0
skipped=0
# The many-sessions example (a third driver: 200 sessions on one thread over
# mio) against the project's smtp-sink; it exits 0 only when all 10,000
# messages were accepted. Counted as one test.
if cargo run -q -p smtp-client-proto --example many_sessions -- \
    "$SMTP_TEST_HOST:$SMTP_TEST_SINK_PORT" 200 50 2>&1 | tee -a "$log"; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
    status=1
fi
# nextest: "Summary [ 22.7s] 515 tests run: 515 passed, 0 skipped" (failures: "N failed"),
# once per nextest run
while read -r line; do
    p=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+' || echo 0)
    f=$(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+' || echo 0)
    s=$(grep -oE '[0-9]+ skipped' <<<"$line" | grep -oE '[0-9]+' || echo 0)
    passed=$((passed + p))
    failed=$((failed + f))
    skipped=$((skipped + s))
done < <(grep -E '^ *Summary \[' "$log")
# cargo test: "test result: ok. 4 passed; 0 failed; 1 ignored; ..." once per doc-test crate
while read -r p f i; do
    passed=$((passed + p))
    failed=$((failed + f))
    skipped=$((skipped + i))
done < <(grep -E '^test result:' "$log" | sed -E 's/.* ([0-9]+) passed; ([0-9]+) failed; ([0-9]+) ignored.*/\1 \2 \3/')
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
    failed=1 # a runner failed without reporting a count (e.g. a build error)
fi
echo "tests: $passed passed, $failed failed, $skipped skipped" | tee "$summary"
exit "$status"
