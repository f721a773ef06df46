#!/usr/bin/env bash
# Installs what the tests need, checks formatting, then runs the whole test suite (one debug build).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/deps.sh
install_test_deps
scripts/lint.sh
swift build --build-tests
# A hung test must fail the run with its output, not hold CI until its own limit: the cluster
# suites carry per-test time limits, and the whole run has this one.
timeout --signal=TERM --kill-after=60 "${FERRY_TEST_TIMEOUT:-1800}" swift test --skip-build "$@"
