#!/usr/bin/env python3
"""A line plot as SVG, without dependencies (for docs/plots/: no matplotlib here).

Usage: plot-svg.py DATA.csv OUT.svg --title T --x-label X --y-label Y [--log-x] [--log-y]

DATA.csv has a header `x,series1,series2,...` and one row per x; an empty cell is a missing point
(the series' line skips it). Every series is a line with markers, in its own colour, named in a
legend. Axes have ticks at round values (powers of ten, with 2 and 5 between, on a log axis).
"""
import argparse
import csv
import html
import math
import sys

WIDTH, HEIGHT = 720, 440
LEFT, RIGHT, TOP, BOTTOM = 80, 180, 50, 60
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]


def fail(message):
    print(f"plot-svg: {message}", file=sys.stderr)
    sys.exit(2)


def read(path):
    with open(path, newline="") as f:
        rows = [row for row in csv.reader(f) if row and any(cell.strip() for cell in row)]
    if len(rows) < 2:
        fail(f"{path}: a header `x,series,...` and at least one row are needed")
    header, points = rows[0], []
    if len(header) < 2:
        fail(f"{path}: the header names no series (it needs x and at least one more column)")
    for number, row in enumerate(rows[1:], start=2):
        try:
            x = float(row[0])
            ys = [float(cell) if cell.strip() else None for cell in row[1:len(header)]]
        except ValueError as error:
            fail(f"{path} line {number}: {error}")
        points.append((x, ys + [None] * (len(header) - 1 - len(ys))))
    return header, points


def nice_ticks(low, high):
    """Round ticks covering [low, high] on a linear axis."""
    if high <= low:
        high = low + 1
    raw = (high - low) / 6
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(low / step) * step
    ticks, value = [], start
    while True:  # the last tick at or above the highest value
        ticks.append(round(value, 10))
        if value >= high - step * 1e-9:
            return ticks
        value += step


def log_ticks(low, high):
    """Ticks at 1, 2, 5 times powers of ten covering [low, high] (both positive)."""
    ticks = []
    for exponent in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1):
        for m in (1, 2, 5):
            ticks.append(m * 10 ** exponent)
    inside = [t for t in ticks if low / 1.0001 <= t <= high * 1.0001]
    if len(inside) > 10:
        inside = [t for t in inside if str(t).lstrip("0.").startswith("1")]
    below = max([t for t in ticks if t <= low], default=low)
    above = min([t for t in ticks if t >= high], default=high)
    return sorted(set([below] + inside + [above]))


def label(value):
    if value == 0:
        return "0"
    if abs(value) >= 1e5 or abs(value) < 1e-3:
        return f"{value:.0e}"
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return text


def main():
    parser = argparse.ArgumentParser(description="A line plot (SVG) of a CSV `x,series1,...`.")
    parser.add_argument("data")
    parser.add_argument("out")
    parser.add_argument("--title", default="")
    parser.add_argument("--x-label", default="")
    parser.add_argument("--y-label", default="")
    parser.add_argument("--log-x", action="store_true", help="logarithmic x axis (x must be positive)")
    parser.add_argument("--log-y", action="store_true", help="logarithmic y axis (y must be positive)")
    args = parser.parse_args()

    header, points = read(args.data)
    xs = [x for x, _ in points]
    ys = [y for _, row in points for y in row if y is not None]
    if not ys:
        fail(f"{args.data}: no values")
    if args.log_x and min(xs) <= 0:
        fail("--log-x needs positive x values")
    if args.log_y and min(ys) <= 0:
        fail("--log-y needs positive y values")

    if args.log_x:
        x_ticks = log_ticks(min(xs), max(xs))
    else:
        x_ticks = nice_ticks(min(min(xs), 0) if min(xs) >= 0 and min(xs) < max(xs) / 3 else min(xs), max(xs))
    if args.log_y:
        y_ticks = log_ticks(min(ys), max(ys))
    else:
        y_ticks = nice_ticks(min(0, min(ys)), max(ys))
    x_low, x_high, y_low, y_high = x_ticks[0], x_ticks[-1], y_ticks[0], y_ticks[-1]

    def scale(value, low, high, log):
        if log:
            value, low, high = math.log10(value), math.log10(low), math.log10(high)
        return (value - low) / (high - low) if high != low else 0.5

    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    px = lambda x: LEFT + scale(x, x_low, x_high, args.log_x) * plot_w
    py = lambda y: TOP + plot_h - scale(y, y_low, y_high, args.log_y) * plot_h

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
           f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
           f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
           f'<text x="{LEFT + plot_w / 2}" y="28" text-anchor="middle" font-size="15">{html.escape(args.title)}</text>']
    for t in x_ticks:
        x = px(t)
        out.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{TOP + plot_h}" stroke="#e5e5e5"/>')
        out.append(f'<text x="{x:.1f}" y="{TOP + plot_h + 18}" text-anchor="middle">{label(t)}</text>')
    for t in y_ticks:
        y = py(t)
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" stroke="#e5e5e5"/>')
        out.append(f'<text x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">{label(t)}</text>')
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="black"/>')
    out.append(f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 15}" text-anchor="middle">{html.escape(args.x_label)}</text>')
    out.append(f'<text x="20" y="{TOP + plot_h / 2}" text-anchor="middle" '
               f'transform="rotate(-90 20 {TOP + plot_h / 2})">{html.escape(args.y_label)}</text>')

    for index, name in enumerate(header[1:]):
        colour = COLOURS[index % len(COLOURS)]
        series = sorted((x, row[index]) for x, row in points if row[index] is not None)
        if series:
            path = " ".join(f"{'M' if i == 0 else 'L'}{px(x):.1f},{py(y):.1f}" for i, (x, y) in enumerate(series))
            out.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
            for x, y in series:
                out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3.5" fill="{colour}"/>')
        legend_y = TOP + 10 + index * 20
        out.append(f'<line x1="{LEFT + plot_w + 15}" y1="{legend_y}" x2="{LEFT + plot_w + 35}" y2="{legend_y}" '
                   f'stroke="{colour}" stroke-width="2"/>')
        out.append(f'<text x="{LEFT + plot_w + 40}" y="{legend_y + 4}">{html.escape(name)}</text>')
    out.append("</svg>")
    with open(args.out, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
