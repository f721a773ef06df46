#!/usr/bin/env bash
# Builds the Ferry OCI image without a Docker engine, from Debian's packages and this repository:
#   1. the release binary: swift build -c release --product ferry --static-swift-stdlib
#   2. a minimal Debian root file system (scripts/lib/image-rootfs.sh: mmdebstrap, the runtime
#      libraries and CA certificates only, a non-root user 65532)
#   3. buildah commits the two as layers of one image and writes an OCI archive.
#
#   scripts/image.sh [--binary PATH] [--tag TAG] [--name NAME] [--output FILE]
#
#   --binary PATH   put this ferry binary in the image instead of building the release one (it
#                   must not need the Swift runtime libraries: --static-swift-stdlib)
#   --tag TAG       image tag (default: the chart's appVersion)
#   --name NAME     image name (default: ghcr.io/ferry-backup/ferry, the chart's image.repository)
#   --output FILE   the OCI archive (default: .build/image/ferry-TAG.oci.tar)
#
# Then, for example:
#   skopeo copy oci-archive:.build/image/ferry-0.1.0.oci.tar docker://registry.example.com/ferry:0.1.0
#   podman load -i .build/image/ferry-0.1.0.oci.tar
# Needs root, mmdebstrap and buildah (apt-get install mmdebstrap buildah); the build's container
# storage is private to this run and removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "image.sh: $*" >&2; exit 1; }

binary="" tag="" name="ghcr.io/ferry-backup/ferry" output=""
while [ $# -gt 0 ]; do
    case $1 in
        --binary) binary=${2:?--binary needs a path}; shift 2 ;;
        --tag) tag=${2:?--tag needs a value}; shift 2 ;;
        --name) name=${2:?--name needs a value}; shift 2 ;;
        --output) output=${2:?--output needs a file}; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
done
[ "$(id -u)" -eq 0 ] || die "run as root (mmdebstrap and buildah write files as their owners)"
for tool in mmdebstrap buildah; do
    command -v "$tool" >/dev/null || die "$tool is not installed (apt-get install mmdebstrap buildah)"
done
version=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' charts/ferry/Chart.yaml)
[ -n "$version" ] || die "no appVersion in charts/ferry/Chart.yaml"
tag=${tag:-$version}
output=${output:-.build/image/ferry-$tag.oci.tar}

if [ -z "$binary" ]; then
    echo "image.sh: building the release binary"
    swift build -c release --product ferry --static-swift-stdlib
    binary="$(swift build -c release --product ferry --static-swift-stdlib --show-bin-path)/ferry"
fi
[ -x "$binary" ] || die "no executable ferry binary at $binary"
if ldd "$binary" | grep -q libswiftCore; then
    die "$binary links the Swift runtime dynamically; build it with --static-swift-stdlib"
fi

work=$(mktemp -d /tmp/ferry-image.XXXXXX)
ctr="" base=""
cleanup() {
    if [ -n "$ctr" ]; then buildah "${storage[@]}" rm "$ctr" >/dev/null 2>&1 || true; fi
    buildah "${storage[@]}" rm --all >/dev/null 2>&1 || true
    buildah "${storage[@]}" rmi --all --force >/dev/null 2>&1 || true
    rm -rf "$work"
}
# buildah's storage for this run only (vfs: no overlay mounts needed), removed at the end.
storage=(--root "$work/storage" --runroot "$work/run" --storage-driver vfs)
trap cleanup EXIT

echo "image.sh: root file system (Debian ${FERRY_IMAGE_SUITE:-bookworm})"
scripts/lib/image-rootfs.sh "$work/rootfs"

# The binary's libraries must all be in the root file system.
missing=$(ldd "$binary" | awk '/=>/ {print $1}' | while read -r library; do
    found=$(find "$work/rootfs/lib" "$work/rootfs/usr/lib" -name "$library" -print -quit 2>/dev/null)
    [ -n "$found" ] || echo "$library"
done)
[ -z "$missing" ] || die "the root file system lacks libraries that $binary links: $missing"

created=$(git log -1 --format=%cI 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)

echo "image.sh: layer 1, the root file system"
base=$(buildah "${storage[@]}" from scratch)
ctr=$base
mount=$(buildah "${storage[@]}" mount "$ctr")
cp -a "$work/rootfs/." "$mount/"
buildah "${storage[@]}" umount "$ctr" >/dev/null
buildah "${storage[@]}" commit --quiet --rm "$ctr" ferry-rootfs >/dev/null
ctr=""

echo "image.sh: layer 2, the ferry binary"
ctr=$(buildah "${storage[@]}" from ferry-rootfs)
mount=$(buildah "${storage[@]}" mount "$ctr")
# Debug information is left out; the symbols stay for backtraces.
strip --strip-debug -o "$mount/usr/local/bin/ferry" "$binary"
chmod 0755 "$mount/usr/local/bin/ferry"
buildah "${storage[@]}" umount "$ctr" >/dev/null
buildah "${storage[@]}" config \
    --user 65532:65532 --workingdir /home/ferry \
    --env PATH=/usr/local/bin:/usr/bin:/bin --env HOME=/home/ferry \
    --entrypoint '["/usr/local/bin/ferry"]' --cmd '["--help"]' \
    --label org.opencontainers.image.title=ferry \
    --label org.opencontainers.image.description="Kubernetes-native backup (coordinator, agent and CLI)" \
    --label org.opencontainers.image.version="$tag" \
    --label org.opencontainers.image.revision="$revision" \
    --label org.opencontainers.image.created="$created" \
    --label org.opencontainers.image.base.name="debian:${FERRY_IMAGE_SUITE:-bookworm} (mmdebstrap, runtime libraries only)" \
    "$ctr"
mkdir -p "$(dirname "$output")"
rm -f "$output"
buildah "${storage[@]}" commit --quiet --format oci --rm "$ctr" "oci-archive:$output:$name:$tag" >/dev/null
ctr=""
echo "image.sh: wrote $output ($name:$tag, $(du -h "$output" | cut -f1))"
