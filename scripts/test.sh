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
#    with cargo-nextest, then the doc tests (which nextest does not run).
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

cargo nextest run --workspace --all-targets --no-fail-fast
cargo test --workspace --doc
