#!/usr/bin/env bash
# The circuit-relay-v2 harness, js only: a js relay, a js listener that reserves a slot on
# it and listens on the /p2p-circuit address, and a js dialer that reaches the listener
# through the relay (a limited connection) and runs identify, ping and small echo streams
# over it, and that the relay cuts a circuit past its data limit. This is what the
# holepunch relay, server and client tests will stand on.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Two relays: one with js's default circuit limit (128 KiB), one with 4 MiB; all four
# daemons start at once to keep the test short.
start_bg relay 60 node "$JS_RELAY"
start_bg relay2 60 node "$JS_RELAY" --limit-bytes 4194304
raddr="$(wait_for 20 "$WORK/relay.out" 'e.event==="listening"' 'e.addr')"
rpeer="$(jq_first "$WORK/relay.out" 'e.event==="listening"' 'e.peer')"
log "relay at $raddr"

start_bg listener 60 node "$JS_PEER" listen --relay "$raddr"
raddr2="$(wait_for 20 "$WORK/relay2.out" 'e.event==="listening"' 'e.addr')"
start_bg listener2 60 node "$JS_PEER" listen --relay "$raddr2"
lpeer="$(wait_for 20 "$WORK/listener.out" 'e.event==="listening"' 'e.peer')"
circuit="$(wait_for 20 "$WORK/listener.out" 'e.event==="reserved"' 'e.addr')"
circuit2="$(wait_for 20 "$WORK/listener2.out" 'e.event==="reserved"' 'e.addr')"
log "listener reserved $circuit"
[ "$circuit" = "$raddr/p2p-circuit/p2p/$lpeer" ] || fail "unexpected circuit address $circuit"
wait_for 10 "$WORK/relay.out" "e.event===\"reservation\" && e.peer===\"$lpeer\"" >/dev/null
log "ok: relay granted the listener a reservation"
expect "$WORK/listener.out" "e.event===\"identify\" && e.peer===\"$rpeer\" &&
  e.protocols.includes('/libp2p/circuit/relay/0.2.0/hop')" "listener identified the relay as a hop relay"

# js-libp2p's default circuit limit is 128 KiB, so the relayed echo stays small.
step dial 40 env DEBUG="${JS_DEBUG:-}" node "$JS_PEER" dial "$circuit" --streams 4 --stream-bytes 4096 --bytes 32768
out="$WORK/dial.out"
expect "$out" "e.event===\"connected\" && e.peer===\"$lpeer\" && e.limited===true &&
  e.remote_addr.includes('/p2p-circuit')" "dialer reached the listener through the relay (limited connection)"
expect "$out" "e.event===\"identify\" && e.peer===\"$lpeer\"" "identify over the circuit"
expect "$out" "e.event===\"result\" && e.ok===true && e.ping_rtts_ms.length===3 &&
  e.streams===4 && e.bulk_bytes===32768" "ping and echo over the circuit"

# Negative: the relay enforces its circuit data limit (js default 128 KiB), so 1 MiB
# through a relayed echo stream must fail; through the relay whose limit is 4 MiB the same
# 1 MiB passes, so it is the limit that cut it. Our client's "Kaspa traffic never depends
# on the relay" rule will be tested against exactly this behaviour. (Both dials at once.)
start_bg overlimit 40 node "$JS_PEER" dial "$circuit" --streams 0 --pings 1 --bytes 1048576 --timeout 30
pid_overlimit=$LAST_PID
start_bg biglimit 40 node "$JS_PEER" dial "$circuit2" --streams 0 --pings 1 --bytes 1048576 --timeout 30
pid_biglimit=$LAST_PID
rc=0; wait "$pid_overlimit" || rc=$?
[ "$rc" -ne 124 ] || fail "over-limit relayed echo hung"
[ "$rc" -ne 0 ] || fail "1 MiB through the relay succeeded despite the 128 KiB circuit limit"
expect "$WORK/overlimit.out" 'e.event==="result" && e.ok===false && !/no answer|timeout/.test(e.error)' \
  "relay cut a circuit over its data limit"
rc=0; wait "$pid_biglimit" || rc=$?
[ "$rc" -eq 0 ] || fail "1 MiB through the 4 MiB-limit relay failed (rc=$rc)"
expect "$WORK/biglimit.out" 'e.event==="result" && e.ok===true && e.bulk_bytes===1048576' \
  "1 MiB passes a relay whose limit is 4 MiB"
log "PASS"
