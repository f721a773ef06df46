#!/usr/bin/env bash
# Builds the Ferry image and runs the image tests on it (Tests/FerryClusterTests/ImageTests.swift:
# `ferry --version` as the non-root user on a read-only root, the coordinator's container against
# the API test server and SeaweedFS, the agent's container backing up and restoring a loop device).
#
#   scripts/image-test.sh [release|debug]
#
# release (the default) tests the image users get (scripts/image.sh: the release build); debug
# the same image from the debug build's objects, as every CI run does. CI (scripts/test.sh) runs
# the release one itself when a commit changes the image's inputs (scripts/lib/test-image.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/deps.sh
source scripts/lib/test-image.sh
mode=${1:-release}
[ "$(id -u)" -eq 0 ] || { echo "image-test.sh: run as root (building and running the image need it)" >&2; exit 1; }
install_test_deps
swift build --build-tests
build_test_image "$mode"
# CI=true: a missing image, podman or SeaweedFS fails the tests instead of skipping them.
CI=true timeout --signal=TERM --kill-after=60 900 swift test --skip-build --filter ImageTests
