#!/usr/bin/env bash
# Regenerates the README accuracy table from what tests/functors_host_test.cpp measures.
#   scripts/update-accuracy-table.sh [BUILD_DIR]     (default: build)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$repo/build}
bin=$build/tests/cuact_functor_tests
[ -x "$bin" ] || { echo "update-accuracy-table: build $bin first" >&2; exit 2; }
table=$(mktemp)
trap 'rm -f "$table"' EXIT
CUACT_ACCURACY_TABLE=$table "$bin" >/dev/null
[ -s "$table" ] || { echo "update-accuracy-table: the test wrote no table" >&2; exit 1; }
python3 - "$repo/README.md" "$table" <<'PY'
import sys
readme, table = sys.argv[1], open(sys.argv[2]).read().strip()
text = open(readme).read()
begin, end = "<!-- accuracy-table:begin -->", "<!-- accuracy-table:end -->"
head, rest = text.split(begin, 1)
_, tail = rest.split(end, 1)
open(readme, "w").write(head + begin + "\n" + table + "\n" + end + tail)
PY
echo "README accuracy table updated"
