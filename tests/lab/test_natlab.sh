#!/usr/bin/env bash
# NAT lab self-test: topology, the four NAT modes, loss, delay, teardown.
# Needs root (network namespaces) and nft; prints "SKIP: ..." and exits 0 when namespaces
# cannot be created. Every namespace is removed by the EXIT trap, also on failure.
set -uo pipefail

SRC_DIR=${SRC_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BUILD_DIR=${BUILD_DIR:-$SRC_DIR/build}
export BUILD_DIR
NATLAB=$SRC_DIR/lab/natlab
SIMOPEN=$BUILD_DIR/simopen
P1=nl$$x
P2=nl$$y
P3=nl$$z
BG=()
FAILS=0
OUT=$(mktemp -d)

cleanup() {
  local pid
  for pid in "${BG[@]}"; do kill "$pid" 2>/dev/null; done
  "$NATLAB" down "$P1" >/dev/null 2>&1
  "$NATLAB" down "$P2" >/dev/null 2>&1
  "$NATLAB" down "$P3" >/dev/null 2>&1
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

check() { # check "description" command...
  local what=$1
  shift
  if "$@"; then
    echo "ok   - $what"
  else
    echo "FAIL - $what"
    FAILS=$((FAILS + 1))
  fi
}
contains() { grep -q -- "$2" <<<"$1"; }
lab() { "$NATLAB" "$@"; }
# run in the background inside role $2 of lab $1, output to file $3
bg() {
  local p=$1 role=$2 out=$3
  shift 3
  "$NATLAB" exec "$p" "$role" -- "$SIMOPEN" "$@" >"$out" 2>&1 &
  BG+=($!)
}
wait_for() { # wait_for FILE PATTERN: until a background tool printed its ready line
  for _ in $(seq 50); do
    grep -q -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
ns_left() { ip netns list | awk '{print $1}' | grep -c "^$1-"; }

# ---------------------------------------------------------------------------------------
echo "# lab $P1: router-a eim (full cone), router-b restricted"
lab up --prefix "$P1" --nat-a eim --nat-b restricted >/dev/null || {
  echo "FAIL: natlab up"
  exit 1
}
check "addr relay" test "$(lab addr "$P1" relay)" = 198.51.100.10
check "addr router-a is its public address" test "$(lab addr "$P1" router-a)" = 198.51.100.2
check "addr b" test "$(lab addr "$P1" b)" = 198.18.2.2
check "six namespaces with the prefix" test "$(ns_left "$P1")" -eq 6
check "list shows the lab as up" contains "$(lab list)" "$P1 up"
check "second up with the same prefix is refused" \
  bash -c "! '$NATLAB' up --prefix '$P1' >/dev/null 2>&1"

bg "$P1" relay "$OUT/relay" listen 4000 --count 2 --timeout 20
wait_for "$OUT/relay" listening
ra=$(lab exec "$P1" a -- "$SIMOPEN" connect 198.51.100.10 4000 --bind 40001 --timeout 5)
check "relay reachable from a" contains "$ra" "result=connected"
check "relay sees a as router-a's public address, port kept (eim)" \
  contains "$ra" "received: observed 198.51.100.2:40001"
rb=$(lab exec "$P1" b -- "$SIMOPEN" connect 198.51.100.10 4000 --bind 40002 --timeout 5)
check "relay reachable from b" contains "$rb" "result=connected"
check "relay sees b as router-b's public address, port kept (restricted)" \
  contains "$rb" "received: observed 198.51.100.3:40002"

# private hosts cannot reach each other directly (a listener is there to be reached)
bg "$P1" b "$OUT/blisten" listen 7000 --timeout 10
wait_for "$OUT/blisten" listening
r=$(lab exec "$P1" a -- "$SIMOPEN" connect 198.18.2.2 7000 --timeout 2)
check "a cannot reach 198.18.2.2 directly ($r)" contains "$r" "result=unreachable"
r=$(lab exec "$P1" b -- "$SIMOPEN" connect 198.18.1.2 7000 --timeout 2)
check "b cannot reach 198.18.1.2 directly" contains "$r" "result=unreachable"
r=$(lab exec "$P1" relay -- "$SIMOPEN" connect 198.18.2.2 7000 --timeout 2)
check "relay cannot reach 198.18.2.2" contains "$r" "result=unreachable"

# eim = full cone: the mapped public port is open to a host a never talked to from it
bg "$P1" a "$OUT/alisten" listen 40001 --timeout 10
wait_for "$OUT/alisten" listening
r=$(lab exec "$P1" relay -- "$SIMOPEN" connect 198.51.100.2 40001 --bind 4100 --timeout 3)
check "eim: unsolicited inbound to a mapped port reaches a" \
  contains "$r" "received: observed 198.51.100.10:4100"
r=$(lab exec "$P1" relay -- "$SIMOPEN" connect 198.51.100.2 40999 --timeout 3)
check "eim: unmapped port is answered by the router (RST)" contains "$r" "result=refused"

# restricted: unsolicited inbound is dropped silently, mapped port or not
bg "$P1" b "$OUT/blisten2" listen 40002 --timeout 10
wait_for "$OUT/blisten2" listening
r=$(lab exec "$P1" relay -- "$SIMOPEN" connect 198.51.100.3 40002 --bind 4100 --timeout 2)
check "restricted: unsolicited inbound to a mapped port is dropped" contains "$r" "result=timeout"
r=$(lab exec "$P1" relay -- "$SIMOPEN" connect 198.51.100.3 40999 --timeout 2)
check "restricted: unsolicited inbound to an unmapped port is dropped" \
  contains "$r" "result=timeout"
drops=$(lab exec "$P1" router-b -- nft list chain ip natlab input |
  sed -n 's/.*iifname "pub" counter packets \([0-9]*\).*/\1/p')
check "restricted: router-b's drop counter counted them ($drops)" test "${drops:-0}" -ge 2

lab down "$P1"
check "down $P1: no namespace with the prefix left" test "$(ns_left "$P1")" -eq 0
check "down $P1: run state removed" test ! -e "$SRC_DIR/lab/run/$P1"

# ---------------------------------------------------------------------------------------
echo "# lab $P2: router-a symmetric with 30 ms delay, router-b masq"
lab up --prefix "$P2" --nat-a symmetric --nat-b masq --delay-a 30 >/dev/null || {
  echo "FAIL: natlab up (with delay: is $BUILD_DIR/tapdelay built?)"
  exit 1
}
tdpid=$(cat "$SRC_DIR/lab/run/$P2/tapdelay-a.pid" 2>/dev/null)
check "tapdelay running for router-a" kill -0 "${tdpid:-0}"

bg "$P2" relay "$OUT/r1" listen 4000 --count 1 --timeout 20
bg "$P2" relay "$OUT/r2" listen 4001 --count 1 --timeout 20
wait_for "$OUT/r1" listening
wait_for "$OUT/r2" listening
r1=$(lab exec "$P2" a -- "$SIMOPEN" connect 198.51.100.10 4000 --bind 40001 --timeout 5)
r2=$(lab exec "$P2" a -- "$SIMOPEN" connect 198.51.100.10 4001 --bind 40001 --timeout 5)
p1=$(sed -n 's/^received: observed 198\.51\.100\.2:\([0-9]*\)$/\1/p' <<<"$r1")
p2=$(sed -n 's/^received: observed 198\.51\.100\.2:\([0-9]*\)$/\1/p' <<<"$r2")
check "symmetric: both connections seen from router-a's address ($p1, $p2)" \
  test -n "$p1" -a -n "$p2"
check "symmetric: different destinations get different public ports" test "$p1" != "$p2"
r=$(lab exec "$P2" relay -- "$SIMOPEN" connect 198.51.100.2 "${p1:-1}" --bind 4000 --timeout 2)
check "symmetric: unsolicited inbound is dropped" contains "$r" "result=timeout"

bg "$P2" relay "$OUT/r3" listen 4002 --count 1 --timeout 20
wait_for "$OUT/r3" listening
rb=$(lab exec "$P2" b -- "$SIMOPEN" connect 198.51.100.10 4002 --bind 40002 --timeout 8)
check "masq: port kept" contains "$rb" "received: observed 198.51.100.3:40002"
r=$(lab exec "$P2" relay -- "$SIMOPEN" connect 198.51.100.3 40002 --bind 4003 --timeout 3)
check "masq: unsolicited inbound is answered by router-b (RST)" contains "$r" "result=refused"

bg "$P2" relay "$OUT/echo" udp-echo 5000 --timeout 20
wait_for "$OUT/echo" udp-echo
r=$(lab exec "$P2" a -- "$SIMOPEN" udp-probe 198.51.100.10 5000 --count 100 --interval-ms 2 --wait-ms 500)
got=$(sed -n 's/.*received=\([0-9]*\).*/\1/p' <<<"$r")
min=$(sed -n 's/.*rtt_min_us=\([0-9]*\).*/\1/p' <<<"$r")
avg=$(sed -n 's/.*rtt_avg_us=\([0-9]*\).*/\1/p' <<<"$r")
check "no loss on router-a: $got of 100 came back" test "${got:-0}" -ge 99
check "delay 30 ms each way: rtt min ${min}us >= 60 ms" test "${min:-0}" -ge 60000
check "delay 30 ms each way: rtt avg ${avg}us < 160 ms" test "${avg:-999999999}" -lt 160000

lab down "$P2"
check "down $P2: no namespace with the prefix left" test "$(ns_left "$P2")" -eq 0
gone() { # no such process, or only a zombie waiting for its reaper
  local st
  st=$(ps -o stat= -p "$1" 2>/dev/null) || return 0
  [[ $st == Z* ]]
}
check "down $P2: tapdelay stopped" gone "${tdpid:-0}"

# ---------------------------------------------------------------------------------------
echo "# lab $P3: router-b with 20% loss"
lab up --prefix "$P3" --nat-a eim --nat-b eim --loss-b 20 >/dev/null || {
  echo "FAIL: natlab up"
  exit 1
}
bg "$P3" relay "$OUT/echo3" udp-echo 5000 --timeout 20
wait_for "$OUT/echo3" udp-echo
r=$(lab exec "$P3" b -- "$SIMOPEN" udp-probe 198.51.100.10 5000 --count 200 --interval-ms 2 --wait-ms 500)
got=$(sed -n 's/.*received=\([0-9]*\).*/\1/p' <<<"$r")
# 20% each way: 200*0.8*0.8 = 128 expected, sd 6.8; the bounds are 5 sd wide
check "loss 20%: $got of 200 round trips survived (expected 94..162)" \
  test "${got:-0}" -ge 94 -a "${got:-0}" -le 162
r=$(lab exec "$P3" a -- "$SIMOPEN" udp-probe 198.51.100.10 5000 --count 200 --interval-ms 2 --wait-ms 500)
got=$(sed -n 's/.*received=\([0-9]*\).*/\1/p' <<<"$r")
check "router-a without loss: $got of 200 came back" test "${got:-0}" -ge 199
lab down "$P3"
check "down $P3: no namespace with the prefix left" test "$(ns_left "$P3")" -eq 0

check "down of a lab that is not up succeeds" lab down "$P2"
check "bad mode is refused" bash -c "! '$NATLAB' up --prefix '$P2' --nat-a fullcone >/dev/null 2>&1"
check "refused up left nothing behind" test "$(ns_left "$P2")" -eq 0

if ((FAILS)); then
  echo "FAILED: $FAILS check(s)"
  exit 1
fi
echo "PASS"
