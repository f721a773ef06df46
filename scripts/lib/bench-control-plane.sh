# Control-plane scale benchmark (sourced by scripts/bench.sh --control-plane): `ferry plan -A
# --selector tier=db` over synthetic clusters of growing size in the API test server (release
# builds of both), with the time, the planner's peak RSS and what it found.
#   NAMESPACES: the sizes, e.g. "10 100 1000" (each namespace: 10 claims bound to local volumes
#   and 10 ConfigMaps, so 1000 namespaces are 31,000 objects).
bench_control_plane() {
    local sizes=$1 work=$2
    swift build -c release --product ferry 2>&1 | tail -1
    swift build -c release --product ferry-testkube 2>&1 | tail -1
    local bin
    bin="$(swift build -c release --show-bin-path)"
    echo "| namespaces | claims | objects | plan time | planner peak RSS | volumes found |"
    echo "|---:|---:|---:|---:|---:|---:|"
    for count in $sizes; do
        local dir="$work/cluster-$count" kubeconfig="$work/kubeconfig-$count"
        rm -rf "$dir" "$kubeconfig"
        python3 scripts/lib/scale-cluster.py "$dir" "$count"
        "$bin/ferry-testkube" --load "$dir" --kubeconfig "$kubeconfig" > "$work/testkube-$count.log" 2>&1 &
        local server=$!
        for _ in $(seq 1 1200); do [ -s "$kubeconfig" ] && break; sleep 0.5; done
        [ -s "$kubeconfig" ] || { echo "ferry-testkube did not start: $(tail -5 "$work/testkube-$count.log")" >&2; kill "$server"; return 1; }
        /usr/bin/time -f "%e %M" -o "$work/t" "$bin/ferry" plan --kubeconfig "$kubeconfig" -A --selector tier=db --json > "$work/plan-$count.json"
        local seconds rss volumes
        read -r seconds rss < "$work/t"
        volumes=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['volumes']))" "$work/plan-$count.json")
        printf '| %d | %d | %d | %.1f s | %d MiB | %d |\n' "$count" $((count * 10)) $((count * 31)) "$seconds" $((rss / 1024)) "$volumes"
        kill "$server"; wait "$server" 2>/dev/null || true
        rm -rf "$dir"
    done
}
