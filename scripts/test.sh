#!/usr/bin/env bash
# Installs what the tests need, checks formatting, then runs the whole test suite: one debug
# build for the tests, and the image (the release build) for the image tests.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/deps.sh
source scripts/lib/test-image.sh
install_test_deps
scripts/lint.sh
swift build --build-tests
# The Ferry image for the image tests, built as users build it (scripts/lib/test-image.sh says
# what it costs). It needs root; without, the image tests are skipped (outside CI).
if [ "$(id -u)" -eq 0 ]; then
    build_test_image
else
    echo "not root: the image is not built and the image tests are skipped"
fi
# A hung test must fail the run with its output, not hold CI until its own limit: the cluster
# suites carry per-test time limits, and the whole run has this one.
timeout --signal=TERM --kill-after=60 "${FERRY_TEST_TIMEOUT:-1800}" swift test --skip-build "$@"
# The whole product as a user meets it (README: "Try it on a cluster in a box"): the chart
# installed, the image's containers, a backup, an incremental and a restore checked byte for byte.
if [ "${FERRY_E2E:-1}" = 1 ] && [ "$(id -u)" -eq 0 ]; then
    timeout --signal=TERM --kill-after=60 900 scripts/e2e.sh
elif [ "${FERRY_E2E:-1}" = 1 ] && [ "${CI:-}" = true ]; then
    echo "scripts/e2e.sh needs root, and CI=true runs it" >&2
    exit 1
elif [ "${FERRY_E2E:-1}" = 1 ]; then
    echo "not root: scripts/e2e.sh is skipped"
fi
