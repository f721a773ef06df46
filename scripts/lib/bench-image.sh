# The benchmark's VM-like disk image and its "update day" (sourced by scripts/bench.sh; root:
# the image is filled through a loop mount).
#
#   bench_image_build IMAGE SIZE   an ext4 file system of SIZE holding an OS-like tree (this
#                                  machine's /usr/share, /usr/bin and its x86_64 libraries) and a
#                                  200 MiB "database" file: every third 4 KiB page random, the
#                                  others text pages of dictionary words, zero-padded
#   bench_image_update IMAGE SEED  one day of changes: 4000 random database pages rewritten
#                                  (~16 MiB), a ~40 MiB text log added, 300 files of /usr/share
#                                  deleted; SEED makes the day repeatable

bench_image_mount() {
    local image=$1 mountpoint
    mountpoint=$(mktemp -d)
    mount -o loop "$image" "$mountpoint"
    echo "$mountpoint"
}

bench_image_unmount() {
    sync
    umount "$1"
    rmdir "$1"
}

bench_image_build() {
    local image=$1 size=$2 root
    rm -f "$image"
    truncate -s "$size" "$image"
    mkfs.ext4 -q -F "$image"
    root=$(bench_image_mount "$image")
    mkdir -p "$root/usr"
    cp -a /usr/share /usr/bin "$root/usr/" 2>/dev/null || true
    cp -a /usr/lib/x86_64-linux-gnu "$root/usr/lib64" 2>/dev/null || true
    python3 - "$root/var-db.dat" <<'PYTHON'
import os, random, sys

PAGE = 4096
PAGES = 200 * 256  # 200 MiB
dictionary = "/usr/share/dict/words"
words = open(dictionary).read().split() if os.path.exists(dictionary) else [f"w{n}" for n in range(10000)]
random.seed(7)
with open(sys.argv[1], "wb") as out:
    for page in range(PAGES):
        if page % 3 == 0:
            out.write(os.urandom(PAGE))
        else:
            text = " ".join(random.choice(words) for _ in range(700)).encode()[:PAGE]
            out.write(text.ljust(PAGE, b"\0"))
PYTHON
    df -h "$root" | tail -1
    bench_image_unmount "$root"
}

bench_image_update() {
    local image=$1 seed=${2:-1} root
    root=$(bench_image_mount "$image")
    python3 - "$root" "$seed" <<'PYTHON'
import os, random, sys

root, seed = sys.argv[1], int(sys.argv[2])
random.seed(seed)
PAGE = 4096
database = os.path.join(root, "var-db.dat")
pages = os.path.getsize(database) // PAGE
with open(database, "r+b") as db:
    for _ in range(4000):
        db.seek(random.randrange(pages) * PAGE)
        db.write(os.urandom(PAGE))
logs = os.path.join(root, "var", "log")
os.makedirs(logs, exist_ok=True)
with open(os.path.join(logs, f"app-{seed}.log"), "w") as log:
    for n in range(400000):
        log.write(f"2026-11-21T10:{n % 60:02d}:{n % 60:02d} INFO request id={n} "
                  f"path=/api/v1/items/{random.randrange(10**6)} took={random.randrange(500)}ms\n")
shared = [os.path.join(d, f) for d, _, names in os.walk(os.path.join(root, "usr", "share")) for f in names]
random.shuffle(shared)
for path in shared[:300]:
    try:
        os.remove(path)
    except OSError:
        pass
PYTHON
    bench_image_unmount "$root"
}
