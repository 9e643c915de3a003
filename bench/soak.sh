#!/usr/bin/env bash
# `make soak`: SOAK_MINUTES (default 30) of `holepunch relay` under churn, on loopback:
#   - about 1,000 reservations held at once and churning: two bench_relay fleets of 500 fresh
#     identities (10 addresses each) reserve, hold SOAK_HOLD_S (20 s), leave and come back,
#     staggered by half a hold
#   - circuits opening and closing: bench_relay circuits, 40 CONNECTs to 4 targets over 4
#     connections, each circuit probed end to end, held 5 s, over and over
#   - punches in the lab: with SOAK_LAB=1 (root, natlab) tests/lab/test_punch_eim.sh runs
#     back to back beside the relay (its own relay; DCUtR through real NATs)
# The relay's RSS (KiB) and open fds are sampled every minute into
# bench/results/soak-<UTC time>.tsv, with the fleets' and circuit rounds' counts. It fails
# unless both are flat after warm-up (the first third of the run, at least 2 minutes): RSS at
# most 10 % + 4 MiB above the warm-up's highest sample, fds at most 20 % + 32 above.
# usage: bench/soak.sh [BUILD_DIR]   (default build/release)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
build="$(cd "${1:-$root/build/release}" && pwd)"
H="$build/holepunch"
BR="$build/bench_relay"
[ -x "$H" ] && [ -x "$BR" ] || { echo "soak: $H and $BR must be built" >&2; exit 2; }
minutes="${SOAK_MINUTES:-30}"
hold="${SOAK_HOLD_S:-20}"
work="$(mktemp -d /tmp/soak.XXXXXX)"
mkdir -p "$here/results"
out="$here/results/soak-$(date -u +%Y%m%dT%H%M%SZ).tsv"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
log() { echo "[soak $(date -u +%T)] $*" >&2; }

"$H" keygen --key "$work/relay.key" >/dev/null
"$H" relay --listen /ip4/127.0.0.1/tcp/0 --key "$work/relay.key" --log-format json \
  --max-reservations 1200 --max-reservations-per-ip 200 --max-connections 1400 \
  --max-connections-per-ip 300 --max-connections-per-subnet 0 \
  --reserve-rate-ip 100000/1s --reserve-rate-peer 100000/1s \
  --connect-rate-ip 100000/1s --connect-rate-peer 100000/1s 2>"$work/relay.err" &
RPID=$!
pids+=("$RPID")
relay=""
for _ in $(seq 100); do
  relay="$(grep -o '"addr":"/ip4/127.0.0.1/tcp/[0-9]*/p2p/[A-Za-z0-9]*"' "$work/relay.err" | head -1 | cut -d'"' -f4 || true)"
  [ -n "$relay" ] && break
  sleep 0.1
done
[ -n "$relay" ] || { echo "soak: the relay did not start" >&2; tail -5 "$work/relay.err" >&2; exit 1; }
log "relay $relay (PID $RPID), $minutes min, results in $out"

# fleet NAME FIRST_ADDR : 500 identities reserve, hold, leave, again; one JSON line a round.
fleet() {
  while kill -0 "$RPID" 2>/dev/null; do
    "$BR" reserve "$relay" 500 --ip "$2" --ips 10 --hold "$hold" --timeout 60 >>"$work/$1.out" 2>/dev/null || true
  done
}
circuits() {
  while kill -0 "$RPID" 2>/dev/null; do
    "$BR" circuits "$relay" 40 --targets 4 --peers 4 --ip 127.0.30.1 --hold 5 --timeout 30 >>"$work/circ.out" 2>/dev/null || true
  done
}
lab() {
  while kill -0 "$RPID" 2>/dev/null; do
    if HOLEPUNCH="$H" bash "$root/tests/lab/test_punch_eim.sh" >>"$work/lab.log" 2>&1; then
      echo ok >>"$work/lab.out"
    else
      echo fail >>"$work/lab.out"
    fi
  done
}
fleet fleet1 127.0.20.1 &
pids+=($!)
sleep $((hold / 2))
fleet fleet2 127.0.21.1 &
pids+=($!)
circuits &
pids+=($!)
if [ "${SOAK_LAB:-0}" = 1 ]; then
  lab &
  pids+=($!)
fi

# rounds FILE : bench rounds so far, and reservations / circuits granted in them
rounds() { [ -f "$1" ] && grep -c '"event":"bench_relay"' "$1" || echo 0; }
oks() { [ -f "$1" ] && grep -o '"ok":[0-9]*' "$1" | awk -F: '{s += $2} END {print s + 0}' || echo 0; }
printf 'minute\trss_kib\tfds\treserve_rounds\treservations_ok\tcircuit_rounds\tcircuits_ok\tlab_punches_ok\tlab_punches_failed\n' >"$out"
for m in $(seq 1 "$minutes"); do
  sleep 60
  kill -0 "$RPID" 2>/dev/null || { log "the relay died"; tail -20 "$work/relay.err" >&2; exit 1; }
  rss="$(awk '/^VmRSS:/ {print $2}' "/proc/$RPID/status")"
  fds="$(ls "/proc/$RPID/fd" | wc -l)"
  labok="$( [ -f "$work/lab.out" ] && grep -c ok "$work/lab.out" || echo 0)"
  labfail="$( [ -f "$work/lab.out" ] && grep -c fail "$work/lab.out" || echo 0)"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$m" "$rss" "$fds" \
    "$(($(rounds "$work/fleet1.out") + $(rounds "$work/fleet2.out")))" \
    "$(($(oks "$work/fleet1.out") + $(oks "$work/fleet2.out")))" \
    "$(rounds "$work/circ.out")" "$(oks "$work/circ.out")" "$labok" "$labfail" | tee -a "$out" >&2
done

# flatness after warm-up
warm=$((minutes / 3))
[ "$warm" -lt 2 ] && warm=2
awk -F'\t' -v warm="$warm" '
  NR == 1 { next }
  $1 <= warm { if ($2 > wr) wr = $2; if ($3 > wf) wf = $3; next }
  { if ($2 > r) r = $2; if ($3 > f) f = $3; n++ }
  END {
    if (n == 0) { print "soak: too short to judge flatness (no sample after warm-up)"; exit 1 }
    printf "soak: warm-up (%d min) max RSS %d KiB, fds %d; after: max RSS %d KiB, fds %d\n", warm, wr, wf, r, f
    if (r > wr * 1.10 + 4096) { print "soak: FAIL: RSS grew after warm-up"; exit 1 }
    if (f > wf * 1.20 + 32) { print "soak: FAIL: fds grew after warm-up"; exit 1 }
    print "soak: flat"
  }' "$out"
