#!/usr/bin/env bash
# holepunch as a relay client of a js-libp2p relay: our listener with --relay reserves a
# slot on the js relay (the relay must list our peer), and a js peer reaches us through
# /p2p-circuit: identify, ping and small echo streams over the limited connection.
# (wip_: for issue 3; renamed to test_ once `holepunch listen --relay` reserves.)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_holepunch

start_bg relay 60 node "$JS_RELAY"
step keygen 20 "$HOLEPUNCH" keygen --key "$WORK/hp.key"
hpeer="$(peer_id_in "$WORK/keygen.out")"
[ -n "$hpeer" ] || fail "holepunch keygen printed no peer ID"
raddr="$(wait_for 20 "$WORK/relay.out" 'e.event==="listening"' 'e.addr')"
rpeer="$(jq_first "$WORK/relay.out" 'e.event==="listening"' 'e.peer')"

start_bg hp 60 "$HOLEPUNCH" listen --listen /ip4/127.0.0.1/tcp/0 --relay "$raddr" \
  --key "$WORK/hp.key" --log-format json
wait_for 20 "$WORK/relay.out" "e.event===\"reservation\" && e.peer===\"$hpeer\"" >/dev/null
log "ok: the js relay granted holepunch a reservation"
expect "$WORK/relay.out" "e.event===\"identify\" && e.peer===\"$hpeer\" &&
  e.protocols.includes('/libp2p/circuit/relay/0.2.0/stop')" "holepunch advertises the stop protocol to the relay"
wait_for 10 "$WORK/hp.err" "e.event===\"identify\" && e.peer===\"$rpeer\" &&
  e.protocols.includes('/libp2p/circuit/relay/0.2.0/hop')" >/dev/null
log "ok: holepunch identified the js relay as a hop relay"

# js default circuit limit is 128 KiB: keep the relayed traffic small.
circuit="$raddr/p2p-circuit/p2p/$hpeer"
step dial 40 node "$JS_PEER" dial "$circuit" --streams 4 --stream-bytes 4096 --bytes 32768
expect "$WORK/dial.out" "e.event===\"connected\" && e.peer===\"$hpeer\" && e.limited===true" \
  "js reached holepunch through the js relay"
expect "$WORK/dial.out" "e.event===\"identify\" && e.peer===\"$hpeer\"" "identify over the circuit"
expect "$WORK/dial.out" 'e.event==="result" && e.ok===true && e.ping_rtts_ms.length===3 &&
  e.streams===4 && e.bulk_bytes===32768' "ping and echo over the circuit"
log "PASS"
