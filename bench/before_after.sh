#!/usr/bin/env bash
# The old and the new binary side by side, in one run: bench/run.sh, bench/kaspa.sh and
# bench/relay.sh, each first from the old tree with its own build, then from this tree with
# its own, so both see the same machine at nearly the same moment. Each script keeps its own
# baselines (raw TCP, plain-TCP gRPC, direct perf), so the ratios of old and new can be
# compared directly; the table also gives new/old for every figure both report.
#
#   bash bench/before_after.sh OLD_TREE [NEW_BUILD]
#     OLD_TREE   a checkout of the old commit with `make release` done there (build/release)
#     NEW_BUILD  default build/release of this tree
# Environment (smaller than the scripts' defaults so that all six fit in ~25 minutes on the
# shared 2-core machine; set them to "" to get a script's own default):
#   BA_REPS (3), BA_MIB (64: run.sh), BA_BURST (64M), BA_GZIP_BURST (16M), BA_PINGS (5000),
#   BA_RSV (1000), BA_CIRCUITS (500); BENCH_JS=0 is set (js-libp2p is not what changed);
#   BA_ONLY="kaspa relay" runs only those (the table compares whatever results are there).
# Writes bench/results/before_after/{old,new}-{run,kaspa,relay}.json and prints the table.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
old="${1:?usage: before_after.sh OLD_TREE [NEW_BUILD]}"
old="$(cd "$old" && pwd)"
new_build="${2:-$root/build/release}"
case "$new_build" in /*) ;; *) new_build="$root/$new_build" ;; esac
out="$here/results/before_after"
mkdir -p "$out"
export BENCH_JS=0
export BENCH_REPS="${BA_REPS:-3}"

log() { printf '[before_after] %s\n' "$*" >&2; }

# one NAME TREE BUILD: runs the three scripts of TREE against BUILD
run_run() {
  BENCH_MIB="${BA_MIB:-64}" bash "$2/bench/run.sh" "$3" >"$out/$1-run.txt" 2>&1
  cp "$2/bench/results/latest.json" "$out/$1-run.json"
}
run_kaspa() {
  bash "$2/bench/kaspa.sh" "$3" --runs "$BENCH_REPS" --burst "${BA_BURST:-64M}" \
    --gzip-burst "${BA_GZIP_BURST:-16M}" --pings "${BA_PINGS:-5000}" --inmem-mib 32 \
    --out "$out/$1-kaspa.json" >"$out/$1-kaspa.txt" 2>&1
}
run_relay() {
  BENCH_RELAY_RSV="${BA_RSV:-1000}" BENCH_RELAY_CIRCUITS="${BA_CIRCUITS:-500}" \
    bash "$2/bench/relay.sh" "$3" >"$out/$1-relay.txt" 2>&1
  cp "$2/bench/results/relay.json" "$out/$1-relay.json"
}

for what in ${BA_ONLY:-run kaspa relay}; do
  log "$what: old ($old) load $(cut -d' ' -f1 /proc/loadavg)"
  "run_$what" old "$old" "$old/build/release" || log "$what: old failed (see $out/old-$what.txt)"
  log "$what: new load $(cut -d' ' -f1 /proc/loadavg)"
  "run_$what" new "$root" "$new_build" || log "$what: new failed (see $out/new-$what.txt)"
done

# Every numeric figure both JSON files have, with new/old.
python3 - "$out" <<'EOF'
import json, sys, os
out = sys.argv[1]
def flat(x, p=""):
    if isinstance(x, dict):
        for k, v in x.items():
            yield from flat(v, f"{p}.{k}" if p else k)
    elif isinstance(x, (int, float)) and not isinstance(x, bool):
        yield p, x
for what in ("run", "kaspa", "relay"):
    try:
        o = dict(flat(json.load(open(os.path.join(out, f"old-{what}.json")))))
        n = dict(flat(json.load(open(os.path.join(out, f"new-{what}.json")))))
    except (OSError, ValueError) as e:
        print(f"\n{what}: no comparison ({e})")
        continue
    print(f"\n{what}.sh{'':<44} {'old':>14} {'new':>14} {'new/old':>8}")
    for k in o:
        if k in n:
            r = f"{n[k] / o[k]:.3f}" if o[k] else "-"
            print(f"  {k:<50} {o[k]:>14.6g} {n[k]:>14.6g} {r:>8}")
EOF
