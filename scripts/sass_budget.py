#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Instructions per element of every activation, read from the SASS, against the H200's budget.

    python3 scripts/sass_budget.py [--dtype bfloat16,float16] [--op gelu,mish] [--arch 90]
                                   [--cuobjdump PATH] [--json FILE]

A prediction, made without a GPU (METHOD.md: count, predict, change, measure). It compiles one
probe kernel per op, dtype and direction: one 16-byte pack loaded, the library's own per-element
code (cuact::detail::forward_pack, cuact::apply_backward; the functor with Keras's default
parameters) applied to each element, the pack stored. Then it counts that kernel's SASS, leaving out the out-of-line
cold paths (CALL targets: the double fallbacks), and divides by the elements in the pack. What is
left counts every branch of the inline code, taken or not, so it is an upper bound on the path
most elements run; the real kernel adds a few address instructions per 16-byte vector.

The budget: at the copy roof an element of the op's bytes (forward 2 * size, backward 3 * size)
leaves `issue` instruction slots (4 warp instructions per SM per clock), `mufu` special
function operations (16 per SM per clock) and half the issue slots in FP64 instructions (DFMA,
DMUL, DADD, DSETP, DMNMX: 64 lanes per SM per clock on H100/H200); MUFU and FP64 instructions
are each counted on the path with the most of them (the table's mufu and fp64 columns count
the whole inline code). Defaults are the H200's (132 SMs, 1980 MHz, the
4130 GB/s copy roof measured by cuact-bench on 2026-11-28); see --sms, --clock-mhz, --roof-gbs.
A row over the issue budget cannot run at the roof; one within 70% of it is at risk (the kernels
run at 50% occupancy, where the schedulers do not fill every slot).

L1 return: every load from L1 or shared memory returns its data to the registers at 128 bytes per
SM per clock (one 32-bit register of a warp per clock: a 16-byte load costs a warp 4 clocks
whatever its addresses), so the bytes a thread loads per element (`l1 B`: the data itself, 16
bytes a pack, and every table gather, LDG/LDS/LD on the path with the most of them; LDC reads go
through the constant cache and do not count) have a budget too: 128 bytes times the SM clocks an
element leaves at the roof. A table that is gathered by every element spends it fast: three
16-byte pieces a lookup are 48 of a float32 forward element's 65 bytes. Stores and the bulk copies'
writes to shared memory are not counted (they take the write path); the model is the tag-free
best case (a gather whose lanes touch more than 4 lines per clock costs more tag cycles).

cuobjdump: --cuobjdump, $CUOBJDUMP, PATH, or the CUDA toolkit's bin. The CPU build images carry
none; Triton's wheel does (`pip download triton --no-deps`, then unzip
`triton/backends/nvidia/bin/cuobjdump` and `nvdisasm` from it into one folder: cuobjdump runs the
nvdisasm beside it, which this script puts first on its PATH).
"""
import argparse
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parent.parent
DTYPES = {"float32": "float", "float16": "__half", "bfloat16": "__nv_bfloat16", "float64": "double"}
SIZES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8}

PROBE = r"""
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include "cuact/op_table.hpp"
#include "cuda/act_kernels.cuh"

namespace probe {
using cuact::detail::Pack;
using cuact::detail::kPackSize;
using cuact::detail::pack_get;
using cuact::detail::pack_set;

__device__ Pack load(const uint4* p) {
  const uint4 raw = p[threadIdx.x];
  Pack r;
  __builtin_memcpy(&r, &raw, sizeof r);
  return r;
}
__device__ void store(uint4* p, const Pack& v) {
  uint4 raw;
  __builtin_memcpy(&raw, &v, sizeof raw);
  p[threadIdx.x] = raw;
}

template <class Op, class T>
__global__ void fwd(const uint4* x, uint4* y, Op op) {
  store(y, cuact::detail::forward_pack<T>(op, load(x)));
}

template <class Op, class T, cuact::Saved kSaved>
__global__ void bwd(const uint4* dy, const uint4* saved, uint4* dx, Op op) {
  const Pack g = load(dy);
  const Pack s = load(saved);
  Pack out;
#pragma unroll
  for (int k = 0; k < kPackSize<T>; ++k)
    pack_set(out, k, cuact::apply_backward<kSaved>(op, pack_get<T>(g, k), pack_get<T>(s, k)));
  store(dx, out);
}
}  // namespace probe
"""


def find_cuobjdump(given):
    for c in [given, os.environ.get("CUOBJDUMP"), shutil.which("cuobjdump")]:
        if c and os.access(c, os.X_OK):
            return c
    nvcc = shutil.which("nvcc")
    if nvcc:
        c = pathlib.Path(nvcc).resolve().parent / "cuobjdump"
        if os.access(c, os.X_OK):
            return str(c)
    return None


def cuobjdump_env(cuobjdump):
    """cuobjdump -sass runs nvdisasm from PATH; put the folder cuobjdump came from first."""
    env = dict(os.environ)
    env["PATH"] = str(pathlib.Path(cuobjdump).resolve().parent) + os.pathsep + env.get("PATH", "")
    return env


def probe_source(ops, dtypes):
    lines = [PROBE]
    for op in ops:
        for dt in dtypes:
            T = DTYPES[dt]
            F = op["type"]
            lines.append(f"template __global__ void probe::fwd<{F}, {T}>(const uint4*, uint4*, {F});")
            lines.append(f"template __global__ void probe::bwd<{F}, {T}, cuact::Saved::kInput>"
                         f"(const uint4*, const uint4*, uint4*, {F});")
            if op["from_output"]:
                lines.append(f"template __global__ void probe::bwd<{F}, {T}, cuact::Saved::kOutput>"
                             f"(const uint4*, const uint4*, uint4*, {F});")
    return "\n".join(lines) + "\n"


def op_list():
    """(enum, type, name) from the one op list, and whether each has a y-based derivative."""
    text = (REPO / "include/cuact/op_table.hpp").read_text()
    ops = [{"enum": e, "type": t, "name": n}
           for e, t, n in re.findall(r'X\((k\w+), (::cuact::\w+), "(\w+)"\)', text)]
    functors = (REPO / "include/cuact/functors.cuh").read_text()
    for op in ops:
        struct = op["type"].split("::")[-1]
        m = re.search(r"struct %s \{(.*?)\n\};" % struct, functors, re.S)
        op["from_output"] = bool(m and "kHasOutputDerivative = true" in m.group(1))
    return ops


# SASS opcode classes. The FP32 pipe and the integer/logic pipes all take an issue slot per warp
# instruction; MUFU takes one slot and 2 cycles of the SM's 16 lanes per clock per warp quarter.
def opclass(op):
    base = op.split(".")[0]
    if base == "MUFU":
        return "mufu"
    if base in ("FFMA", "FMUL", "FADD", "FMNMX", "FSEL", "FSETP", "FSET", "FCHK", "FSWZADD",
                "HFMA2", "HADD2", "HMUL2", "HMNMX2", "HSETP2", "FRND"):
        return "fp32"
    if base in ("DFMA", "DMUL", "DADD", "DSETP", "DMNMX"):
        return "fp64"
    if base in ("F2F", "F2FP", "I2F", "F2I", "I2FP", "F2IP"):
        return "cvt"
    if base in ("LDG", "STG", "LDS", "STS", "LDL", "STL", "LDC", "ULDC", "LD", "ST"):
        return "mem"
    if base in ("BRA", "BSSY", "BSYNC", "CALL", "RET", "EXIT", "WARPSYNC", "NOP", "BREAK", "JMP"):
        return "ctrl"
    return "int"


def load_bytes(ins):
    """Bytes one thread's load returns through L1 (at least a register), 0 for other instructions."""
    op = ins["raw"].split()[0]
    if op.split(".")[0] not in ("LDG", "LDS", "LD"):
        return 0
    for width, nbytes in ((".128", 16), (".64", 8)):
        if width in op:
            return nbytes
    return 4


def parse_sass(text):
    """{mangled name: [(address, opcode)]}"""
    funcs, cur = {}, None
    for line in text.splitlines():
        m = re.match(r"\s*Function : (\S+)", line)
        if m:
            cur = funcs.setdefault(m.group(1), [])
            continue
        m = re.match(r"\s*/\*([0-9a-f]{4,})\*/\s+(.*?);", line)
        if m and cur is not None:
            ins = m.group(2).strip()
            pred = None
            if ins.startswith("@"):
                pred, ins = ins.split(None, 1)
            cur.append((int(m.group(1), 16), {"raw": ins, "pred": pred}))
    return funcs


def path_lengths(body, weight=lambda ins: 1):
    """Shortest and longest instruction count (or sum of weight(ins)) from entry to exit over the
    body's control flow.

    The probe kernels have no loops, so every branch goes forward and the paths form a DAG;
    a backward branch (none expected) is not followed."""
    n = len(body)
    addr_index = {a: i for i, (a, _) in enumerate(body)}
    INF = float("inf")
    lo, hi = [INF] * (n + 1), [-INF] * (n + 1)  # best counts on reaching instruction i
    lo[0] = hi[0] = 0
    for i, (addr, ins) in enumerate(body):
        if lo[i] == INF:
            continue  # unreachable
        w = weight(ins)
        lo_i, hi_i = lo[i] + w, hi[i] + w  # this instruction counted
        raw = ins["raw"]
        succ = []
        m = re.match(r"(?:JMP|BRA)\S*\s+(?:!?U?P\w+,\s*)?`?\(?(0x[0-9a-f]+)", raw)
        if m:
            t = addr_index.get(int(m.group(1), 16))
            if t is not None and t > i:
                succ.append(t)
            if ins["pred"] or re.match(r"BRA\S*\s+!?U?P\w+,", raw):
                succ.append(i + 1)
        elif raw.startswith("EXIT") or raw.startswith("RET"):
            if ins["pred"]:
                succ.append(i + 1)
            else:
                succ.append(n)
        else:
            succ.append(i + 1)
        for j in succ:
            j = min(j, n)
            lo[j] = min(lo[j], lo_i)
            hi[j] = max(hi[j], hi_i)
    return lo[n], hi[n]


def hot_body(instrs):
    """The instructions before the first out-of-line callee, without the trailing padding."""
    targets = []
    for _, ins in instrs:
        m = re.match(r"CALL\.REL\S*\s+(?:\S+\s+)?`?\(?(0x[0-9a-f]+)", ins["raw"])
        if m:
            targets.append(int(m.group(1), 16))
    end = min(targets) if targets else float("inf")
    body = [(addr, ins) for addr, ins in instrs if addr < end]
    while body and (body[-1][1]["raw"].startswith("NOP") or
                    re.match(r"BRA\b", body[-1][1]["raw"])):
        body.pop()  # the self-branch after EXIT and the alignment NOPs
    return body, len(targets)


BEGIN = "<!-- sass-budget:begin (scripts/sass_budget.py) -->"
END = "<!-- sass-budget:end -->"


def write_readme(path, rows, dtypes, args):
    """Per op: the longest path per element and its share of the issue budget, per dtype and
    direction, between the README's sass-budget markers."""
    dirs = ["fwd", "bwd(x)", "bwd(y)"]
    by = {(r["op"], r["dtype"], r["direction"]): r for r in rows}
    ops = []
    for r in rows:
        if r["op"] not in ops:
            ops.append(r["op"])
    head = ["op"] + [f"{d} {x}" for d in dtypes for x in dirs]
    lines = [BEGIN,
             f"Shortest–longest path per element through the inline code, in instructions, with the "
             f"longest as a % of the issue slots an element leaves at {args.roof_gbs:.0f} GB/s on "
             f"{args.sms} SMs at {args.clock_mhz:.0f} MHz, or, where it is the tighter limit and "
             f"named so, of the FP64 pipe's slots (half as many: `fp64`) or of the L1's return "
             f"bandwidth (128 bytes per SM-clock: `L1`, the data and the table gathers an element "
             f"loads). Keras's default parameters; the longest "
             f"path may be one only some inputs or parameters take (relu's is the general "
             f"parameters'); sm_{args.arch}, from `scripts/sass_budget.py --dtype {','.join(dtypes)} "
             f"--write README.md`:",
             "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for op in ops:
        cells = [op]
        for d in dtypes:
            for x in dirs:
                r = by.get((op, d, x))
                if not r:
                    cells.append("–")
                    continue
                # The tightest of the three limits, named where it is not the issue slots.
                use, limit = max((r["issue_use"], ""), (r["fp64_use"], " fp64"), (r["l1_use"], " L1"))
                cells.append(f"{r['path_min']:.0f}–{r['path_max']:.0f} ({use:.0%}{limit})")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append(END)
    readme = pathlib.Path(path)
    text = readme.read_text()
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        sys.exit(f"sass_budget: {path} has no sass-budget markers")
    readme.write_text(pattern.sub(lambda _: "\n".join(lines), text))
    print(f"updated {path}", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dtype", default="bfloat16,float16,float32,float64")
    ap.add_argument("--op", default="", help="comma-separated op names (default: all)")
    ap.add_argument("--arch", default="90")
    ap.add_argument("--cuobjdump")
    ap.add_argument("--sms", type=int, default=132)
    ap.add_argument("--clock-mhz", type=float, default=1980)
    ap.add_argument("--roof-gbs", type=float, default=4130)
    ap.add_argument("--json", help="write the rows here as well")
    ap.add_argument("--keep", help="keep the probe source and cubin in this folder")
    ap.add_argument("--write", help="README to update between the sass-budget markers with a "
                                    "compact table (longest path per element, %% of the issue budget)")
    args = ap.parse_args()

    cuobjdump = find_cuobjdump(args.cuobjdump)
    if not cuobjdump:
        sys.exit("sass_budget: no cuobjdump (see --help for where to get one)")
    dtypes = [d for d in args.dtype.split(",") if d]
    for d in dtypes:
        if d not in DTYPES:
            sys.exit(f"sass_budget: unknown dtype {d}")
    ops = op_list()
    if args.op:
        wanted = set(args.op.split(","))
        unknown = wanted - {o["name"] for o in ops}
        if unknown:
            sys.exit(f"sass_budget: unknown op(s) {', '.join(sorted(unknown))}")
        ops = [o for o in ops if o["name"] in wanted]

    work = pathlib.Path(args.keep or tempfile.mkdtemp(prefix="cuact-sass-"))
    work.mkdir(parents=True, exist_ok=True)
    src, cubin = work / "probe.cu", work / "probe.cubin"
    src.write_text(probe_source(ops, dtypes))
    cmd = ["nvcc", "-cubin", f"-arch=sm_{args.arch}", "-O3", "-DNDEBUG", "-std=c++17",
           "--expt-relaxed-constexpr", "-I", str(REPO / "include"), "-I", str(REPO),
           str(src), "-o", str(cubin)]
    print("+", " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True)
    sass = subprocess.run([cuobjdump, "-sass", str(cubin)], check=True, capture_output=True,
                          env=cuobjdump_env(cuobjdump),
                          text=True).stdout
    funcs = parse_sass(sass)
    names = list(funcs)
    demangled = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True,
                               text=True, check=True).stdout.splitlines()

    issue_per_s = args.sms * 4 * 32 * args.clock_mhz * 1e6  # thread instructions
    mufu_per_s = args.sms * 16 * args.clock_mhz * 1e6
    fp64_per_s = args.sms * 64 * args.clock_mhz * 1e6  # 64 FP64 lanes per SM: half the issue rate
    l1_bytes_per_s = args.sms * 128 * args.clock_mhz * 1e6  # L1/shared return: 128 B per SM-clock
    rows = []
    for mangled, pretty in zip(names, demangled):
        m = re.match(r"void probe::(fwd|bwd)<(::)?cuact::(\w+), ([\w:]+)(?:, \(cuact::Saved\)(\d))?>",
                     pretty)
        if not m:
            continue
        direction = "fwd" if m.group(1) == "fwd" else ("bwd(y)" if m.group(5) == "1" else "bwd(x)")
        dtype = {v: k for k, v in DTYPES.items()}[m.group(4)]
        name = next(o["name"] for o in ops if o["type"].endswith("::" + m.group(3)))
        body, calls = hot_body(funcs[mangled])
        per = 16 // SIZES[dtype]
        counts = {}
        for _, ins in body:
            c = opclass(ins["raw"].split()[0])
            counts[c] = counts.get(c, 0) + 1
        shortest, longest = path_lengths(body)
        fp64_longest = path_lengths(body, lambda ins: opclass(ins["raw"].split()[0]) == "fp64")[1]
        mufu_longest = path_lengths(body, lambda ins: opclass(ins["raw"].split()[0]) == "mufu")[1]
        l1_longest = path_lengths(body, load_bytes)[1]
        streams = 2 if direction == "fwd" else 3
        elems_per_s = args.roof_gbs * 1e9 / (streams * SIZES[dtype])
        issue_budget = issue_per_s / elems_per_s
        mufu_budget = mufu_per_s / elems_per_s
        fp64_budget = fp64_per_s / elems_per_s
        l1_budget = l1_bytes_per_s / elems_per_s
        total = longest / per
        rows.append({
            "op": name, "dtype": dtype, "direction": direction,
            "path_min": round(shortest / per, 2), "path_max": round(longest / per, 2),
            "instructions": round(len(body) / per, 2),
            "fp32": round(counts.get("fp32", 0) / per, 2),
            "mufu": round(counts.get("mufu", 0) / per, 2),
            "fp64": round(counts.get("fp64", 0) / per, 2),
            "cvt": round(counts.get("cvt", 0) / per, 2),
            "int": round(counts.get("int", 0) / per, 2),
            "cold_calls": calls,
            "issue_budget": round(issue_budget, 1),
            "mufu_budget": round(mufu_budget, 2),
            "issue_use": round(total / issue_budget, 2),
            "mufu_use": round(mufu_longest / per / mufu_budget, 2),  # on its own longest path
            "fp64_path": round(fp64_longest / per, 2),
            "fp64_budget": round(fp64_budget, 1),
            "fp64_use": round(fp64_longest / per / fp64_budget, 2),
            "l1_bytes": round(l1_longest / per, 2),
            "l1_budget": round(l1_budget, 1),
            "l1_use": round(l1_longest / per / l1_budget, 2),
        })
    order = {o["name"]: i for i, o in enumerate(ops)}
    rows.sort(key=lambda r: (dtypes.index(r["dtype"]), order[r["op"]], r["direction"]))

    print(f"budget per element at {args.roof_gbs:.0f} GB/s, {args.sms} SMs, {args.clock_mhz:.0f} MHz: "
          "issue slots / MUFU ops / FP64 instructions / L1 bytes (forward; backward moves 3/2 the "
          "bytes per element, so it has 3/2 of each)")
    for dt in dtypes:
        fw = next((r for r in rows if r["dtype"] == dt and r["direction"] == "fwd"), None)
        if fw:
            print(f"  {dt}: {fw['issue_budget']} / {fw['mufu_budget']} / {fw['fp64_budget']} / "
                  f"{fw['l1_budget']}")
    print()
    hdr = ("op", "dtype", "dir", "path min", "path max", "code", "fp32", "mufu", "fp64",
           "fp64 path", "cvt", "int", "cold calls", "l1 B", "issue use", "mufu use", "fp64 use",
           "l1 use", "")
    print("| " + " | ".join(hdr) + " |")
    print("|" + "---|" * len(hdr))
    for r in rows:
        use = max(r["issue_use"], r["mufu_use"], r["fp64_use"], r["l1_use"])
        flag = "OVER" if use > 1.0 else ("risk" if use > 0.7 else "")
        print(f"| {r['op']} | {r['dtype']} | {r['direction']} | {r['path_min']:.1f} | {r['path_max']:.1f} | "
              f"{r['instructions']:.1f} | {r['fp32']:.1f} | {r['mufu']:.2f} | {r['fp64']:.1f} | "
              f"{r['fp64_path']:.1f} | {r['cvt']:.1f} | {r['int']:.1f} | {r['cold_calls']} | "
              f"{r['l1_bytes']:.0f} | {r['issue_use']:.0%} | {r['mufu_use']:.0%} | "
              f"{r['fp64_use']:.0%} | {r['l1_use']:.0%} | {flag} |")
    if args.write:
        write_readme(args.write, rows, dtypes, args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"arch": args.arch, "sms": args.sms, "clock_mhz": args.clock_mhz,
                       "roof_gbs": args.roof_gbs, "rows": rows}, f, indent=1)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
