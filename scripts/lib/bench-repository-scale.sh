# The repository-at-scale part of scripts/bench.sh (issue 14), release builds:
#   1. ~100 TiB logical in 10,000 snapshots (ferry-synthetic-repo: 10 GiB volumes of 1 MiB
#      blocks, 4 GiB of them data, the rest zero; each snapshot changes one run of 100 blocks;
#      ~1M chunks): open (no cache, filling the cache, cached), `snapshots`, the start-up of a
#      new backup, forget --keep-last 100, prune, open after prune. Time and peak RSS.
#   2. prune's peak RSS against the chunk count (FERRY_BENCH_PRUNE_CHUNKS, default
#      "250000 1000000 2000000 4000000"; 30 snapshots each, as --maintenance), written to
#      docs/plots/prune-rss-vs-chunks.csv.
#   3. 8 `ferry backup` processes into one S3 repository (SeaweedFS) at once against the same
#      8 one after another: time, repository growth, check --read-data.
# Set FERRY_BENCH_SCALE_PARTS to a subset of "scale prune concurrent" to run only those.
#
# Expects from bench.sh: scripts/lib/bench-s3.sh sourced (s3_free_port, s3_curl, S3_KEY, S3_SECRET).

# scale_run LABEL COMMAND...: one table row: seconds and peak RSS of the command.
scale_run() {
    local label=$1; shift
    /usr/bin/time -f "%e %M" -o "$SCALE_WORK/t" "$@" > "$SCALE_WORK/out" 2> "$SCALE_WORK/err" || {
        echo "failed: $* ($(tail -3 "$SCALE_WORK/err"))" >&2; return 1; }
    local s m
    read -r s m < "$SCALE_WORK/t"
    printf '| %s | %.2f s | %d MiB |\n' "$label" "$s" $((m / 1024))
}

bench_repository_scale() {
    SCALE_WORK="$1"
    local parts="${FERRY_BENCH_SCALE_PARTS:-scale prune concurrent}"
    rm -rf "$SCALE_WORK"; mkdir -p "$SCALE_WORK"
    swift build -c release --product ferry 2>&1 | tail -1
    swift build -c release --product ferry-synthetic-repo 2>&1 | tail -1
    local bin
    bin="$(swift build -c release --show-bin-path)"
    SCALE_FERRY="$bin/ferry"
    export FERRY_PASSWORD=bench-password FERRY_CACHE_DIR="$SCALE_WORK/cache"
    echo "load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
    case " $parts " in *" scale "*) scale_repository "$bin" ;; esac
    case " $parts " in *" prune "*) scale_prune_curve "$bin" ;; esac
    case " $parts " in *" concurrent "*) scale_concurrent_writers ;; esac
    rm -rf "$SCALE_WORK"
}

scale_repository() {
    local bin=$1 repo="$SCALE_WORK/repo" ferry=$SCALE_FERRY
    echo "building ~100 TiB logical in 10,000 snapshots..."
    /usr/bin/time -f "%e %M" -o "$SCALE_WORK/t" "$bin/ferry-synthetic-repo" "$repo" --snapshots 10000 \
        --chunks "${FERRY_BENCH_SCALE_CHUNKS:-1000000}" \
        --block-size 1048576 --blocks 4096 --volume-blocks 10486 --contiguous | tail -1
    echo "build: $(cut -d' ' -f1 "$SCALE_WORK/t") s; repository $(du -sh "$repo" | cut -f1);" \
        "$(find "$repo/index" -type f | wc -l) index objects, $(find "$repo/packs" -type f | wc -l) packs"
    head -c 1048576 /dev/urandom > "$SCALE_WORK/small.img"
    echo "| step | time | peak RSS |"
    echo "|---|---:|---:|"
    scale_run "open, no cache (\`stats --no-cache\`)" "$ferry" stats --repo "$repo" --no-cache
    scale_run "open, filling the cache" "$ferry" stats --repo "$repo"
    scale_run "open, cached" "$ferry" stats --repo "$repo"
    scale_run "\`snapshots\` (10,000)" "$ferry" snapshots --repo "$repo"
    scale_run "backup of 1 MiB, no parent (start-up: cached index)" "$ferry" backup "$SCALE_WORK/small.img" --repo "$repo" --name startup
    scale_run "backup of 1 MiB, \`--parent auto\` (plus parent lookup)" "$ferry" backup "$SCALE_WORK/small.img" --repo "$repo" \
        --name startup --parent auto
    scale_run "\`forget --keep-last 100\`" "$ferry" forget --repo "$repo" --keep-last 100
    scale_run "\`prune\`" "$ferry" prune --repo "$repo"
    grep -E "compacted|sweep|marking" "$SCALE_WORK/err" | sed 's/^/    /' || true
    scale_run "open after prune (cache rebuilt)" "$ferry" stats --repo "$repo"
    scale_run "open, cached" "$ferry" stats --repo "$repo"
    echo "repository after prune: $(du -sh "$repo" | cut -f1)"
    rm -rf "$repo" "$FERRY_CACHE_DIR"
}

scale_prune_curve() {
    local bin=$1 ferry=$SCALE_FERRY csv="docs/plots/prune-rss-vs-chunks.csv"
    local chunks_list="${FERRY_BENCH_PRUNE_CHUNKS:-250000 1000000 2000000 4000000}"
    mkdir -p docs/plots
    echo "chunks,prune_peak_rss_mib,open_cached_rss_mib" > "$csv.tmp"
    echo "| chunks | build | open, cached | prune | prune peak RSS | bytes per chunk |"
    echo "|---:|---:|---:|---:|---:|---:|"
    for chunks in $chunks_list; do
        local repo="$SCALE_WORK/prune-$chunks" blocks=$((chunks / 10)) build open_s open_m prune_s prune_m
        rm -rf "$repo" "$FERRY_CACHE_DIR"
        /usr/bin/time -f "%e" -o "$SCALE_WORK/t" "$bin/ferry-synthetic-repo" "$repo" --chunks "$chunks" --snapshots 30 \
            --blocks "$blocks" > /dev/null
        build=$(cat "$SCALE_WORK/t")
        "$ferry" stats --repo "$repo" > /dev/null
        /usr/bin/time -f "%e %M" -o "$SCALE_WORK/t" "$ferry" stats --repo "$repo" > /dev/null
        read -r open_s open_m < "$SCALE_WORK/t"
        "$ferry" forget --repo "$repo" --keep-last 10 > /dev/null 2>&1
        /usr/bin/time -f "%e %M" -o "$SCALE_WORK/t" "$ferry" prune --repo "$repo" > /dev/null 2>&1
        read -r prune_s prune_m < "$SCALE_WORK/t"
        printf '| %d | %.0f s | %d MiB | %.2f s | %d MiB | %d |\n' "$chunks" "$build" $((open_m / 1024)) "$prune_s" \
            $((prune_m / 1024)) $((prune_m * 1024 / chunks))
        echo "$chunks,$((prune_m / 1024)),$((open_m / 1024))" >> "$csv.tmp"
        rm -rf "$repo" "$FERRY_CACHE_DIR"
    done
    mv "$csv.tmp" "$csv"
    echo "wrote $csv"
}

scale_concurrent_writers() {
    local weed dir="$SCALE_WORK/s3" ferry=$SCALE_FERRY writers=8
    weed=$(command -v weed || true)
    [ -n "$weed" ] || { echo "concurrent writers: skipped (weed not installed)"; return 0; }
    s3_start_weed "$dir" ferry || return 1
    local weed_pid=$WEED_PID
    # shellcheck disable=SC2064
    trap "kill $weed_pid 2>/dev/null; wait $weed_pid 2>/dev/null" EXIT
    export AWS_ACCESS_KEY_ID=$S3_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET AWS_REGION=us-east-1 FERRY_S3_ENDPOINT=$S3_ENDPOINT

    # A 512 MiB template (random, so every block is its own chunk) and 8 clones, each with its
    # own 32 MiB of random data: a fleet of VMs made from one image.
    head -c 536870912 /dev/urandom > "$dir/template.img"
    for i in $(seq 0 $((writers - 1))); do
        cp "$dir/template.img" "$dir/clone-$i.img"
        head -c 33554432 /dev/urandom | dd of="$dir/clone-$i.img" bs=1M seek=$((i * 32)) conv=notrunc status=none
    done
    cat "$dir"/*.img > /dev/null
    echo "8 writers into one S3 repository (SeaweedFS $("$weed" version 2>/dev/null | head -1 | awk '{print $3}')):" \
        "512 MiB template backed up first (not in cold), then 8 clones with 32 MiB of their own data each"
    echo "| run | time | repository growth | snapshots | check --read-data |"
    echo "|---|---:|---:|---:|---|"
    local mode
    for mode in parallel serial cold; do
        local repo="s3://ferry/$mode" start end before after count check
        "$ferry" repo init --repo "$repo" > /dev/null 2>&1
        if [ "$mode" != cold ]; then "$ferry" backup "$dir/template.img" --repo "$repo" --name template > /dev/null 2>&1; fi
        before=$(s3_bucket_bytes ferry "$mode/packs/")
        start=$(date +%s.%N)
        if [ "$mode" = serial ]; then
            for i in $(seq 0 $((writers - 1))); do
                "$ferry" backup "$dir/clone-$i.img" --repo "$repo" --name "clone-$i" > /dev/null 2> "$dir/err-$i" || echo "writer $i failed" >&2
            done
        else
            local pids=()
            for i in $(seq 0 $((writers - 1))); do
                "$ferry" backup "$dir/clone-$i.img" --repo "$repo" --name "clone-$i" > /dev/null 2> "$dir/err-$i" &
                pids+=($!)
            done
            for i in "${!pids[@]}"; do wait "${pids[$i]}" || echo "writer $i failed: $(tail -2 "$dir/err-$i")" >&2; done
        fi
        end=$(date +%s.%N)
        after=$(s3_bucket_bytes ferry "$mode/packs/")
        count=$("$ferry" snapshots --repo "$repo" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
        if "$ferry" check --repo "$repo" --read-data > "$dir/check" 2>&1; then check=clean; else check="FAILED: $(tail -1 "$dir/check")"; fi
        printf '| %s | %.1f s | %d MiB | %s | %s |\n' "$mode" "$(echo "$end - $start" | bc)" $(((after - before) / 1048576)) "$count" "$check"
    done
    kill "$weed_pid" 2>/dev/null; wait "$weed_pid" 2>/dev/null || true
    trap - EXIT
    rm -rf "$dir"
}

