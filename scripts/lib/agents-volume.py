#!/usr/bin/env python3
"""Writes a volume image for the agents-at-scale benchmark (scripts/lib/bench-agents.sh).

Usage: agents-volume.py PATH --size SIZE [--data SIZE] [--extent SIZE] [--random PERCENT] [--seed N]

PATH becomes a sparse file of --size bytes holding --data bytes (default: all of it) in extents
of --extent bytes (default 64M) spread evenly over it; the rest are holes. Data comes in 1 MiB
blocks, each unique (every 4 KiB page is stamped with the seed, the block and the page): PERCENT
of the blocks are random bytes, the others repeat a line of text, so compress about 100x and
keep a repository of a large dense volume small. Sizes take K, M, G, T suffixes (powers of 1024).
"""
import argparse
import random
import struct

MIB = 1 << 20
TEXT = (b"INSERT INTO orders (id, customer, item, quantity) VALUES (42, 'ferry', 'block', 7);\n" * 64)[:4096 - 24]


def size(text):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    return int(float(text[:-1]) * units[text[-1]]) if text[-1] in units else int(text)


def block(seed, index, percent):
    if index * 7919 % 100 < percent:
        data = bytearray(random.Random(seed * 1_000_003 + index).randbytes(MIB))
    else:
        data = bytearray((struct.pack("<QQQ", 0, 0, 0) + TEXT) * (MIB // 4096))
    for page in range(0, MIB, 4096):
        struct.pack_into("<QQQ", data, page, seed, index, page)
    return data


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("path")
    parser.add_argument("--size", required=True, type=size)
    parser.add_argument("--data", type=size)
    parser.add_argument("--extent", type=size, default=64 * MIB)
    parser.add_argument("--random", type=int, default=0, help="percent of the blocks that are random bytes")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    data = args.size if args.data is None else args.data
    if args.size % MIB or data % MIB or args.extent % MIB or data > args.size:
        parser.error("sizes must be whole MiB, and --data at most --size")
    extents = max(1, -(-data // args.extent))
    stride = args.size // extents // MIB * MIB
    with open(args.path, "wb") as out:
        out.truncate(args.size)
        written, index = 0, 0
        for extent in range(extents):
            out.seek(extent * stride)
            length = min(args.extent, data - written)
            for _ in range(length // MIB):
                out.write(block(args.seed, index, args.random))
                index += 1
            written += length


if __name__ == "__main__":
    main()
