#!/usr/bin/env bash
# Nsight Compute on the few kernels whose limit the SASS budget cannot settle from here: the ones
# that gather tables (README, Profiling: the L1 return budget), next to a plain copy-like op.
# Meant for a second device call after scripts/gpu-check.sh, with the same carried build:
#
#   scripts/gpu-profile.sh BUILD_DIR [LOG_DIR]        (LOG_DIR defaults to $OUT, else ./gpu-profile)
#
# Per case: one launch of its kernel under ncu (--clock-control none: the clocks stay as the
# bench saw them), the SpeedOfLight, ComputeWorkloadAnalysis, MemoryWorkloadAnalysis and
# Occupancy sections as CSV (profile-<case>.csv), and one line per case in profile.txt with the
# figures that say which limit binds: DRAM and L1/TEX throughput, issue slots busy, achieved
# occupancy. Each ncu run has its own timeout (GPU_PROFILE_TIMEOUT, default 35 s, so the 8
# default cases stay under a 300 s device call), and a hung one costs one case, not the call.
#   GPU_PROFILE_CASES   comma-separated bench cases (default below)
set -uo pipefail

build_dir=${1:?usage: scripts/gpu-profile.sh BUILD_DIR [LOG_DIR]}
log_dir=${2:-${OUT:-$PWD/gpu-profile}}
mkdir -p "$log_dir"
bench="$build_dir/bench/cuact-bench"
default_cases="act/linear/float32/fwd,act/sigmoid/float32/fwd,act/gelu_tanh/float32/fwd"
default_cases+=",act/gelu/float32/fwd,act/gelu/float64/fwd,act/softplus/float64/fwd"
default_cases+=",act/gelu/bfloat16/fwd,act/gelu_tanh/float32/bwd_x"
IFS=, read -r -a cases <<<"${GPU_PROFILE_CASES:-$default_cases}"

ncu_bin=$(command -v ncu || true)
for candidate in /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu; do
  [[ -z $ncu_bin && -x $candidate ]] && ncu_bin=$candidate
done
summary="$log_dir/profile.txt"
if [[ -z $ncu_bin ]]; then
  echo "gpu-profile: no ncu found" | tee "$summary"
  exit 2
fi
if [[ ! -x $bench ]]; then
  echo "gpu-profile: no bench binary $bench" | tee "$summary"
  exit 2
fi
{
  echo "gpu-profile  $(date -u +%Y-%m-%dT%H:%M:%SZ)  $("$ncu_bin" --version | tail -n 1)"
  nvidia-smi --query-gpu=name,clocks.sm,clocks.mem --format=csv,noheader 2>/dev/null || true
} >"$summary"

status=0
for c in "${cases[@]}"; do
  direction=forward
  [[ $c == */bwd* ]] && direction=backward
  csv="$log_dir/profile-${c//\//_}.csv"
  timeout -k 5 "${GPU_PROFILE_TIMEOUT:-35}" "$ncu_bin" --clock-control none \
    --kernel-name-base demangled --kernel-name "regex:act_${direction}_kernel" --launch-count 1 \
    --section SpeedOfLight --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis \
    --section Occupancy --csv --page details \
    "$bench" --filter "$c" --iters 1 >"$csv" 2>"$csv.err"
  rc=$?
  if [[ $rc -ne 0 ]]; then
    echo "$c: ncu exit $rc (see $(basename "$csv").err)" >>"$summary"
    status=1
    continue
  fi
  rm -f "$csv.err"
  python3 - "$c" "$csv" >>"$summary" <<'PY'
import csv, sys
case, path = sys.argv[1], sys.argv[2]
with open(path, newline="") as f:
    rows = [r for r in csv.reader(f) if len(r) > 4]
head = next((r for r in rows if "Metric Name" in r), None)
if head is None:
    print(f"{case}: no metrics in {path}")
    sys.exit(0)
name_i, unit_i, value_i = head.index("Metric Name"), head.index("Metric Unit"), head.index("Metric Value")
kernel_i = head.index("Kernel Name") if "Kernel Name" in head else None
want = ["Duration", "DRAM Throughput", "Memory Throughput", "L1/TEX Cache Throughput",
        "Issue Slots Busy", "Executed Ipc Active", "Achieved Occupancy", "Registers Per Thread"]
got, kernel = {}, ""
for r in rows[rows.index(head) + 1:]:
    if r[name_i] in want and r[name_i] not in got:
        got[r[name_i]] = f"{r[value_i]} {r[unit_i]}".strip()
        if kernel_i is not None:
            kernel = r[kernel_i]
print(f"{case}: " + "; ".join(f"{k} {got[k]}" for k in want if k in got))
if kernel:
    print(f"    {kernel[:160]}")
PY
done
exit $status
