#!/usr/bin/env bash
# DCUtR on loopback with our own relay: the server reserves, the client dials through the
# relay, both punch (here a simultaneous open on one host), the client's pings run over the
# direct connection, and the relayed connection is closed after the grace period.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need_holepunch
H=$HOLEPUNCH
J=(--log-format json)

start_bg relay 60 "$H" relay --listen /ip4/127.0.0.1/tcp/0 --key "$WORK/relay.key" "${J[@]}"
RELAY=$(listen_addr relay)
start_bg server 60 "$H" listen --listen /ip4/127.0.0.1/tcp/0 --relay "$RELAY" \
  --key "$WORK/server.key" "${J[@]}"
wait_for 15 server 'e.event === "reservation"' 'e.addrs[0]' >/dev/null
SID=$("$H" id --key "$WORK/server.key")
CIRCUIT="$RELAY/p2p-circuit/p2p/$SID"
log "server reserved; dialing $CIRCUIT"

step client 40 "$H" ping "$CIRCUIT" --listen /ip4/127.0.0.1/tcp/0 --wait-direct 10000 \
  --count 25 --interval 200 --key "$WORK/client.key" "${J[@]}"

expect client 'e.event === "connected" && e.relayed === true' "client reached the server over the relay"
expect client 'e.event === "dcutr_attempt" && e.role === "A"' "client ran DCUtR as A"
expect server 'e.event === "dcutr_attempt" && e.role === "B" && e.attempt === 1' "server ran DCUtR as B"
expect client 'e.event === "direct_connected" && e.role === "initiator"' "client is the Noise initiator on the direct connection"
wait_for 10 server 'e.event === "direct_connected" && e.role === "responder"' 'e.addr' >/dev/null
log "ok: server saw the direct connection as responder"
# The pings ran over the direct connection: the client's ping events follow its
# direct_connected event, and no circuit carried them (three pings answered).
n=$(jcount client 'e.event === "ping"')
[ "$n" -eq 25 ] || fail "expected 25 pings, saw $n"
first_ping=$(jfirst client 'e.event === "ping"' 'e.ts')
direct=$(jfirst client 'e.event === "direct_connected"' 'e.ts')
[ "$first_ping" -ge "$direct" ] || fail "pings started before the direct connection"
log "ok: 25 pings over the direct connection"
# The relayed connection closes after the grace period while the pings go on (5 s of
# pings > 3 s grace), and that does not disturb the direct connection.
# Whichever side's grace timer fires first closes it; the other sees the circuit end.
if ! jfirst client 'e.event === "relayed_closed"' >/dev/null; then
  expect server 'e.event === "relayed_closed"' "relayed connection closed after the grace period"
fi
closed=$(jfirst client 'e.event === "disconnected" && e.relayed === true' 'e.ts') ||
  fail "the client's relayed connection never closed"
after=$(jcount client "e.event === \"ping\" && e.ts > $closed")
[ "$after" -gt 0 ] || fail "no ping after the relayed connection closed"
log "ok: $after pings after the relayed connection closed"
