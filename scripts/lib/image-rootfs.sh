#!/usr/bin/env bash
# Builds the root file system of the Ferry image into an empty directory: Debian's runtime
# libraries that the ferry binary links (and their dependencies), the CA certificates, a non-root
# user, and nothing else: no shell, no package manager. scripts/image.sh and deploy/Dockerfile
# both run it, so the two images have the same base distribution and packages.
#
#   scripts/lib/image-rootfs.sh DIRECTORY
#
# Needs root (mmdebstrap extracts the packages as their owners) and Debian's package mirror.
# FERRY_IMAGE_SUITE (default bookworm, the release the binary is built on: its glibc must not be
# newer than the image's; the package names below are bookworm's) and FERRY_IMAGE_MIRROR
# (default http://deb.debian.org) choose the release and mirror.
set -euo pipefail

# The packages of the runtime libraries `ldd ferry` lists (libcurl, liblz4, libzstd, OpenSSL,
# zlib, libfuse3 for `ferry mount`, and libstdc++, which the statically linked Swift runtime and
# Foundation need) and the CA certificates for TLS to S3 and the API server. scripts/image.sh
# checks that every library the binary links is there.
# apt adds their dependencies (libc6, libgcc-s1, libcurl's own libraries, and openssl and
# debconf, which ca-certificates depends on for its maintainer script, never run here).
FERRY_IMAGE_PACKAGES=(libcurl4 liblz4-1 libzstd1 libssl3 zlib1g libfuse3-3 libstdc++6 ca-certificates)
# The image's default user: the coordinator runs as it; the chart runs the agent as root.
FERRY_IMAGE_UID=65532

main() {
    local target=${1:?usage: image-rootfs.sh DIRECTORY}
    local suite=${FERRY_IMAGE_SUITE:-bookworm}
    local mirror=${FERRY_IMAGE_MIRROR:-http://deb.debian.org}
    command -v mmdebstrap >/dev/null || { echo "image-rootfs: mmdebstrap is not installed (apt-get install mmdebstrap)" >&2; exit 1; }
    [ "$(id -u)" -eq 0 ] || { echo "image-rootfs: run as root (mmdebstrap extracts files as their owners)" >&2; exit 1; }
    if [ -e "$target" ] && [ -n "$(ls -A "$target")" ]; then
        echo "image-rootfs: $target is not empty" >&2
        exit 1
    fi
    local packages
    packages=$(IFS=,; echo "${FERRY_IMAGE_PACKAGES[*]}")
    local sources=(
        "deb $mirror/debian $suite main"
        "deb $mirror/debian $suite-updates main"
        "deb $mirror/debian-security $suite-security main"
    )
    # The extract variant unpacks the packages (no maintainer scripts, no Essential set). The
    # hook records them in dpkg's status file, so that image scanners see what is installed.
    mmdebstrap --quiet --mode=root --variant=extract --format=directory --include="$packages" \
        --skip=chroot/mount \
        --extract-hook='for deb in "$1"/var/cache/apt/archives/*.deb; do
                dpkg-deb --field "$deb" | sed "/^Package:/a Status: install ok installed"; echo; done > "$1/var/lib/dpkg/status"' \
        "$suite" "$target" "${sources[@]}"
    configure "$target"
}

# What the maintainer scripts and the base-files/base-passwd packages would have done, as far
# as the image needs it, and no host files (resolv.conf, hostname: the runtime provides them).
configure() {
    local root=$1
    # update-ca-certificates: the bundle that libcurl and OpenSSL read.
    mkdir -p "$root/etc/ssl/certs"
    find "$root/usr/share/ca-certificates" -name '*.crt' -print0 | LC_ALL=C sort -z | xargs -0 cat > "$root/etc/ssl/certs/ca-certificates.crt"
    [ -s "$root/etc/ssl/certs/ca-certificates.crt" ] || { echo "image-rootfs: no CA certificates were extracted" >&2; exit 1; }
    cat > "$root/etc/passwd" <<EOF
root:x:0:0:root:/root:/usr/sbin/nologin
ferry:x:$FERRY_IMAGE_UID:$FERRY_IMAGE_UID:Ferry:/home/ferry:/usr/sbin/nologin
EOF
    cat > "$root/etc/group" <<EOF
root:x:0:
ferry:x:$FERRY_IMAGE_UID:
EOF
    printf 'passwd: files\ngroup: files\nhosts: files dns\n' > "$root/etc/nsswitch.conf"
    printf '127.0.0.1 localhost\n::1 localhost\n' > "$root/etc/hosts"
    rm -rf "$root/etc/resolv.conf" "$root/etc/hostname" "$root/etc/apt" "$root/etc/fstab"
    mkdir -p "$root/root" "$root/home/ferry" "$root/tmp" "$root/var/cache/ferry" "$root/usr/local/bin"
    chmod 0700 "$root/root"
    chmod 1777 "$root/tmp"
    chown "$FERRY_IMAGE_UID:$FERRY_IMAGE_UID" "$root/home/ferry" "$root/var/cache/ferry"
    # Documentation other than the licences, manual pages and translations are not needed.
    find "$root/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete
    find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
    rm -rf "$root/usr/share/man" "$root/usr/share/info" "$root/usr/share/locale" "$root/usr/share/lintian" \
        "$root/usr/share/bash-completion" "$root/var/cache/apt" "$root/var/lib/apt/lists" "$root/var/log"
    # The device nodes mmdebstrap made belong to the runtime, which mounts its own /dev.
    rm -rf "$root/dev"
    mkdir -p "$root/dev" "$root/proc" "$root/sys"
}

main "$@"
