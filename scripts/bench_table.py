#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Markdown tables of one cuact-bench run (its --json output), for the README.

    python3 scripts/bench_table.py bench/results/<run>.json [--softmax FILE.json] [--write README.md]

Prints, as % of the copy roof measured in the same run: every activation by dtype and direction
(with cub::DeviceTransform running the same functor, forward), softmax / log_softmax on the
last axis by row length, and the middle-axis and few-rows softmax cases (with the tier each ran
under, from the run's plan fields, and for few rows the time against its target). --softmax takes the softmax rows from another run (a later softmax-only
one). --write replaces the text between the README's bench-table markers. No figure is typed by
hand: every number comes from the JSON files named in the table's caption.
"""
import argparse
import json
import pathlib
import re
import sys

BEGIN = "<!-- bench-table:begin (scripts/bench_table.py) -->"
END = "<!-- bench-table:end -->"
DTYPES = ["float32", "float16", "bfloat16", "float64"]


def load(path):
    with open(path) as f:
        return json.load(f)


def caption(run, path):
    dev = run["device"]
    return (f"{dev['name']} ({dev['sm_count']} SMs), CUDA {run['toolkit_version']}, driver "
            f"{run['driver_version']}, commit {run['git_commit']}, {run['date_utc']}: "
            f"`{pathlib.Path(path).name}`")


def pct(row):
    return f"{row['pct_roof']:.0f}" if row else "–"


def by_key(run, groups):
    """The run's rows of `groups`, keyed by (group, op, dtype, direction)."""
    return {(r["group"], r["op"], r["dtype"], r["direction"]): r for r in run["rows"]
            if r["group"] in groups}


def op_grid(run, columns, cell):
    """One line per op of the act group, `columns` headings per dtype, cell(op, dtype) giving that
    dtype's cells."""
    ops = []
    for r in run["rows"]:
        if r["group"] == "act" and r["op"] not in ops:
            ops.append(r["op"])
    head = ["op"]
    for d in DTYPES:
        head += [f"{d} {columns[0]}", *columns[1:]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for op in ops:
        cells = [op]
        for d in DTYPES:
            cells += cell(op, d)
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def activation_table(run):
    rows = by_key(run, ("act", "cub"))
    return op_grid(run, ["fwd", "cub fwd", "bwd(x)", "bwd(y)"], lambda op, d: [
        pct(rows.get(("act", op, d, "fwd"))), pct(rows.get(("cub", op, d, "fwd"))),
        pct(rows.get(("act", op, d, "bwd_x"))), pct(rows.get(("act", op, d, "bwd_y")))])


def staging_table(run):
    """Every act row beside the same kernels with 16-byte vector loads forced (the vec group; on
    sm_90 the library stages its inputs by bulk copy), as act / vec."""
    rows = by_key(run, ("act", "vec"))
    if not any(g == "vec" for g, *_ in rows):
        return []

    def cell(op, d):
        out = []
        for direction in ("fwd", "bwd_x", "bwd_y"):
            a, v = rows.get(("act", op, d, direction)), rows.get(("vec", op, d, direction))
            out.append(f"{pct(a)} / {pct(v)}" if a or v else "–")
        return out
    return op_grid(run, ["fwd", "bwd(x)", "bwd(y)"], cell)


def misaligned_table(run):
    """The misaligned cases (inputs one element past a 16-byte boundary) beside the aligned ones."""
    rows = by_key(run, ("act", "misaligned"))
    keys = []
    for r in run["rows"]:
        k = (r["op"], r["dtype"], r["direction"])
        if r["group"] == "misaligned" and k not in keys:
            keys.append(k)
    lines = ["| op | dtype | direction | aligned | misaligned |", "|---|---|---|---|---|"]
    for op, d, direction in keys:
        lines.append(f"| {op} | {d} | {direction} | {pct(rows.get(('act', op, d, direction)))} | "
                     f"{pct(rows.get(('misaligned', op, d, direction)))} |")
    return lines if len(lines) > 2 else []


def softmax_table(run):
    rows = {}
    cols = []
    for r in run["rows"]:
        if r["group"] != "softmax" or r.get("layout") != "last":
            continue
        dim = r["shape"][1]
        if dim not in cols:
            cols.append(dim)
        rows[(r["op"], r["dtype"], r["direction"], dim)] = r
    dtypes = [d for d in DTYPES if any(k[1] == d for k in rows)]
    head = ["row length"]
    for d in dtypes:
        head += [f"{d} fwd", "bwd", "log fwd", "log bwd"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for dim in sorted(cols):
        cells = [str(dim)]
        for d in dtypes:
            for op, direction in (("softmax", "fwd"), ("softmax", "bwd"), ("log_softmax", "fwd"),
                                  ("log_softmax", "bwd")):
                cells.append(pct(rows.get((op, d, direction, dim))))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def other_softmax_table(run):
    """float32 softmax over a middle axis (both directions) and few long rows (forward): one line
    per case, with its plan's tier (the JSON holds every dtype, log_softmax and both directions)."""
    lines = ["| case | tier | % roof | µs | target µs |", "|---|---|---|---|---|"]
    for r in run["rows"]:
        if r["group"] != "softmax" or r["op"] != "softmax" or r["dtype"] != "float32":
            continue
        if r.get("layout") == "fewrows" and r["direction"] != "fwd":
            continue
        if r.get("layout") not in ("middle", "fewrows"):
            continue
        tier = r.get("plan", {}).get("tier", "–")
        target = f"{r['target_us']:.1f}" if "target_us" in r else "–"
        lines.append(f"| {r['name']} | {tier} | {pct(r)} | {r['median_us']:.1f} | {target} |")
    return lines if len(lines) > 2 else []


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", help="cuact-bench --json output")
    ap.add_argument("--softmax", help="take the softmax rows from this run instead")
    ap.add_argument("--write", help="README to update between the bench-table markers")
    args = ap.parse_args()
    run = load(args.run)
    sm_path = args.softmax or args.run
    sm_run = load(sm_path)
    out = [BEGIN,
           f"Activations, % of the copy roof (n = 2^28; float64 2^27), {caption(run, args.run)}.",
           "",
           *activation_table(run),
           *(["", f"The same, act / vec: the library (staged by bulk copy on sm_90) and its "
                  f"kernels with 16-byte vector loads forced, {caption(run, args.run)}.", "",
                *staging_table(run)] if staging_table(run) else []),
           *(["", f"Inputs one element past a 16-byte boundary (output aligned), % of the copy "
                  f"roof, {caption(run, args.run)}.", "", *misaligned_table(run)]
             if misaligned_table(run) else []),
           "",
           f"Softmax over the last axis, 2^28 elements in all, % of the copy roof, "
           f"{caption(sm_run, sm_path)}.",
           "",
           *softmax_table(sm_run),
           *(["", f"float32 softmax over a middle axis and few long rows, {caption(sm_run, sm_path)}.", "",
                *other_softmax_table(sm_run)] if other_softmax_table(sm_run) else []),
           END]
    text = "\n".join(out)
    if not args.write:
        print(text)
        return 0
    readme = pathlib.Path(args.write)
    old = readme.read_text()
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    if not pattern.search(old):
        print(f"{readme}: no bench-table markers", file=sys.stderr)
        return 1
    readme.write_text(pattern.sub(lambda _: text, old))
    print(f"updated {readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
