#!/usr/bin/env bash
# The whole test suite: the command README.md gives and .ci/run calls.
#
# Runs every unit, transcript, property and integration test of the workspace
# with cargo-nextest (parallel, one process per test), then the doc tests,
# which nextest does not run. Installs cargo-nextest if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo-nextest >/dev/null 2>&1; then
    cargo install cargo-nextest --locked
fi

cargo nextest run --workspace --all-targets --no-fail-fast
cargo test --workspace --doc
