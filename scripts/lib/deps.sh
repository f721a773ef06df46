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

install_build_deps() {
    apt_install libcurl4-openssl-dev liblz4-dev libssl-dev zlib1g-dev libzstd-dev pkg-config
}

install_test_deps() {
    install_build_deps
    apt_install util-linux e2fsprogs qemu-utils
}

install_bench_deps() {
    install_build_deps
    apt_install restic borgbackup e2fsprogs time util-linux qemu-utils
}
