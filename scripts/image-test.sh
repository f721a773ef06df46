#!/usr/bin/env bash
# Builds the Ferry image (scripts/image.sh: the release build) and runs only the image tests on it
# (Tests/FerryClusterTests/ImageTests.swift: `ferry --version` as the non-root user on a
# read-only root, the coordinator's container against the API test server and SeaweedFS, the
# agent's container backing up and restoring a loop device). scripts/test.sh, which CI runs,
# does the same within the whole suite. FERRY_IMAGE_ARCHIVE=FILE tests an archive built before.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/deps.sh
source scripts/lib/test-image.sh
[ "$(id -u)" -eq 0 ] || { echo "image-test.sh: run as root (building and running the image need it)" >&2; exit 1; }
install_test_deps
swift build --build-tests
build_test_image
# CI=true: a missing image, podman or SeaweedFS fails the tests instead of skipping them.
CI=true timeout --signal=TERM --kill-after=60 900 swift test --skip-build --filter ImageTests
