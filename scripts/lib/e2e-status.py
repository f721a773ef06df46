#!/usr/bin/env python3
"""Prints a Backup's or Restore's outcome (`kubectl get -o json` on stdin), as scripts/e2e.sh shows it.

With --require-change-tracking, exits non-zero unless every volume shows unchanged and new blocks.
"""
import json
import sys

MIB = 1048576


def main():
    o = json.load(sys.stdin)
    s = o.get("status", {})
    if "--require-change-tracking" in sys.argv:
        bad = [v["claim"] for v in s.get("volumes", []) if not (v.get("unchangedBlocks", 0) > 0 and v.get("newBlocks", 0) > 0)]
        if bad:
            sys.exit(f"no unchanged and new blocks in the status of {', '.join(bad)}")
        return
    name = o["metadata"]["name"]
    stored = s.get("bytesStored", 0) / MIB
    print(f"    {o['kind']} {name}: {s.get('phase')}, snapshot {s.get('snapshot', '-')}, {stored:.1f} MiB stored")
    for v in s.get("volumes", []):
        done, total = v.get("bytesDone", 0) / MIB, v.get("bytesTotal", 0) / MIB
        line = f"      {v['claim']}: {v['phase']}, {done:.1f} of {total:.1f} MiB"
        if "changeTracking" in v:
            line += (f"; change tracking {v['changeTracking']}: {v.get('bytesRead', 0) / MIB:.1f} MiB read, "
                     f"{v.get('unchangedBlocks', 0)} blocks unchanged, {v.get('newBlocks', 0)} new, "
                     f"{v.get('bytesStored', 0) / MIB:.1f} MiB stored")
        print(line)
    for message in s.get("warnings", []) + s.get("errors", []):
        print(f"      ! {message}")


if __name__ == "__main__":
    main()
