#!/usr/bin/env python3
"""Sums `ferry_kube_requests_total` from a Prometheus text page on stdin.

Usage: kube-requests.py [--top N]   prints "TOTAL: verb resource N, ..." (the N largest)
"""
import re
import sys

top = int(sys.argv[sys.argv.index("--top") + 1]) if "--top" in sys.argv else 5
pattern = re.compile(r'^ferry_kube_requests_total\{verb="([^"]*)",resource="([^"]*)",code="([^"]*)"\} ([0-9.e+]+)$')
counts = {}
for line in sys.stdin:
    match = pattern.match(line.strip())
    if match:
        key = (match.group(1), match.group(2))
        counts[key] = counts.get(key, 0) + int(float(match.group(4)))
total = sum(counts.values())
largest = sorted(counts.items(), key=lambda item: -item[1])[:top]
print(f"{total}: " + ", ".join(f"{verb} {resource} {n}" for (verb, resource), n in largest))
