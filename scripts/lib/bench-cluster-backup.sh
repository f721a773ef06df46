# Control-plane scale of a whole Backup (sourced by scripts/bench.sh --cluster-backup "10 100 1000"):
# a ClusterBackupPlan over every namespace of a synthetic cluster in the API test server
# (scripts/lib/scale-cluster.py --applications: per namespace 10 claims on 1 MiB sparse volumes,
# 10 ConfigMaps; Helm releases, KubeVirt VMs and custom resources), carried out by `ferry
# coordinator` and two `ferry agent`s (release builds, host processes) into a local repository.
# Reports the time from the Backup's creation to all its units created and to Completed, the
# coordinator's peak RSS and API requests by verb and resource (its /metrics), and the size of a
# VolumeTransfer. Results also go to $WORK/cluster-backup.csv for the plot.
bench_cluster_backup() {
    local sizes=$1 work=$2
    swift build -c release --product ferry 2>&1 | tail -1
    swift build -c release --product ferry-testkube 2>&1 | tail -1
    local bin kubectl
    bin="$(swift build -c release --show-bin-path)"
    kubectl="${FERRY_TOOLS_DIR:-/opt/ferry-tools}/kubectl-layer/kubectl/kubectl"
    echo "x,plan to units (s),backup (s),coordinator peak RSS (MiB)" > "$work/cluster-backup.csv"
    echo "| namespaces | objects | volumes | units created | Completed | coordinator peak RSS | requests (top: verb resource count) | VolumeTransfer |"
    echo "|---:|---:|---:|---:|---:|---:|---|---:|"
    for count in $sizes; do
        bench_cluster_backup_one "$count" "$work" "$bin" "$kubectl"
    done
}

bench_cluster_backup_one() {
    local count=$1 work=$2 bin=$3 kubectl=$4
    local dir="$work/cluster-$count" volumes="$work/volumes-$count" repo="$work/repo-$count" kubeconfig="$work/kubeconfig-$count"
    local logs="$work/logs-$count"
    rm -rf "$dir" "$volumes" "$repo" "$kubeconfig" "$logs"
    mkdir -p "$logs"
    python3 scripts/lib/scale-cluster.py "$dir" "$count" --nodes 2 --volumes-dir "$volumes" --applications
    local objects
    objects=$(cat "$dir"/app-*.yaml | grep -c '"apiVersion"')
    "$bin/ferry-testkube" --load "$dir" --kubeconfig "$kubeconfig" > "$logs/testkube.log" 2>&1 &
    local server=$!
    local pids=("$server")
    # shellcheck disable=SC2317
    stop_all() { kill "${pids[@]}" 2>/dev/null || true; wait "${pids[@]}" 2>/dev/null || true; }
    for _ in $(seq 1 1200); do [ -s "$kubeconfig" ] && break; sleep 0.5; done
    [ -s "$kubeconfig" ] || { echo "ferry-testkube did not start: $(tail -5 "$logs/testkube.log")" >&2; stop_all; return 1; }
    local k=("$kubectl" --kubeconfig "$kubeconfig")
    "${k[@]}" apply -f charts/ferry/crds/ > /dev/null
    "${k[@]}" wait --for condition=established crd/clusterbackupplans.ferry.dev crd/targets.ferry.dev > /dev/null
    "${k[@]}" apply -f - > /dev/null <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: ferry}
---
apiVersion: v1
kind: Secret
metadata: {name: ferry-repository, namespace: ferry}
stringData: {password: bench-password}
---
apiVersion: ferry.dev/v1alpha1
kind: Target
metadata: {name: local, namespace: ferry}
spec: {path: $repo, encryptionSecret: {name: ferry-repository}, initialize: true}
---
apiVersion: ferry.dev/v1alpha1
kind: ClusterBackupPlan
metadata: {name: scale}
spec:
  target: local
  namespaceSelector: {matchLabels: {ferry-bench: scale}}
  components: {wholeNamespace: true}
EOF
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    # FERRY_BENCH_COORDINATOR_WRAPPER: a command to run the coordinator under (heaptrack -o FILE, perf record -g -o FILE).
    # shellcheck disable=SC2086
    FERRY_CACHE_DIR="$work/cache-$count" ${FERRY_BENCH_COORDINATOR_WRAPPER:-} "$bin/ferry" coordinator --kubeconfig "$kubeconfig" --lease-namespace ferry --identity coordinator \
        --metrics-address "127.0.0.1:$port" > "$logs/coordinator.log" 2>&1 &
    local coordinator=$!
    pids+=("$coordinator")
    local node
    for node in node-0 node-1; do
        FERRY_CACHE_DIR="$work/cache-$count-$node" "$bin/ferry" agent --kubeconfig "$kubeconfig" --node "$node" --identity "agent-$node" \
            > "$logs/agent-$node.log" 2>&1 &
        pids+=($!)
    done
    local volumes_count=$((count * 10))
    local start created="" completed="" phase=""
    start=$(date +%s.%N)
    "${k[@]}" create -f - > /dev/null <<EOF
apiVersion: ferry.dev/v1alpha1
kind: Backup
metadata: {name: scale-1, namespace: ferry}
spec: {clusterPlan: scale}
EOF
    while true; do
        local now units
        now=$(date +%s.%N)
        if [ -z "$created" ]; then
            units=$("${k[@]}" get volumetransfers -n ferry -o name 2>/dev/null | wc -l)
            [ "$units" -ge "$volumes_count" ] && created=$(echo "$now - $start" | bc)
        fi
        phase=$("${k[@]}" get backup scale-1 -n ferry -o jsonpath='{.status.phase}' 2>/dev/null || true)
        case "$phase" in
            Completed | PartiallyFailed | Failed) completed=$(echo "$now - $start" | bc); break ;;
        esac
        if [ "$(echo "$now - $start > 3600" | bc)" = 1 ]; then echo "timed out after an hour (phase $phase)" >&2; break; fi
        sleep 0.5
    done
    local unit_bytes requests
    unit_bytes=$("${k[@]}" get volumetransfer scale-1-0 -n ferry -o json 2>/dev/null | wc -c)
    requests=$(curl -s "http://127.0.0.1:$port/metrics" | python3 scripts/lib/kube-requests.py --top 4)
    "${k[@]}" get backup scale-1 -n ferry -o json > "$logs/backup.json"
    local rss
    rss=$(awk '/^VmHWM:/ {print int($2 / 1024)}' "/proc/$coordinator/status")
    stop_all
    [ "$phase" = Completed ] || echo "Backup ended $phase: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["status"].get("errors"))' "$logs/backup.json")" >&2
    printf '| %d | %d | %d | %.1f s | %.1f s | %d MiB | %s | %d B |\n' "$count" "$objects" "$volumes_count" "${created:-0}" "${completed:-0}" \
        "$rss" "$requests" "$unit_bytes"
    echo "$count,${created:-0},${completed:-0},$rss" >> "$work/cluster-backup.csv"
    rm -rf "$dir" "$volumes" "$repo" "$work/cache-$count"*
}
