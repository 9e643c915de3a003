#!/usr/bin/env bash
# `make fuzz`: every fuzz target in BUILD_DIR runs for FUZZ_SECONDS (default 300) with its
# corpus fuzz/corpus/<target> as the first (written) directory, so new inputs that reach new
# code are kept and the corpus grows; `make test` replays it (fuzz/run.sh, read-only). No
# merge pass: it could drop an input kept as a regression test for a fixed bug. Crashes
# go to BUILD_DIR/fuzz-grow/<target>/ and fail the run. Prints one line per target:
#   fuzz_X  executions  seconds  corpus files before -> after
# usage: fuzz/grow.sh BUILD_DIR [TARGET...]   (FUZZ_SECONDS, FUZZ_JOBS: targets at once, 1)
set -euo pipefail
build=$1
shift
root="$(cd "$(dirname "$0")" && pwd)"
secs="${FUZZ_SECONDS:-300}"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for src in "$root"/fuzz_*.c; do targets+=("$(basename "$src" .c)"); done
fi
status=0
printf '%-24s %14s %8s %s\n' target executions seconds corpus
for t in "${targets[@]}"; do
  bin="$build/$t"
  [ -x "$bin" ] || { echo "$t: not built in $build (configure with -DLP2P_FUZZ=ON)" >&2; status=1; continue; }
  corpus="$root/corpus/$t"
  work="$build/fuzz-grow/$t"
  mkdir -p "$corpus" "$work"
  before=$(find "$corpus" -type f | wc -l)
  rc=0
  "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/" "$corpus" >"$work/log" 2>&1 || rc=$?
  execs=$(awk '/stat::number_of_executed_units:/ {print $2}' "$work/log" | tail -1)
  [ "$rc" -eq 0 ] || { echo "$t: exit $rc, see $work/log and $work/" >&2; status=1; }
  after=$(find "$corpus" -type f | wc -l)
  printf '%-24s %14s %8s %s -> %s\n' "$t" "${execs:-?}" "$secs" "$before" "$after"
done
exit $status
