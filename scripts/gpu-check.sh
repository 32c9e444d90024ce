#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The whole GPU check of cuact in one script, for a machine with an NVIDIA GPU (H100/H200) and no
# network. The GPU machine compiles nothing: build on a CPU machine first, carry the build folder.
#
#   scripts/gpu-check.sh --build [BUILD_DIR]          # on the CPU machine: configure + build
#   scripts/gpu-check.sh [--save] [BUILD_DIR] [LOG_DIR]  # on the GPU machine: check
#
# BUILD_DIR defaults to <repo>/build-sm90; LOG_DIR to $OUT when set, else ./gpu-check-logs.
# Relative paths given on the command line are taken from the current directory.
#
# Check steps, each with its own log in LOG_DIR and its exit status in LOG_DIR/summary.txt:
#   gpu-info    nvidia-smi -L, driver, clocks, ECC (read-only queries)        head of summary.txt
#   ctest       CUACT_REQUIRE_GPU=1 ctest --output-on-failure (no tests: fail)  ctest.log
#   memcheck, racecheck, initcheck, synccheck
#               compute-sanitizer on BUILD_DIR/tests/cuact_gpu_tests,
#               --gtest_filter=$GPU_CHECK_SANITIZER_FILTER                   sanitizer-<tool>.log
#               (the four tools' logs one after another)                    sanitizers.log
#   bench       BUILD_DIR/bench/cuact-bench --json LOG_DIR/bench.json        bench.txt, bench.json
#   tuning      cuact-bench --softmax-tuning --json LOG_DIR/tuning.json      tuning.txt, tuning.json
#               (the plans other softmax planner thresholds give, timed: the data to set them)
# A failing step does not stop the next; the script exits 1 if any step failed. That is 7 files
# in LOG_DIR (the device tool brings back at most 8 from $OUT).
# --save also copies the bench and tuning output to bench/results/<date>-<gpu>-<commit>.{txt,json}
# and <date>-<gpu>-<commit>-tuning.{txt,json}.
#
# Environment (defaults):
#   GPU_CHECK_SANITIZER_FILTER  *Sanitizer*:*Smoke*   gtest filter for the sanitizer runs
#   GPU_CHECK_CTEST_TIMEOUT     180                   seconds
#   GPU_CHECK_SANITIZER_TIMEOUT 60                    seconds, each tool
#   GPU_CHECK_BENCH_TIMEOUT     140                   seconds
#   GPU_CHECK_BENCH_ARGS        (none)                extra cuact-bench arguments, e.g. --quick
#   GPU_CHECK_TUNING_TIMEOUT    30                    seconds (it should take about 10)
#   GPU_CHECK_JOBS              2                     parallel build jobs for --build
#   GPU_CHECK_CTEST_JOBS        8                     tests run in parallel (their CPU reference work dominates)
#   GPU_CHECK_CTEST_EXCLUDE     SoftmaxEmulation|GpuEmulator|package_consumers|FmaContraction
#                                                     ctest -E: CPU-only tests CI runs anyway
#                                                     (the kernels on the CPU emulation, ~60 s;
#                                                     the install and find_package check, which
#                                                     compiles); empty: run every test
# The timeouts add up to 590 s, so one device call (600 s at most) holds the whole check.
set -u

readonly carry_limit_bytes=$((64 * 1024 * 1024))  # what the device tool carries, all paths together

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() {
  sed -n '4,/^set -u$/p' "${BASH_SOURCE[0]}" | sed -e '/^set -u$/d' -e 's/^# \{0,1\}//'
}

die() {
  echo "gpu-check: $*" >&2
  exit 2
}

# Absolute form of a path given on the command line (relative to the current directory).
abspath() {
  case $1 in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s/%s\n' "$PWD" "$1" ;;
  esac
}

mib() {
  awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'
}

# ---- build (CPU machine) -------------------------------------------------------------------------

report_build_size() {
  local dir=$1 bytes objects
  bytes=$(du -sb "$dir" | cut -f1)
  echo "build folder $dir: $(mib "$bytes") (limit to carry to the GPU machine: $(mib "$carry_limit_bytes"), working tree included)"
  if ((bytes < carry_limit_bytes)); then
    echo "ok: carry it, e.g. run(carry=[\"${dir#"$repo_root"/}\"], command=\"scripts/gpu-check.sh ${dir#"$repo_root"/}\")"
    return 0
  fi
  echo "too big to carry; the largest files:"
  find "$dir" -type f -size +1M -printf '%s\t%p\n' | sort -rn | head -n 20 |
    while IFS=$'\t' read -r size path; do
      printf '  %10s  %s\n' "$(mib "$size")" "$path"
    done
  objects=$(find "$dir" -type f -name '*.o' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
  echo "object files (*.o) make up $(mib "$objects"); the GPU machine does not need them"
  return 1
}

build() {
  local dir=$1
  cd "$repo_root" || die "cannot enter $repo_root"
  # sm_90 alone, line tables for Nsight Compute, and the smallest fatbinaries: the folder must
  # stay under the device tool's 64 MiB carry.
  local flags=(-DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 -DCUACT_LINEINFO=ON
               -DCUACT_FATBIN_COMPRESSION=size)
  echo "+ cmake -S . -B $dir ${flags[*]}"
  cmake -S . -B "$dir" "${flags[@]}" || return 1
  echo "+ cmake --build $dir -j${GPU_CHECK_JOBS:-2}"
  cmake --build "$dir" -j"${GPU_CHECK_JOBS:-2}" || return 1
  # ctest finds gtest's tests with a script of this machine's CMake (GoogleTestAddTests.cmake),
  # named by absolute path in each tests/*_include.cmake; the GPU machine may have another CMake
  # version (it had 4.4 where this one has 3.25, and ctest failed). Carry the script along.
  local module include_file
  module=$(sed -n 's/^ *include("\(.*GoogleTestAddTests.cmake\)").*/\1/p' "$dir"/tests/*_include.cmake | head -n 1)
  if [[ -n $module && -f $module ]]; then
    cp "$module" "$dir/GoogleTestAddTests.cmake" || return 1
    for include_file in "$dir"/tests/*_include.cmake; do
      sed -i "s|include(\"$module\")|include(\"$dir/GoogleTestAddTests.cmake\")|" "$include_file" || return 1
    done
  fi
  # The commit the binaries were built from (-dirty: with uncommitted changes), read by check
  # mode into CUACT_GIT_COMMIT for the bench: CMake's own stamp dates from the last configure.
  git -C "$repo_root" describe --always --dirty --abbrev=7 --exclude='*' >"$dir/cuact-commit.txt" 2>/dev/null ||
    rm -f "$dir/cuact-commit.txt"
  # The GPU machine runs the binaries and ctest's lists only: drop what only a rebuild needs, so
  # the folder fits the carry limit (the next --build recompiles from scratch).
  echo "+ pruning object files and CMake's compiler-id scratch from $dir"
  find "$dir" -type f -name '*.o' -delete
  rm -rf "$dir"/CMakeFiles/[0-9]*/CompilerId*
  report_build_size "$dir" || return 1
  # The kernels' memory instructions, read from the SASS here for free (scripts/sass_check.py):
  # 16-byte global loads and stores in every vector kernel, no local memory in the elementwise
  # ones. It needs a cuobjdump ($CUOBJDUMP or PATH; the CPU images have none, see the README).
  if python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import sass_budget; sys.exit(sass_budget.find_cuobjdump(None) is None)' "$repo_root/scripts"; then
    echo "+ scripts/sass_check.py $dir/libcuact.so"
    python3 "$repo_root/scripts/sass_check.py" "$dir/libcuact.so" || return 1
  else
    echo "note: no cuobjdump, so the SASS check (scripts/sass_check.py) did not run"
  fi
}

# ---- check (GPU machine) -------------------------------------------------------------------------

failed=0

# record NAME RC SECONDS LOG: one line of summary.txt, written at once so a run cut short by an
# outer time limit still leaves the statuses of the steps that finished.
record() {
  local name=$1 rc=$2 secs=$3 log=$4 verdict=PASS
  if ((rc == 124 || rc == 137)); then
    verdict=TIMEOUT
  elif ((rc != 0)); then
    verdict=FAIL
  fi
  ((rc == 0)) || failed=1
  printf '%-8s %-10s rc=%-3s %4ss  %s\n' "$verdict" "$name" "$rc" "$secs" "${log##*/}" |
    tee -a "$log_dir/summary.txt"
}

# step NAME LOG SHOW CMD...: runs CMD with its output in LOG. SHOW=tee streams the output too;
# SHOW=tail prints only the last lines once it is done.
step() {
  local name=$1 log=$2 show=$3 start=$SECONDS rc
  shift 3
  echo
  echo "== $name: $*"
  if [[ $show == tee ]]; then
    "$@" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
  else
    "$@" >"$log" 2>&1
    rc=$?
    tail -n 4 "$log"
  fi
  record "$name" "$rc" $((SECONDS - start)) "$log"
}

# Marks a step failed without running it (a tool or a binary is missing).
skip_step() {
  local name=$1 log=$2 why=$3
  echo
  echo "== $name: not run: $why" | tee "$log"
  record "$name" 127 0 "$log"
}

find_sanitizer() {
  local candidate
  if command -v compute-sanitizer >/dev/null 2>&1; then
    command -v compute-sanitizer
    return 0
  fi
  for candidate in "${CUDA_HOME:-/nonexistent}/bin" "${CUDA_HOME:-/nonexistent}/compute-sanitizer" \
    /usr/local/cuda/bin /usr/local/cuda/compute-sanitizer; do
    if [[ -x $candidate/compute-sanitizer ]]; then
      printf '%s\n' "$candidate/compute-sanitizer"
      return 0
    fi
  done
  return 1
}

# CMake records absolute paths (ctest's test list, the binaries' RPATH to libcuact). When the
# build folder was made elsewhere and carried here, point the recorded paths at the copies.
relink_recorded_paths() {
  local recorded_build recorded_src
  recorded_build=$(sed -n 's/^CMAKE_CACHEFILE_DIR:INTERNAL=//p' "$build_dir/CMakeCache.txt")
  recorded_src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build_dir/CMakeCache.txt")
  link_if_missing "$recorded_build" "$build_dir"
  link_if_missing "$recorded_src" "$repo_root"
  # Belt and braces for the binaries run directly: find libcuact wherever it was built.
  local lib
  lib=$(find "$build_dir" -name 'libcuact.so*' -print -quit 2>/dev/null)
  [[ -n $lib ]] && export LD_LIBRARY_PATH="${lib%/*}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
}

link_if_missing() {
  local recorded=$1 actual=$2
  [[ -z $recorded ]] && return 0
  [[ $(cd "$actual" && pwd -P) == "$(cd "$recorded" 2>/dev/null && pwd -P)" ]] && return 0
  if [[ -e $recorded ]]; then
    echo "warning: the build refers to $recorded, which exists and is not $actual: it is what runs"
    return 0
  fi
  if mkdir -p "${recorded%/*}" && ln -s "$actual" "$recorded"; then
    echo "note: linked $recorded -> $actual (the build was made at that path)"
  else
    echo "warning: could not link $recorded -> $actual: ctest may not find its tests"
  fi
}

gpu_info() {
  echo "gpu-check $(date -u +%Y-%m-%dT%H:%M:%SZ), build $build_dir"
  nvidia-smi -L || return 1
  nvidia-smi --format=csv --query-gpu=name,driver_version,memory.total,ecc.mode.current,clocks.sm,clocks.mem,clocks.max.sm,clocks.max.mem,power.limit
  echo "kernel $(uname -r)"
  command -v ctest >/dev/null && ctest --version | head -n 1
  [[ -n $sanitizer ]] && "$sanitizer" --version | tail -n 1
  return 0
}

# The card's description opens summary.txt (as '# ' lines), which keeps LOG_DIR at 8 files.
gpu_info_step() {
  local rc
  echo "== gpu-info"
  gpu_info 2>&1 | sed 's/^/# /' | tee "$log_dir/summary.txt"
  rc=${PIPESTATUS[0]}
  record gpu-info "$rc" 0 "$log_dir/summary.txt"
}

# A short name for the card, for file names: "NVIDIA H200" -> "nvidia-h200".
gpu_slug() {
  local name
  name=$(sed -n 's/.*"device": {[^}]*"name": "\([^"]*\)".*/\1/p' "$log_dir/bench.json" | head -n 1)
  [[ -z $name ]] && name=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1)
  printf '%s\n' "${name:-unknown-gpu}" | tr '[:upper:]' '[:lower:]' | tr -cs 'a-z0-9' '-' |
    sed 's/^-//; s/-$//'
}

bench_commit() {
  local commit
  commit=$(sed -n 's/.*"git_commit": "\([^"]*\)".*/\1/p' "$log_dir/bench.json" | head -n 1)
  [[ -z $commit || $commit == unknown ]] && commit=$(git -C "$repo_root" rev-parse --short HEAD 2>/dev/null)
  printf '%s\n' "${commit:-unknown}"
}

save_results() {
  local base
  base="$repo_root/bench/results/$(date -u +%Y-%m-%d)-$(gpu_slug)-$(bench_commit)"
  mkdir -p "$repo_root/bench/results" &&
    cp "$log_dir/bench.txt" "$base.txt" && cp "$log_dir/bench.json" "$base.json" &&
    echo "saved $base.txt and $base.json" || return 1
  if grep -q '^PASS *tuning ' "$log_dir/summary.txt"; then
    cp "$log_dir/tuning.txt" "$base-tuning.txt" && cp "$log_dir/tuning.json" "$base-tuning.json" &&
      echo "saved $base-tuning.txt and $base-tuning.json"
  fi
}

check() {
  [[ -d $build_dir ]] || die "no build folder $build_dir (build it first: scripts/gpu-check.sh --build)"
  mkdir -p "$log_dir" || die "cannot create $log_dir"
  export CUACT_REQUIRE_GPU=1  # a test that finds no GPU fails instead of skipping
  if [[ -s $build_dir/cuact-commit.txt ]]; then
    CUACT_GIT_COMMIT=$(head -n 1 "$build_dir/cuact-commit.txt")
    export CUACT_GIT_COMMIT
  fi
  relink_recorded_paths

  sanitizer=$(find_sanitizer) || sanitizer=""
  gpu_info_step

  local exclude=()
  local excluded="${GPU_CHECK_CTEST_EXCLUDE-SoftmaxEmulation|GpuEmulator|package_consumers|FmaContraction}"
  [[ -n $excluded ]] && exclude=(-E "$excluded")
  step ctest "$log_dir/ctest.log" tee \
    timeout -k 10 "${GPU_CHECK_CTEST_TIMEOUT:-180}" ctest --test-dir "$build_dir" --output-on-failure --no-tests=error -j "${GPU_CHECK_CTEST_JOBS:-8}" "${exclude[@]}"

  local tool test_bin="$build_dir/tests/cuact_gpu_tests"
  local filter="${GPU_CHECK_SANITIZER_FILTER:-*Sanitizer*:*Smoke*}"
  for tool in memcheck racecheck initcheck synccheck; do
    if [[ -z $sanitizer ]]; then
      skip_step "$tool" "$log_dir/sanitizer-$tool.log" "compute-sanitizer not found"
    elif [[ ! -x $test_bin ]]; then
      skip_step "$tool" "$log_dir/sanitizer-$tool.log" "no test binary $test_bin"
    else
      step "$tool" "$log_dir/sanitizer-$tool.log" tail \
        timeout -k 10 "${GPU_CHECK_SANITIZER_TIMEOUT:-60}" "$sanitizer" --tool "$tool" \
        --error-exitcode=1 "$test_bin" --gtest_filter="$filter"
    fi
  done
  # One file for the four (the device tool brings back 8 files at most).
  for tool in memcheck racecheck initcheck synccheck; do
    echo "==== $tool"
    cat "$log_dir/sanitizer-$tool.log"
  done >"$log_dir/sanitizers.log" && rm -f "$log_dir"/sanitizer-*.log

  local bench_bin="$build_dir/bench/cuact-bench" bench_args=()
  read -r -a bench_args <<<"${GPU_CHECK_BENCH_ARGS:-}"
  if [[ -x $bench_bin ]]; then
    step bench "$log_dir/bench.txt" tee \
      timeout -k 10 "${GPU_CHECK_BENCH_TIMEOUT:-140}" "$bench_bin" --json "$log_dir/bench.json" \
      "${bench_args[@]}"
  else
    skip_step bench "$log_dir/bench.txt" "no bench binary $bench_bin"
  fi
  if [[ -x $bench_bin ]]; then
    step tuning "$log_dir/tuning.txt" tail \
      timeout -k 10 "${GPU_CHECK_TUNING_TIMEOUT:-30}" "$bench_bin" --softmax-tuning \
      --json "$log_dir/tuning.json"
  else
    skip_step tuning "$log_dir/tuning.txt" "no bench binary $bench_bin"
  fi

  if ((save)); then
    if grep -q '^PASS *bench ' "$log_dir/summary.txt"; then
      save_results || failed=1
    else
      echo "not saving: the bench did not pass"
    fi
  fi

  echo
  echo "== summary ($log_dir/summary.txt)"
  grep -E '^(PASS|FAIL|TIMEOUT) ' "$log_dir/summary.txt"
  if ((failed)); then
    echo "gpu-check: FAILED"
    return 1
  fi
  echo "gpu-check: all steps passed"
}

# ---- command line --------------------------------------------------------------------------------

mode=check
save=0
args=()
for arg in "$@"; do
  case $arg in
    --build) mode=build ;;
    --save) save=1 ;;
    -h | --help)
      usage
      exit 0
      ;;
    -*) die "unknown option $arg (try --help)" ;;
    *) args+=("$arg") ;;
  esac
done
((${#args[@]} <= 2)) || die "too many arguments (try --help)"

if ((${#args[@]} >= 1)); then
  build_dir=$(abspath "${args[0]}")
else
  build_dir="$repo_root/build-sm90"
fi
if ((${#args[@]} >= 2)); then
  log_dir=$(abspath "${args[1]}")
elif [[ -n ${OUT:-} ]]; then
  log_dir=$(abspath "$OUT")
else
  log_dir="$PWD/gpu-check-logs"
fi

if [[ $mode == build ]]; then
  build "$build_dir"
else
  check
fi
