#!/usr/bin/env bash
# holepunch dials a js-libp2p peer through a js-libp2p relay: a js relay, a js listener that
# reserved on it, and our `ping` and `echo` to the listener's /p2p-circuit address (relay
# hop CONNECT, then multistream, Noise and Yamux inside the circuit).
# (wip_: for issue 3; renamed to test_ once holepunch dials /p2p-circuit addresses.)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_holepunch

start_bg relay 60 node "$JS_RELAY"
step keygen 20 "$HOLEPUNCH" keygen --key "$WORK/hp.key"
hpeer="$(peer_id_in "$WORK/keygen.out")"
[ -n "$hpeer" ] || fail "holepunch keygen printed no peer ID"
raddr="$(wait_for 20 "$WORK/relay.out" 'e.event==="listening"' 'e.addr')"
start_bg js 60 node "$JS_PEER" listen --relay "$raddr"
jpeer="$(wait_for 20 "$WORK/js.out" 'e.event==="listening"' 'e.peer')"
circuit="$(wait_for 20 "$WORK/js.out" 'e.event==="reserved"' 'e.addr')"
log "js listener reachable at $circuit"

step ping 30 "$HOLEPUNCH" ping "$circuit" --count 3 --key "$WORK/hp.key" --log-format json
all="$(both ping)"
n="$(grep -c '"event" *: *"ping"' "$all" || true)"
[ "$n" -ge 3 ] || fail "expected 3 ping events through the relay, got $n"
expect "$all" "e.event===\"ping\" && e.peer===\"$jpeer\" && typeof e.rtt_ms === 'number'" "3 pings through the js relay"
wait_for 10 "$WORK/js.out" "e.event===\"identify\" && e.peer===\"$hpeer\" && String(e.observed).includes('/p2p-circuit')" >/dev/null
log "ok: js identified holepunch over the circuit (observed address is the circuit)"

# js default circuit limit is 128 KiB: keep the relayed traffic small.
step echo 40 "$HOLEPUNCH" echo "$circuit" --streams 4 --bytes 32768 --key "$WORK/hp.key" --log-format json
expect "$(both echo)" 'e.event==="echo_result" && e.ok===true' "echo streams through the js relay"
log "PASS"
