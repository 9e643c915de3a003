#!/usr/bin/env bash
# `holepunch ping --interval 11000`: go-libp2p and js-libp2p reset a ping stream that stays
# idle for 10 s. The pinger must replace a reset idle stream with a new one and count it as
# neither a failed ping nor a leaked stream: all pings succeed, against js and against ours.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_holepunch

step keygen 20 "$HOLEPUNCH" keygen --key "$WORK/hp.key"
step keygen2 20 "$HOLEPUNCH" keygen --key "$WORK/srv.key"

start_bg js 60 node "$JS_PEER" listen
addr="$(wait_for 20 "$WORK/js.out" 'e.event==="listening"' 'e.addr')"
jpeer="$(jq_first "$WORK/js.out" 'e.event==="listening"' 'e.peer')"
start_bg hp 60 "$HOLEPUNCH" listen --listen /ip4/127.0.0.1/tcp/0 --key "$WORK/srv.key" --log-format json
ours="$(wait_for 20 "$WORK/hp.err" 'e.event==="listening"' 'e.addr')"

# Both pingers at once: the test costs one interval, not two.
start_bg pjs 40 "$HOLEPUNCH" ping "$addr" --count 2 --interval 11000 --timeout 35000 \
  --key "$WORK/hp.key" --log-format json
pid_pjs=$LAST_PID
start_bg pours 40 "$HOLEPUNCH" ping "$ours" --count 2 --interval 11000 --timeout 35000 \
  --key "$WORK/hp.key" --log-format json
pid_pours=$LAST_PID
rc=0; wait "$pid_pjs" || rc=$?
[ "$rc" -eq 0 ] || { cat "$WORK/pjs.err" >&2; fail "ping against js at an 11 s interval exited $rc"; }
rc=0; wait "$pid_pours" || rc=$?
[ "$rc" -eq 0 ] || { cat "$WORK/pours.err" >&2; fail "ping against ours at an 11 s interval exited $rc"; }

all="$(both pjs)"
n="$(grep -c '"event" *: *"ping"[,}]' "$all" || true)"
[ "$n" -eq 2 ] || fail "against js: expected 2 ping events, got $n"
expect "$all" "e.event===\"ping_stream_replaced\" && e.peer===\"$jpeer\"" \
  "js reset the idle ping stream; a new one carried the next ping"
! grep -q '"ping_failed"' "$all" || fail "against js: a ping failed"

all="$(both pours)"
n="$(grep -c '"event" *: *"ping"[,}]' "$all" || true)"
[ "$n" -eq 2 ] || fail "against ours: expected 2 ping events, got $n"
! grep -q '"ping_failed"' "$all" || fail "against ours: a ping failed"
log "PASS"
