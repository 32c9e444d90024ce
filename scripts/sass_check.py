#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Checks the SASS of a built libcuact for the memory instructions the kernels are meant to have.

    python3 scripts/sass_check.py [BUILD_DIR/libcuact.so] [--cuobjdump PATH] [--arch 90]

For every kernel of one architecture (sm_90 by default) in the library:
  - act_*_kernel and the vector (width > 1) softmax_*_kernel of every tier but the thread-per-
    column one (kColumn, scalar by design) must issue 16-byte global loads (LDG.*.128) and 16-byte
    global stores (STG.*.128):
    nvcc has been seen splitting a uint4 store of per-element results into four 32-bit stores,
    and a 16-bit element stored alone is eight times the instructions;
  - the staged act kernels (act_*_kernel<..., StagedTiles>) instead of 16-byte global loads: a
    bulk copy into shared memory (UBLKCP), read back with 16-byte shared loads (LDS.128), on
    sm_90 and later (an older image holds the vector body);
  - no act kernel may touch local memory (LDL/STL): everything stays in registers;
  - softmax kernels may spill a few bytes (1024 threads leave 64 registers each; the spills seen
    are live ranges stored near the kernel's start and reloaded near its end, outside the row
    loops); the check reports their local-memory instructions and fails above
    --max-softmax-local of them per kernel.
Prints one line per failing kernel and a summary; exits 1 on any failure. cuobjdump as for
scripts/sass_budget.py (--cuobjdump, $CUOBJDUMP, PATH, the toolkit's bin, or Triton's wheel).
"""
import argparse
import collections
import pathlib
import re
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from sass_budget import cuobjdump_env, find_cuobjdump  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parent.parent
COLUMN_TIER = 2  # cuact::detail::SoftmaxTier::kColumn


def softmax_vec(name):
    """The vector width of a softmax kernel: ChunkSplit<Vec>, WarpSplit<Lanes, PerLane, Vec, ..>,
    BlockSplit<Threads, PerLane, Vec, ..>. Width 1 is the scalar form (rows whose tensors do not
    sit alike past a 16-byte boundary, or too short for a vector), scalar by design."""
    m = re.search(r"ChunkSplit<(\d+)>", name)
    if m:
        return int(m.group(1))
    m = re.search(r"(?:Warp|Block)Split<\d+, \d+, (\d+)", name)
    return int(m.group(1)) if m else 0


def kernels(cuobjdump, lib, arch):
    """{demangled name: Counter of memory opcodes} for the sm_<arch> cubins of lib."""
    out = subprocess.run([cuobjdump, "-sass", "-arch", f"sm_{arch}", str(lib)], check=True,
                         env=cuobjdump_env(cuobjdump),
                         capture_output=True, text=True).stdout
    parts = re.split(r"\n\s*Function : ", out)[1:]
    names = [p.split("\n", 1)[0].strip() for p in parts]
    pretty = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True, text=True,
                            check=True).stdout.splitlines()
    result = {}
    for p, name in zip(parts, pretty):
        counts = collections.Counter()
        for ins in re.findall(r"/\*[0-9a-f]{4,}\*/\s+(.*?);", p):
            op = ins.split()[1] if ins.startswith("@") else ins.split()[0]
            base = op.split(".")[0]
            if base in ("LDG", "STG"):
                counts[base + (".128" if ".128" in op else "")] += 1
            elif base in ("LDL", "STL"):
                counts["local"] += 1
            elif base == "UBLKCP":
                counts["UBLKCP"] += 1
            elif base == "LDS" and ".128" in op:
                counts["LDS.128"] += 1
        result[name] = counts
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("lib", nargs="?", default=str(REPO / "build" / "libcuact.so"))
    ap.add_argument("--cuobjdump")
    ap.add_argument("--arch", default="90")
    ap.add_argument("--max-softmax-local", type=int, default=16,
                    help="local-memory instructions allowed per softmax kernel (default 16)")
    args = ap.parse_args()
    cuobjdump = find_cuobjdump(args.cuobjdump)
    if not cuobjdump:
        sys.exit("sass_check: no cuobjdump (see scripts/sass_budget.py --help)")
    found = kernels(cuobjdump, args.lib, args.arch)
    if not found:
        sys.exit(f"sass_check: no sm_{args.arch} kernels in {args.lib}")
    failures, checked, spilling = [], 0, 0
    for name, c in sorted(found.items()):
        short = re.sub(r"\((?:[^()]|\([^()]*\))*\)$", "", name.strip())  # without the arguments
        short = short.replace("void cuact::detail::", "").replace("cuact::detail::", "")
        is_act = "act_forward_kernel" in name or "act_backward_kernel" in name
        tier = re.search(r"SoftmaxTier\)(\d+)", name)
        if not is_act and not tier:
            continue
        checked += 1
        problems = []
        vector_io = is_act or (int(tier.group(1)) != COLUMN_TIER and softmax_vec(name) > 1)
        staged = is_act and "StagedTiles" in name and int(args.arch) >= 90
        if vector_io and not staged and c["LDG.128"] == 0:
            problems.append(f"no 16-byte global load (LDG {c['LDG']})")
        if staged and (c["UBLKCP"] == 0 or c["LDS.128"] == 0):
            problems.append(f"no bulk copy into 16-byte shared loads (UBLKCP {c['UBLKCP']}, "
                            f"LDS.128 {c['LDS.128']})")
        if vector_io and c["STG.128"] == 0:
            problems.append(f"no 16-byte global store (STG {c['STG']})")
        if c["local"]:
            if is_act:
                problems.append(f"{c['local']} local-memory instructions")
            else:
                spilling += 1
                if c["local"] > args.max_softmax_local:
                    problems.append(f"{c['local']} local-memory instructions "
                                    f"(more than {args.max_softmax_local})")
        if problems:
            failures.append(f"{short}: " + "; ".join(problems))
    for f in failures:
        print("FAIL", f)
    print(f"sass_check: {checked} kernels (sm_{args.arch}) checked, {len(failures)} failing; "
          f"{spilling} softmax kernels with a few local-memory instructions (spills)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
