#!/usr/bin/env bash
# Formatting check, run by scripts/test.sh (so in CI): the toolchain's `swift format` with the
# repository's .swift-format finds nothing to change, and no line is over 140 columns.
# Generated gRPC code (Sources/FerryCSI/Generated) is left as generated.
#   scripts/lint.sh          check
#   scripts/lint.sh --fix    format in place, then check
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.swift' | grep -v '^Sources/FerryCSI/Generated/')
if [ "${1:-}" = "--fix" ]; then swift format format --in-place --parallel "${files[@]}"; fi
swift format lint --strict --parallel "${files[@]}"
long=$(awk 'length > 140 { print FILENAME ":" FNR ": " length " columns" }' "${files[@]}")
if [ -n "$long" ]; then
    echo "lines over 140 columns (split them; string literals too):" >&2
    echo "$long" >&2
    exit 1
fi
