#!/usr/bin/env bash
# TCP simultaneous open through the NAT lab, the way DCUtR does it:
#   1. a and b each dial the relay from their punch port; the relay tells each what it
#      observed (the NAT mapping), as identify would;
#   2. both run `simopen punch` at the same time, from that port, to the other's observed
#      address; it must establish and carry a line each way.
# Expected: works behind eim and restricted NATs (also with delay on the links); fails
# within the timeout when one side is symmetric and the other restricted; works when the
# symmetric side meets a full cone (eim), because the cone forwards the SYN to b's listener.
# Nothing dials the peer from the punch port before the punch (see lab/README.md, "trap").
set -uo pipefail

SRC_DIR=${SRC_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BUILD_DIR=${BUILD_DIR:-$SRC_DIR/build}
export BUILD_DIR
NATLAB=$SRC_DIR/lab/natlab
SIMOPEN=$BUILD_DIR/simopen
P=so$$
BG=()
FAILS=0
OUT=$(mktemp -d)

cleanup() {
  local pid
  for pid in "${BG[@]}"; do kill "$pid" 2>/dev/null; done
  "$NATLAB" down "$P" >/dev/null 2>&1
  rm -rf "$OUT"
}
trap cleanup EXIT

if [[ $EUID -ne 0 ]] || ! unshare --net true 2>/dev/null; then
  echo "SKIP: cannot create network namespaces (not root or no CAP_SYS_ADMIN)"
  exit 0
fi
[[ -x $SIMOPEN ]] || {
  echo "FAIL: $SIMOPEN not built"
  exit 1
}

check() {
  local what=$1
  shift
  if "$@"; then
    echo "ok   - $what"
  else
    echo "FAIL - $what"
    FAILS=$((FAILS + 1))
  fi
}

# punch_case EXPECT NAT_A NAT_B [extra natlab up options...]; EXPECT is ok or fail
punch_case() {
  local expect=$1 nat_a=$2 nat_b=$3
  shift 3
  local name="a=$nat_a b=$nat_b${*:+ $*}"
  echo "# $name: expect $expect"
  "$NATLAB" up --prefix "$P" --nat-a "$nat_a" --nat-b "$nat_b" "$@" >/dev/null || {
    check "$name: natlab up" false
    return
  }
  "$NATLAB" exec "$P" relay -- "$SIMOPEN" listen 4000 --count 2 --timeout 20 >"$OUT/relay" 2>&1 &
  BG+=($!)
  for _ in $(seq 50); do grep -q listening "$OUT/relay" && break; sleep 0.1; done
  local oa ob
  oa=$("$NATLAB" exec "$P" a -- "$SIMOPEN" connect 198.51.100.10 4000 --bind 41001 --timeout 5 |
    sed -n 's/^received: observed //p')
  ob=$("$NATLAB" exec "$P" b -- "$SIMOPEN" connect 198.51.100.10 4000 --bind 41002 --timeout 5 |
    sed -n 's/^received: observed //p')
  check "$name: relay observed a=$oa b=$ob" test -n "$oa" -a -n "$ob"
  local timeout=10
  [[ $expect == fail ]] && timeout=5
  local t0=$SECONDS
  "$NATLAB" exec "$P" a -- "$SIMOPEN" punch --port 41001 --peer "$ob" --name A \
    --timeout "$timeout" >"$OUT/pa" 2>&1 &
  local pa=$!
  "$NATLAB" exec "$P" b -- "$SIMOPEN" punch --port 41002 --peer "$oa" --name B \
    --timeout "$timeout" >"$OUT/pb" 2>&1 &
  local pb=$!
  BG+=("$pa" "$pb")
  wait "$pa"
  local rca=$?
  wait "$pb"
  local rcb=$?
  local took=$((SECONDS - t0))
  sed 's/^/    a| /' "$OUT/pa"
  sed 's/^/    b| /' "$OUT/pb"
  if [[ $expect == ok ]]; then
    check "$name: a established and got b's line" \
      test $rca -eq 0 -a "$(grep -c '^received: hello from B$' "$OUT/pa")" -eq 1
    check "$name: b established and got a's line" \
      test $rcb -eq 0 -a "$(grep -c '^received: hello from A$' "$OUT/pb")" -eq 1
  else
    check "$name: a failed to connect" test $rca -ne 0 -a "$(grep -c '^FAILED' "$OUT/pa")" -eq 1
    check "$name: b failed to connect" test $rcb -ne 0 -a "$(grep -c '^FAILED' "$OUT/pb")" -eq 1
    check "$name: gave up within a bounded time (${took}s)" test "$took" -le $((timeout + 3))
  fi
  "$NATLAB" down "$P"
}

punch_case ok eim eim
punch_case ok restricted restricted
punch_case ok eim restricted
punch_case ok restricted restricted --delay-a 40 --delay-b 25
punch_case fail symmetric restricted
punch_case ok symmetric eim

if ((FAILS)); then
  echo "FAILED: $FAILS check(s)"
  exit 1
fi
echo "PASS"
