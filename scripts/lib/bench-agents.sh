# Agents at scale (issue 14), sourced by scripts/bench.sh --agents PARTS: the API test server
# (ferry-testkube, release build), `ferry coordinator` and N `ferry agent` processes on this
# host, all on 127.0.0.1, with the volumes as local Block PersistentVolumes on node-1 whose
# devices are image files (scripts/lib/agents-volume.py writes them; every agent runs "on"
# node-1 and the agents claim units with conditional status writes).
#
#   speedup   one volume (FERRY_BENCH_AGENTS_VOLUME, default 4G, half its blocks random) split
#             into 8 ranges (BackupPlan spec.parallelism) stored by 1, 2 and 4 agents, each in a
#             cgroup v1 CPU quota of half a core (FERRY_BENCH_AGENT_QUOTA, default 50000 of
#             100000 us: 4 agents fit this 2-core machine); a fresh repository per count, local
#             directory and S3 (SeaweedFS). Checks the block map equals the 1-agent backup's
#             (equal repository stats, and a CLI backup of the image into each repository adds
#             nothing) and that the restore is byte-identical.
#   memory    the agent's peak RSS (VmHWM, default settings, no quota) for dense volumes of
#             FERRY_BENCH_AGENTS_DENSE (default "1G 4G 16G 32G") and a 1 TiB sparse volume with
#             16 GiB of data; one fresh agent per volume.
#   many      FERRY_BENCH_AGENTS_MANY (default 1000) volumes of 64 MiB (1 MiB of data each)
#             through 2 agents, against one volume of the same total size holding the same data.
#
# Expects from bench.sh: WORK. Writes CSVs for scripts/lib/plot-svg.py into $WORK.

AGENTS_PIDS=()
AGENTS_CGROUPS=()
AGENTS_QUOTA=${FERRY_BENCH_AGENT_QUOTA:-50000}
AGENTS_PERIOD=100000
AGENTS_SHARES=${FERRY_BENCH_AGENT_SHARES:-8192}
AGENTS_PASSWORD=bench-password

agents_cleanup() {
    local index pid group
    for ((index = ${#AGENTS_PIDS[@]} - 1; index >= 0; index--)); do
        pid=${AGENTS_PIDS[$index]}
        kill -TERM "$pid" 2>/dev/null || continue
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    AGENTS_PIDS=()
    for group in "${AGENTS_CGROUPS[@]}"; do rmdir "$group" 2>/dev/null || true; done
    AGENTS_CGROUPS=()
}

# agents_cgroup NAME: a cgroup v1 CPU group with the quota; prints its directory (the caller
# records it in AGENTS_CGROUPS for agents_cleanup).
agents_cgroup() {
    local group="/sys/fs/cgroup/cpu/$1"
    mkdir -p "$group"
    echo "$AGENTS_PERIOD" > "$group/cpu.cfs_period_us"
    echo "$AGENTS_QUOTA" > "$group/cpu.cfs_quota_us"
    # The quota caps the agent at half a core; the weight lets it have that half core on a
    # machine that others load (the default 1024 is one runnable process's share).
    echo "$AGENTS_SHARES" > "$group/cpu.shares"
    echo "$group"
}

# agents_cluster DIR VOLUMES-FILE TARGET-ARGS...: starts ferry-testkube with the manifests
# (scripts/lib/agents-cluster.py) and the coordinator; sets AGENTS_KUBECONFIG.
agents_cluster() {
    local dir=$1 volumes=$2; shift 2
    rm -rf "$dir"; mkdir -p "$dir/manifests" "$dir/logs"
    cp charts/ferry/crds/*.yaml "$dir/manifests/"
    python3 scripts/lib/agents-cluster.py "$dir/manifests" --volumes "$volumes" --password "$AGENTS_PASSWORD" "$@"
    AGENTS_KUBECONFIG="$dir/kubeconfig"
    "$AGENTS_BIN/ferry-testkube" --port 0 --load "$dir/manifests" --kubeconfig "$AGENTS_KUBECONFIG" > "$dir/logs/testkube.log" 2>&1 &
    AGENTS_SERVER_PID=$!
    AGENTS_PIDS+=($!)
    for _ in $(seq 1 1200); do [ -s "$AGENTS_KUBECONFIG" ] && break; sleep 0.2; done
    [ -s "$AGENTS_KUBECONFIG" ] || { echo "ferry-testkube did not start: $(tail -5 "$dir/logs/testkube.log")" >&2; return 1; }
    "$AGENTS_BIN/ferry" coordinator --kubeconfig "$AGENTS_KUBECONFIG" --lease-namespace ferry --identity coordinator \
        > "$dir/logs/coordinator.log" 2>&1 &
    AGENTS_COORDINATOR_PID=$!
    AGENTS_PIDS+=($!)
}

# agents_start DIR N [quota]: N agents on node-1, each with its own cache; with "quota", each in
# a cgroup of its own with the CPU quota (the agent's pid is written before it execs ferry).
agents_start() {
    local dir=$1 count=$2 quota=${3:-} i group
    for i in $(seq 1 "$count"); do
        mkdir -p "$dir/cache-$i"
        group=""
        if [ "$quota" = quota ]; then
            group=$(agents_cgroup "ferry-bench-agent-$i")
            AGENTS_CGROUPS+=("$group")   # agents_cgroup ran in a subshell
        fi
        FERRY_CACHE_DIR="$dir/cache-$i" sh -c '[ -z "$1" ] || echo $$ > "$1/cgroup.procs"; shift; exec "$@"' _ "$group" \
            "$AGENTS_BIN/ferry" agent --kubeconfig "$AGENTS_KUBECONFIG" --node node-1 --identity "agent-$i" --heartbeat 2 \
            > "$dir/logs/agent-$i.log" 2>&1 &
        AGENTS_PIDS+=($!)
        AGENTS_AGENT_PIDS+=($!)
    done
}

# agents_cpu PID...: the processes' CPU seconds (user + system), summed.
agents_cpu() {
    local pid total=0
    for pid in "$@"; do total=$(awk -v t="$total" '{ printf "%.1f", t + ($14 + $15) / 100 }' "/proc/$pid/stat"); done
    echo "$total"
}

# agents_backup DIR NAME: creates Backup NAME of plan db and waits; prints the seconds.
agents_backup() {
    local dir=$1 name=$2 start end
    start=$(date +%s.%N)
    "$AGENTS_BIN/ferry" cluster backup db -n db --name "$name" --wait --kubeconfig "$AGENTS_KUBECONFIG" > "$dir/backup-$name.out" 2>&1 ||
        { echo "backup $name failed: $(tail -5 "$dir/backup-$name.out"); coordinator: $(tail -5 "$dir/logs/coordinator.log")" >&2; return 1; }
    end=$(date +%s.%N)
    awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }'
}

# agents_stats REPO-ARGS...: the repository's chunk count, their bytes and the logical bytes
# (ferry stats --json; packs and index objects are left out: each agent's session writes its own,
# and so are stored sizes: metadata chunks hold times, a few bytes' difference once compressed).
agents_stats() {
    FERRY_PASSWORD=$AGENTS_PASSWORD "$AGENTS_BIN/ferry" stats --json "$@" | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(" ".join(str(s[k]) for k in ("chunks", "chunkBytes", "logicalBytes")))'
}

# FERRY_BENCH_BIN: a directory with release builds of ferry and ferry-testkube to use as they are.
agents_build() {
    if [ -n "${FERRY_BENCH_BIN:-}" ]; then AGENTS_BIN=$FERRY_BENCH_BIN; return 0; fi
    swift build -c release --product ferry 2>&1 | tail -1
    swift build -c release --product ferry-testkube 2>&1 | tail -1
    AGENTS_BIN="$(swift build -c release --show-bin-path)"
}

# The S3 server stands for another machine: as much CPU as the agents' cgroups are given.
agents_s3_cgroup() {
    mkdir -p /sys/fs/cgroup/cpu/ferry-bench-s3
    echo "$AGENTS_SHARES" > /sys/fs/cgroup/cpu/ferry-bench-s3/cpu.shares
    echo "$1" > /sys/fs/cgroup/cpu/ferry-bench-s3/cgroup.procs
}

agents_s3_start() {
    s3_start_weed "$1" ferry agents_s3_cgroup || return 1
    AGENTS_WEED_PID=$WEED_PID
}

# agents_speedup_on KIND IMAGE: KIND local or s3; one table row per agent count.
agents_speedup_on() {
    local kind=$1 image=$2 count repo_args target_args seconds base_seconds="" base_stats="" stats added dir
    for count in 1 2 4; do
        dir="$WORK/speedup-$kind-$count"
        if [ "$kind" = local ]; then
            rm -rf "$WORK/repo-$count"
            repo_args=(--repo "$WORK/repo-$count")
            target_args=(--path "$WORK/repo-$count")
        else
            repo_args=(--repo "s3://ferry/agents-$count")
            target_args=(--s3 "$S3_ENDPOINT,ferry,agents-$count")
        fi
        FERRY_PASSWORD=$AGENTS_PASSWORD "$AGENTS_BIN/ferry" repo init "${repo_args[@]}" --block-map-page-entries 256 > /dev/null
        echo "$image" > "$WORK/volumes.txt"
        agents_cluster "$dir" "$WORK/volumes.txt" "${target_args[@]}" --ranges 8 --minimum-range-size 256Mi
        AGENTS_AGENT_PIDS=()
        agents_start "$dir" "$count" quota
        sleep 2
        seconds=$(agents_backup "$dir" "b$count")
        local cpu=""
        for pid in "${AGENTS_AGENT_PIDS[@]}"; do cpu="$cpu $(awk '{printf "%.1f", ($14 + $15) / 100}' "/proc/$pid/stat")"; done
        agents_cleanup
        stats=$(agents_stats "${repo_args[@]}")
        # A CLI backup of the image into the same repository: no new block if the agents' chunks are the image's.
        added=$(FERRY_PASSWORD=$AGENTS_PASSWORD "$AGENTS_BIN/ferry" backup "$image" "${repo_args[@]}" --name check --json |
            python3 -c 'import json, sys; r = json.load(sys.stdin); print(r["newBlocks"])')
        # Restored into memory (/dev/shm): this disk writes 4 GiB in about a minute.
        local out=/dev/shm/ferry-bench-agents-out.img
        rm -f "$out"
        FERRY_PASSWORD=$AGENTS_PASSWORD "$AGENTS_BIN/ferry" restore "$(sed -n '$p' "$dir/backup-b$count.out")" "$out" \
            --volume db/data-0 "${repo_args[@]}" > /dev/null
        local identical=yes same=yes
        cmp -s "$image" "$out" || identical=NO
        rm -f "$out"
        [ -n "$base_seconds" ] || { base_seconds=$seconds; base_stats=$stats; }
        [ "$stats" = "$base_stats" ] && [ "$added" = 0 ] || same=NO
        printf '| %s | %d | %.1f s | %.2fx | %s | %s | %s |\n' "$kind" "$count" "$seconds" \
            "$(awk -v a="$base_seconds" -v b="$seconds" 'BEGIN { print a / b }')" "$cpu" "$same (${added} new blocks)" "$identical"
        printf '%s,%s,%s\n' "$kind" "$count" "$seconds" >> "$WORK/speedup.tsv"
        [ "$kind" = local ] && rm -rf "$WORK/repo-$count"
        rm -rf "$dir/cache-"*
    done
}

bench_agents_speedup() {
    local image="$WORK/speedup.img"
    echo "writing the volume image (${FERRY_BENCH_AGENTS_VOLUME:-4G}, half its blocks random)..."
    python3 scripts/lib/agents-volume.py "$image" --size "${FERRY_BENCH_AGENTS_VOLUME:-4G}" --random 50 --seed 14
    echo "$image: $(du -h --apparent-size "$image" | cut -f1), $(lz4 -1 -c "$image" | wc -c | awk '{ printf "%.0f", $1 / 1048576 }') MiB after lz4 -1"
    cat "$image" > /dev/null
    : > "$WORK/speedup.tsv"
    echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "| repository | agents | backup time | speed-up | CPU s per agent | same chunks as 1 agent | restore identical |"
    echo "|---|---:|---:|---:|---:|---|---|"
    agents_speedup_on local "$image"
    if agents_s3_start "$WORK/s3"; then
        export AWS_ACCESS_KEY_ID=$S3_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET AWS_REGION=us-east-1 FERRY_S3_ENDPOINT=$S3_ENDPOINT
        agents_speedup_on s3 "$image"
        kill "$AGENTS_WEED_PID" 2>/dev/null; wait "$AGENTS_WEED_PID" 2>/dev/null || true
        rmdir /sys/fs/cgroup/cpu/ferry-bench-s3 2>/dev/null || true
        rm -rf "$WORK/s3"
    fi
    echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
    python3 - "$WORK/speedup.tsv" "$WORK/speedup.csv" <<'PY'
import sys
rows = [l.strip().split(',') for l in open(sys.argv[1]) if l.strip()]
times = {(k, int(n)): float(s) for k, n, s in rows}
kinds = [k for k in ("local", "s3") if (k, 1) in times]
with open(sys.argv[2], "w") as out:
    out.write("x," + ",".join(f"{k} repository" for k in kinds) + ",ideal\n")
    for n in (1, 2, 4):
        out.write(f"{n}," + ",".join(f"{times[(k, 1)] / times[(k, n)]:.2f}" if (k, n) in times else "" for k in kinds) + f",{n}\n")
PY
    rm -f "$image"
}

# agents_memory_one LABEL IMAGE: one agent, default settings, one volume; prints a row.
agents_memory_one() {
    local label=$1 image=$2 dir="$WORK/memory" seconds rss data
    rm -rf "$WORK/repo-memory"
    FERRY_PASSWORD=$AGENTS_PASSWORD "$AGENTS_BIN/ferry" repo init --repo "$WORK/repo-memory" > /dev/null
    echo "$image" > "$WORK/volumes.txt"
    agents_cluster "$dir" "$WORK/volumes.txt" --path "$WORK/repo-memory"
    AGENTS_AGENT_PIDS=()
    agents_start "$dir" 1
    sleep 2
    seconds=$(agents_backup "$dir" mem)
    rss=$(awk '/VmHWM/ { print int($2 / 1024) }' "/proc/${AGENTS_AGENT_PIDS[0]}/status")
    agents_cleanup
    data=$(du -k "$image" | awk '{ printf "%.1f", $1 / 1048576 }')
    local size_gib
    size_gib=$(stat -c %s "$image" | awk '{ printf "%g", $1 / 1073741824 }')
    printf '| %s | %s GiB | %s GiB | %.1f s | %d MiB | %s |\n' "$label" "$size_gib" "$data" "$seconds" "$rss" \
        "$(du -sh "$WORK/repo-memory" | cut -f1)"
    printf '%s,%s,%s\n' "$label" "$size_gib" "$rss" >> "$WORK/memory.tsv"
    rm -rf "$WORK/repo-memory" "$dir"
}

bench_agents_memory() {
    local size image
    : > "$WORK/memory.tsv"
    echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "| volume | size | data | backup time | agent peak RSS | repository |"
    echo "|---|---:|---:|---:|---:|---:|"
    for size in ${FERRY_BENCH_AGENTS_DENSE:-1G 4G 16G 32G}; do
        image="$WORK/dense-$size.img"
        python3 scripts/lib/agents-volume.py "$image" --size "$size" --seed 7
        agents_memory_one dense "$image"
        rm -f "$image"
    done
    image="$WORK/sparse-1T.img"
    python3 scripts/lib/agents-volume.py "$image" --size 1T --data 16G --extent 64M --seed 8
    agents_memory_one sparse "$image"
    rm -f "$image"
    echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
    python3 - "$WORK/memory.tsv" "$WORK/memory.csv" <<'PY'
import sys
rows = [l.strip().split(',') for l in open(sys.argv[1]) if l.strip()]
with open(sys.argv[2], "w") as out:
    out.write("x,dense volume,1 TiB sparse (16 GiB data),goal\n")
    for label, size, rss in sorted(rows, key=lambda r: float(r[1])):
        out.write(f"{size},{rss if label == 'dense' else ''},{rss if label == 'sparse' else ''},256\n")
PY
}

bench_agents_many() {
    local count=${FERRY_BENCH_AGENTS_MANY:-1000} dir i seconds
    mkdir -p "$WORK/many"
    echo "writing $count volumes of 64 MiB (1 MiB of data each) and one of $((count * 64)) MiB with the same data..."
    python3 - "$WORK/many" "$count" <<'PY'
import importlib.util, sys
spec = importlib.util.spec_from_file_location("volume", "scripts/lib/agents-volume.py")
volume = importlib.util.module_from_spec(spec)
spec.loader.exec_module(volume)
directory, count = sys.argv[1], int(sys.argv[2])
with open(f"{directory}/one.img", "wb") as one, open(f"{directory}/volumes.txt", "w") as listing:
    one.truncate(count * 64 << 20)
    for i in range(count):
        data = volume.block(1000 + i, 0, 0)
        with open(f"{directory}/v{i}.img", "wb") as out:
            out.truncate(64 << 20)
            out.write(data)
        one.seek(i * 64 << 20)
        one.write(data)
        listing.write(f"{directory}/v{i}.img\n")
PY
    echo "$WORK/many/one.img" > "$WORK/many/one.txt"
    echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "| backup | volumes | agents | total time | per volume | CPU s: API server | coordinator | agents |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
    for shape in many one; do
        dir="$WORK/many-$shape"
        rm -rf "$WORK/repo-many"
        FERRY_PASSWORD=$AGENTS_PASSWORD "$AGENTS_BIN/ferry" repo init --repo "$WORK/repo-many" > /dev/null
        if [ "$shape" = many ]; then
            agents_cluster "$dir" "$WORK/many/volumes.txt" --path "$WORK/repo-many"
        else
            agents_cluster "$dir" "$WORK/many/one.txt" --path "$WORK/repo-many"
        fi
        AGENTS_AGENT_PIDS=()
        agents_start "$dir" 2
        sleep 2
        local before_server before_coordinator
        before_server=$(agents_cpu "$AGENTS_SERVER_PID")
        before_coordinator=$(agents_cpu "$AGENTS_COORDINATOR_PID")
        seconds=$(agents_backup "$dir" "$shape")
        local server coordinator agents volumes=$count
        server=$(awk -v a="$(agents_cpu "$AGENTS_SERVER_PID")" -v b="$before_server" 'BEGIN { printf "%.1f", a - b }')
        coordinator=$(awk -v a="$(agents_cpu "$AGENTS_COORDINATOR_PID")" -v b="$before_coordinator" 'BEGIN { printf "%.1f", a - b }')
        agents=$(agents_cpu "${AGENTS_AGENT_PIDS[@]}")
        agents_cleanup
        [ "$shape" = one ] && volumes=1
        printf '| %s | %d | 2 | %.1f s | %.3f s | %s | %s | %s |\n' "$shape" "$volumes" "$seconds" \
            "$(awk -v s="$seconds" -v n="$count" 'BEGIN { print s / n }')" "$server" "$coordinator" "$agents"
    done
    echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
    rm -rf "$WORK/many" "$WORK/repo-many"
}

# bench_agents PARTS: any of speedup, memory, many.
bench_agents() {
    local parts=$1 part
    trap 'agents_cleanup' EXIT
    trap 'exit 130' INT TERM
    agents_build
    for part in $parts; do
        case "$part" in
            speedup) bench_agents_speedup ;;
            memory) bench_agents_memory ;;
            many) bench_agents_many ;;
            *) echo "unknown part $part (speedup, memory, many)" >&2; return 2 ;;
        esac
    done
}
