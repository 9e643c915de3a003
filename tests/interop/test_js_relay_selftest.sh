#!/usr/bin/env bash
# The circuit-relay-v2 harness, js only: a js relay, a js listener that reserves a slot on
# it and listens on the /p2p-circuit address, and a js dialer that reaches the listener
# through the relay (a limited connection) and runs identify, ping and small echo streams
# over it. This is what the holepunch relay, server and client tests will stand on.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_bg relay 60 node "$JS_RELAY"
raddr="$(wait_for 20 "$WORK/relay.out" 'e.event==="listening"' 'e.addr')"
rpeer="$(jq_first "$WORK/relay.out" 'e.event==="listening"' 'e.peer')"
log "relay at $raddr"

start_bg listener 60 node "$JS_PEER" listen --relay "$raddr"
lpeer="$(wait_for 20 "$WORK/listener.out" 'e.event==="listening"' 'e.peer')"
circuit="$(wait_for 20 "$WORK/listener.out" 'e.event==="reserved"' 'e.addr')"
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
log "PASS"
