#!/usr/bin/env bash
# Installs what the tests need, then runs the whole test suite (one debug build).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/deps.sh
install_test_deps
swift build --build-tests
swift test --skip-build "$@"
