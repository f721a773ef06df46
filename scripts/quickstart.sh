#!/usr/bin/env bash
# Quick start: installs what is missing, builds Ferry (release), then runs a real
# backup -> incremental -> restore -> verify of a generated sample disk image into a
# local-directory repository, printing each step.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/deps.sh

step() { printf '\n==> %s\n' "$*"; }

step "Installing missing system packages"
install_build_deps
if ! command -v swift >/dev/null; then
    echo "Swift 6.1 or later is required: see https://www.swift.org/install/linux/" >&2
    exit 1
fi

step "Building ferry (release)"
swift build -c release --product ferry 2>&1 | tail -1
FERRY="$(swift build -c release --show-bin-path)/ferry"

WORK="${FERRY_QUICKSTART_DIR:-$PWD/.quickstart}"
rm -rf "$WORK"; mkdir -p "$WORK"
REPO="$WORK/repo"
IMAGE="$WORK/sample-disk.img"
head -c 24 /dev/urandom | base64 > "$WORK/password"
chmod 600 "$WORK/password"
export FERRY_REPOSITORY="$REPO"
PW=(--password-file "$WORK/password")

step "Generating a 512 MiB sample disk image (sparse, with random, text and zero regions)"
truncate -s 512M "$IMAGE"
head -c 64M /dev/urandom | dd of="$IMAGE" bs=1M seek=0 conv=notrunc status=none
for i in $(seq 1 40); do printf 'log line %06d: the quick brown fox jumps over the lazy dog\n' $(seq $((i*1000)) $((i*1000+20000))); done \
    | head -c 48M | dd of="$IMAGE" bs=1M seek=128 conv=notrunc status=none
head -c 16M /dev/urandom | dd of="$IMAGE" bs=1M seek=400 conv=notrunc status=none
echo "$IMAGE: $(du -h --apparent-size "$IMAGE" | cut -f1) apparent, $(du -h "$IMAGE" | cut -f1) allocated"

step "Creating an encrypted repository at $REPO"
"$FERRY" repo init "${PW[@]}"

step "Full backup"
"$FERRY" backup "$IMAGE" --name sample-disk "${PW[@]}" --json | tee "$WORK/full.json"

step "Changing 8 MiB of the disk, then an incremental backup (--parent auto)"
head -c 8M /dev/urandom | dd of="$IMAGE" bs=1M seek=200 conv=notrunc status=none
"$FERRY" backup "$IMAGE" --name sample-disk --parent auto "${PW[@]}" --json | tee "$WORK/incremental.json"

step "Snapshots"
"$FERRY" snapshots "${PW[@]}"

step "Restoring the latest snapshot"
"$FERRY" restore latest "$WORK/restored.img" "${PW[@]}"

step "Verifying"
if cmp "$IMAGE" "$WORK/restored.img"; then
    echo "restored image is byte-identical to the source"
else
    echo "restored image differs from the source" >&2
    exit 1
fi
"$FERRY" check --read-data "${PW[@]}"
"$FERRY" stats "${PW[@]}"

step "Done. Try it yourself:"
cat <<MSG
  export FERRY_REPOSITORY=$REPO
  $FERRY snapshots --password-file $WORK/password
MSG
