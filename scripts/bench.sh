#!/usr/bin/env bash
# Benchmark (not a test): ferry vs restic vs borg on the same VM-like disk image, same run,
# page cache warm. Full backup, incremental after an "update day", restore.
#
#   scripts/bench.sh                      # the comparison table
#   scripts/bench.sh --block-sizes "256K 512K 1M 2M 4M"   # plus ferry's block-size sweep
#   scripts/bench.sh --maintenance        # forget/prune/open on a synthetic 1M-chunk, 30-snapshot repository
#   scripts/bench.sh --repository-scale   # open/backup start-up/snapshots/forget/prune on ~100 TiB logical in 10,000
#                                         # snapshots, prune peak RSS against chunk count, 8 concurrent S3 writers
#                                         # (scripts/lib/bench-repository-scale.sh)
#   scripts/bench.sh --no-s3              # without the S3 table (local SeaweedFS, scripts/lib/bench-s3.sh)
#   scripts/bench.sh --mount              # ferry mount vs ferry restore vs restic mount (scripts/lib/bench-mount.sh)
#   scripts/bench.sh --control-plane "10 100 1000"   # ferry plan over synthetic clusters of that many
#                                         # namespaces in the API test server (scripts/lib/bench-control-plane.sh)
#   scripts/bench.sh --cluster-backup "10 100 1000"  # a ClusterBackupPlan's Backup over such clusters (with Helm
#                                         # releases, VMs, custom resources) by a coordinator and two agents
#                                         # (scripts/lib/bench-cluster-backup.sh)
#   scripts/bench.sh --agents "speedup memory many"   # agents at scale: one volume in ranges across 1, 2, 4
#                                         # CPU-confined agent processes, agent RSS vs volume size, 1,000 small
#                                         # volumes vs one (scripts/lib/bench-agents.sh)
#   scripts/bench.sh --agent-units 10000  # that many agent work units (a session each: one 4 KiB chunk, flushed,
#                                         # not committed) from 2 writers into one local repository, the time
#                                         # per unit as the index objects pile up (Benchmarks/AgentUnits)
#   scripts/bench.sh --rounds 5           # plus 5 alternating ferry/restic full-backup rounds (local
#                                         # and S3) and the median ratio: this machine's speed drifts
#
# Needs root (the image is built by mounting it). Work files go to $FERRY_BENCH_DIR
# (default /var/tmp/ferry-bench); the image and its update day come from scripts/lib/bench-image.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/deps.sh
source scripts/lib/bench-s3.sh
source scripts/lib/bench-image.sh

BLOCK_SIZES=""
MAINTENANCE=""
S3=1
ROUNDS=0
MOUNT=""
CONTROL_PLANE=""
CLUSTER_BACKUP=""
REPOSITORY_SCALE=""
AGENTS=""
AGENT_UNITS=""
while [ $# -gt 0 ]; do
    case "$1" in
        --block-sizes) BLOCK_SIZES="$2"; shift 2 ;;
        --maintenance) MAINTENANCE=1; shift ;;
        --mount) MOUNT=1; shift ;;
        --repository-scale) REPOSITORY_SCALE=1; shift ;;
        --control-plane) CONTROL_PLANE="$2"; shift 2 ;;
        --cluster-backup) CLUSTER_BACKUP="$2"; shift 2 ;;
        --agents) AGENTS="$2"; shift 2 ;;
        --agent-units) AGENT_UNITS="$2"; shift 2 ;;
        --no-s3) S3=0; shift ;;
        --rounds) ROUNDS="$2"; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done

if [ -n "$CLUSTER_BACKUP" ]; then
    install_build_deps
    install_kube_clients
    apt_install bc
    source scripts/lib/bench-cluster-backup.sh
    WORK="${FERRY_BENCH_DIR:-/var/tmp/ferry-bench}/cluster-backup"
    mkdir -p "$WORK"
    bench_cluster_backup "$CLUSTER_BACKUP" "$WORK"
    exit 0
fi

if [ -n "$AGENT_UNITS" ]; then
    install_build_deps
    apt_install time
    WORK="${FERRY_BENCH_DIR:-/var/tmp/ferry-bench}/agent-units"
    rm -rf "$WORK"; mkdir -p "$WORK"
    swift build -c release --product ferry-agent-units 2>&1 | tail -1
    BIN="$(swift build -c release --show-bin-path)"
    /usr/bin/time -f "%e s wall, %U s user, %S s sys, %M KiB peak RSS" \
        "$BIN/ferry-agent-units" "$WORK" --units "$AGENT_UNITS" --writers 2 --batch $(( AGENT_UNITS >= 5000 ? 1000 : 100 ))
    exit 0
fi

if [ -n "$CONTROL_PLANE" ]; then
    install_build_deps
    apt_install time
    source scripts/lib/bench-control-plane.sh
    WORK="${FERRY_BENCH_DIR:-/var/tmp/ferry-bench}/control-plane"
    mkdir -p "$WORK"
    bench_control_plane "$CONTROL_PLANE" "$WORK"
    exit 0
fi

if [ -n "$REPOSITORY_SCALE" ]; then
    install_build_deps
    apt_install time
    source scripts/lib/bench-repository-scale.sh
    bench_repository_scale "${FERRY_BENCH_DIR:-/var/tmp/ferry-bench-repo}"
    exit 0
fi

if [ -n "$AGENTS" ]; then
    [ "$(id -u)" -eq 0 ] || { echo "bench.sh --agents needs root (cgroups)" >&2; exit 1; }
    install_build_deps
    source scripts/lib/bench-agents.sh
    WORK="${FERRY_BENCH_DIR:-/var/tmp/ferry-bench}/agents"
    mkdir -p "$WORK"
    bench_agents "$AGENTS"
    exit 0
fi

if [ -n "$MAINTENANCE" ]; then
    install_build_deps
    apt_install time
    WORK="${FERRY_BENCH_DIR:-/var/tmp/ferry-bench}/maintenance"
    rm -rf "$WORK"; mkdir -p "$WORK"
    swift build -c release --product ferry 2>&1 | tail -1
    swift build -c release --product ferry-synthetic-repo 2>&1 | tail -1
    BIN="$(swift build -c release --show-bin-path)"
    export FERRY_PASSWORD=bench-password FERRY_CACHE_DIR="$WORK/cache"
    run() { local label=$1; shift; /usr/bin/time -f "%e %M" -o "$WORK/t" "$@" > /dev/null 2>&1; read -r s m < "$WORK/t"; printf '| %s | %.2f s | %d MiB |\n' "$label" "$s" $((m / 1024)); }
    echo "building a synthetic repository (1M chunks, 30 snapshots)..."
    "$BIN/ferry-synthetic-repo" "$WORK/repo" --chunks 1000000 --snapshots 30
    echo "| step | time | peak RSS |"
    echo "|---|---:|---:|"
    run "open, no cache (ferry stats --no-cache)" "$BIN/ferry" stats --repo "$WORK/repo" --no-cache
    run "open, filling the cache" "$BIN/ferry" stats --repo "$WORK/repo"
    run "open, cached" "$BIN/ferry" stats --repo "$WORK/repo"
    run "forget --keep-last 10" "$BIN/ferry" forget --repo "$WORK/repo" --keep-last 10
    run "prune (mark, sweep, repack, compact)" "$BIN/ferry" prune --repo "$WORK/repo"
    run "open after prune (cache rebuilt)" "$BIN/ferry" stats --repo "$WORK/repo"
    run "open, cached" "$BIN/ferry" stats --repo "$WORK/repo"
    exit 0
fi

[ "$(id -u)" -eq 0 ] || { echo "bench.sh needs root (it mounts the image it builds)" >&2; exit 1; }
install_bench_deps
WORK="${FERRY_BENCH_DIR:-/var/tmp/ferry-bench}"
mkdir -p "$WORK"

echo "building ferry (release)..."
swift build -c release --product ferry 2>&1 | tail -1
if [ "$S3" = 1 ] && [ -z "$MOUNT" ]; then swift build -c release --product ferry-s3-bench 2>&1 | tail -1; fi
FERRY="$(swift build -c release --show-bin-path)/ferry"

BASE="$WORK/base.img"
DAY2="$WORK/day2.img"
if [ ! -f "$BASE" ] || [ ! -f "$DAY2" ]; then
    echo "building the 4 GiB image and its update day..."
    bench_image_build "$BASE" 4G >/dev/null
    cp --sparse=always "$BASE" "$DAY2"
    bench_image_update "$DAY2" 1
fi
SIZE=$(stat -c %s "$BASE")
cat "$BASE" "$DAY2" > /dev/null   # warm the page cache

export RESTIC_PASSWORD=bench-password BORG_PASSPHRASE=bench-password FERRY_PASSWORD=bench-password
export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes BORG_RELOCATED_REPO_ACCESS_IS_OK=yes

if [ -n "$MOUNT" ]; then
    source scripts/lib/bench-mount.sh
    bench_mount
    exit 0
fi

RESULTS="$WORK/results.tsv"
: > "$RESULTS"

# measure TOOL OP REPO COMMAND...: runs the command, records seconds, peak RSS and repo size.
measure() {
    local tool=$1 op=$2 repo=$3; shift 3
    local t="$WORK/time.$$"
    /usr/bin/time -f "%e %M" -o "$t" "$@"
    read -r secs rss < "$t"
    local size
    size=$(du -sb "$repo" | cut -f1)
    printf '%s\t%s\t%s\t%s\t%s\n' "$tool" "$op" "$secs" "$rss" "$size" >> "$RESULTS"
    printf '  %-7s %-12s %8ss  rss %6d MiB  repo %6d MiB\n' "$tool" "$op" "$secs" $((rss / 1024)) $((size / 1048576))
}

verify() {
    if ! cmp -s "$1" "$2"; then echo "RESTORE MISMATCH: $2 differs from $1" >&2; exit 1; fi
    rm -f "$2"
}

echo "ferry"
R="$WORK/ferry-repo"; rm -rf "$R"
"$FERRY" repo init --repo "$R" 2>/dev/null
measure ferry full "$R" sh -c "\"$FERRY\" backup \"$BASE\" --repo \"$R\" --name disk --json > \"$WORK/ferry-full.json\""
measure ferry incremental "$R" sh -c "\"$FERRY\" backup \"$DAY2\" --repo \"$R\" --name disk --parent auto --json > \"$WORK/ferry-incr.json\""
measure ferry restore "$R" "$FERRY" restore latest "$WORK/out.img" --repo "$R"
verify "$DAY2" "$WORK/out.img"

# zstd at level -1: about LZ4's speed, an eighth smaller (levels 1+ are smaller still, slower).
echo "ferry, zstd repository (repo init --compression zstd:-1)"
R="$WORK/ferry-zstd-repo"; rm -rf "$R"
"$FERRY" repo init --repo "$R" --compression zstd:-1 2>/dev/null
measure ferry-zstd full "$R" sh -c "\"$FERRY\" backup \"$BASE\" --repo \"$R\" --name disk > /dev/null"
measure ferry-zstd incremental "$R" sh -c "\"$FERRY\" backup \"$DAY2\" --repo \"$R\" --name disk --parent auto > /dev/null"
measure ferry-zstd restore "$R" "$FERRY" restore latest "$WORK/out.img" --repo "$R"
verify "$DAY2" "$WORK/out.img"
rm -rf "$R"

# CBT: the same disk as a KubeVirt-style qcow2 overlay whose guest data is a raw data file, with
# a persistent bitmap added after the base was loaded. The update day is replayed through QEMU
# (qemu-io writes exactly the 4 KiB pages the update day changed), so the bitmap records it; the
# incremental then reads only the blocks the bitmap names, and bytesRead must equal them.
echo "ferry + qcow2 bitmap (data-file overlay)"
CBT="$WORK/cbt"; rm -rf "$CBT"; mkdir -p "$CBT/chunks"
qemu-img create -q -f raw "$CBT/disk.img" "$SIZE"
(cd "$CBT" && qemu-img create -q -f qcow2 -o data_file=disk.img,data_file_raw=on disk.qcow2 "$SIZE")
(cd "$CBT" && qemu-img convert -n -O qcow2 -f raw "$BASE" disk.qcow2)
(cd "$CBT" && qemu-img bitmap --add disk.qcow2 kubevirt)
R="$WORK/ferry-cbt-repo"; rm -rf "$R"
"$FERRY" repo init --repo "$R" 2>/dev/null
BLOCK=$("$FERRY" backup "$CBT/disk.qcow2" --repo "$R" --name vm --cbt qcow2-bitmap:kubevirt --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["blockSize"])')
python3 - "$BASE" "$DAY2" "$CBT/chunks" "$BLOCK" "$CBT/replay.txt" "$CBT/expected" <<'PY'
import sys
base, day2, chunks, block, replay, expected = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6]
page, runs, blocks = 4096, [], set()
with open(base, 'rb') as a, open(day2, 'rb') as b:
    offset = 0
    while True:
        x, y = a.read(1 << 20), b.read(1 << 20)
        if not y: break
        if x != y:
            for i in range(0, len(y), page):
                if x[i:i + page] != y[i:i + page]:
                    at = offset + i
                    if runs and runs[-1][1] == at: runs[-1][1] = at + page
                    else: runs.append([at, at + page])
                    blocks.add(at // block)
        offset += len(y)
    with open(replay, 'w') as commands:
        for n, (start, end) in enumerate(runs):
            b.seek(start)
            with open(f"{chunks}/{n}", 'wb') as f: f.write(b.read(end - start))
            commands.write(f"write -q -s {chunks}/{n} {start} {end - start}\n")
open(expected, 'w').write(str(len(blocks) * block))
PY
EXPECTED=$(cat "$CBT/expected")
(cd "$CBT" && qemu-io -f qcow2 disk.qcow2 < replay.txt > /dev/null)
cmp -s "$CBT/disk.img" "$DAY2" || { echo "CBT REPLAY MISMATCH: the overlay's data file differs from the update day" >&2; exit 1; }
sync   # the replay and the 4 GiB data file must not be written back during the measurement
cat "$CBT/disk.img" > /dev/null
measure ferry cbt-incremental "$R" sh -c "\"$FERRY\" backup \"$CBT/disk.qcow2\" --repo \"$R\" --name vm --parent auto --cbt qcow2-bitmap:kubevirt --json > \"$WORK/ferry-cbt.json\""
python3 - "$WORK/ferry-cbt.json" "$EXPECTED" <<'PY'
import json, sys
report, expected = json.load(open(sys.argv[1])), int(sys.argv[2])
print(f"  cbt: provider {report['cbtProvider']}, bytesRead {report['bytesRead']} (changed blocks: {expected}), bytesSampled {report['bytesSampled']}")
if report['cbtProvider'] != 'qcow2-bitmap' or report['bytesRead'] != expected:
    sys.exit("CBT INCREMENTAL DID NOT READ EXACTLY THE CHANGED BLOCKS")
PY
measure ferry cbt-restore "$R" "$FERRY" restore latest "$WORK/out.img" --repo "$R"
verify "$DAY2" "$WORK/out.img"
rm -rf "$CBT"

echo "restic $(restic version | cut -d' ' -f2)"
R="$WORK/restic-repo"; rm -rf "$R"
restic -q -r "$R" init >/dev/null
measure restic full "$R" sh -c "restic -q -r \"$R\" backup --stdin --stdin-filename disk.img < \"$BASE\""
measure restic incremental "$R" sh -c "restic -q -r \"$R\" backup --stdin --stdin-filename disk.img < \"$DAY2\""
measure restic restore "$R" sh -c "restic -q -r \"$R\" dump latest disk.img > \"$WORK/out.img\""
verify "$DAY2" "$WORK/out.img"

echo "borg $(borg --version | cut -d' ' -f2)"
R="$WORK/borg-repo"; rm -rf "$R"
borg init -e repokey "$R"
measure borg full "$R" sh -c "borg create --compression lz4 \"$R::full\" - < \"$BASE\""
measure borg incremental "$R" sh -c "borg create --compression lz4 \"$R::day2\" - < \"$DAY2\""
measure borg restore "$R" sh -c "borg extract --stdout \"$R::day2\" > \"$WORK/out.img\""
verify "$DAY2" "$WORK/out.img"

python3 - "$RESULTS" "$SIZE" <<'PY'
import sys, platform, subprocess
rows = [l.rstrip('\n').split('\t') for l in open(sys.argv[1]) if l.strip()]
size = int(sys.argv[2])
secs = {(r[0], r[1]): float(r[2]) for r in rows}
cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), '?')
cores = subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()
print(f"\nImage: {size / 2**30:.1f} GiB ext4 VM-like disk (scripts/lib/bench-image.sh), update day seed 1. "
      f"Machine: {cores} cores, {cpu}. Page cache warm; repositories on the same local disk.\n")
print("| tool | operation | seconds | MiB/s (logical) | × restic | repository | peak RSS |")
print("|---|---|---:|---:|---:|---:|---:|")
for tool, op, s, rss, repo in rows:
    s = float(s)
    ratio = secs.get(('restic', op.removeprefix('cbt-')), 0) / s if s > 0 else 0
    print(f"| {tool} | {op} | {s:.2f} | {size / 2**20 / s:.0f} | {ratio:.2f} | {int(repo) / 2**20:.0f} MiB | {int(rss) / 1024:.0f} MiB |")
PY

# full_rounds LABEL FERRY_CMD RESTIC_CMD PREPARE: ROUNDS alternating full backups (the order
# swaps every round), each into a fresh repository that PREPARE N creates; prints each round's
# ratio and the median (the ratio within a round is what survives the machine's drift).
full_rounds() {
    local label=$1 ferry_cmd=$2 restic_cmd=$3 prepare=$4 t="$WORK/time.$$" i f r
    [ "$ROUNDS" -gt 0 ] || return 0
    echo "$label: $ROUNDS alternating full-backup rounds"
    local ratios=()
    for i in $(seq 1 "$ROUNDS"); do
        export ROUND=$i
        $prepare "$i"
        if [ $((i % 2)) = 1 ]; then
            /usr/bin/time -f "%e" -o "$t" sh -c "$ferry_cmd"; f=$(cat "$t")
            /usr/bin/time -f "%e" -o "$t" sh -c "$restic_cmd"; r=$(cat "$t")
        else
            /usr/bin/time -f "%e" -o "$t" sh -c "$restic_cmd"; r=$(cat "$t")
            /usr/bin/time -f "%e" -o "$t" sh -c "$ferry_cmd"; f=$(cat "$t")
        fi
        ratios+=("$(awk -v f="$f" -v r="$r" 'BEGIN { printf "%.2f", r / f }')")
        printf '  round %d: ferry %6.2fs  restic %6.2fs  ratio %s\n' "$i" "$f" "$r" "${ratios[-1]}"
    done
    printf '%s\n' "${ratios[@]}" | sort -n | awk -v label="$label" '{ v[NR] = $1 } END {
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%s: median ferry/restic full-backup throughput ratio %.2f (min %.2f, max %.2f, %d rounds)\n", label, m, v[1], v[NR], NR }'
}

prepare_local_round() {
    rm -rf "$WORK/round-ferry" "$WORK/round-restic"
    "$FERRY" repo init --repo "$WORK/round-ferry" >/dev/null 2>&1
    restic -q -r "$WORK/round-restic" init >/dev/null
}
full_rounds local "\"$FERRY\" backup \"$BASE\" --repo \"$WORK/round-ferry\" --name disk > /dev/null 2>&1" \
    "restic -q -r \"$WORK/round-restic\" backup --stdin --stdin-filename disk.img < \"$BASE\"" prepare_local_round
rm -rf "$WORK/round-ferry" "$WORK/round-restic"

if [ "$S3" = 1 ]; then bench_s3; fi

if [ -n "$BLOCK_SIZES" ]; then
    echo
    echo "| block size | full: stored | full: s | incremental: stored | incremental: s | block map per snapshot |"
    echo "|---|---:|---:|---:|---:|---:|"
    for bs in $BLOCK_SIZES; do
        R="$WORK/ferry-bs-repo"; rm -rf "$R"
        "$FERRY" repo init --repo "$R" --block-size "$bs" 2>/dev/null
        full=$("$FERRY" backup "$BASE" --repo "$R" --name disk --json)
        incr=$("$FERRY" backup "$DAY2" --repo "$R" --name disk --parent auto --json)
        python3 - "$bs" "$full" "$incr" <<'PY'
import sys, json
bs, full, incr = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
blocks = -(-full['size'] // full['blockSize'])
mib = lambda b: f"{b / 2**20:.1f} MiB"
print(f"| {bs} | {mib(full['bytesStored'])} | {full['seconds']:.2f} | {mib(incr['bytesStored'])} | {incr['seconds']:.2f} | {mib(blocks * 32)} |")
PY
    done
fi
