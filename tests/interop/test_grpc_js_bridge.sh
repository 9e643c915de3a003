#!/usr/bin/env bash
# Two @grpc/grpc-js Kaspa peers (rusty-kaspa's own proto files: an HTTP/2 and gRPC stack that
# is not ours on either end) talk through two `holepunch bridge`s on loopback:
#
#   grpc-js client ─TCP─▶ bridge B ══libp2p /kaspad/transport/1.0.0══▶ bridge A ─TCP─▶ grpc-js server
#
# The bridges carry the bytes unchanged, so the two grpc-js peers run their own HTTP/2
# (SETTINGS, HPACK, flow control, gzip) and the Kaspa handshake end to end: Version, Verack,
# Ready, 10 Pings with the nonces checked. Both
# bridges' taps read the grpc-js Versions (gzip'd by the client, as tonic does).
set -euo pipefail
# shellcheck source=tests/interop/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_holepunch
H="$HOLEPUNCH"
PEER="$INTEROP_DIR/grpc/kaspa_peer.mjs"

keyid() { "$H" keygen --key "$WORK/$1.key" >"$WORK/$1.id" && peer_id_in "$WORK/$1.id"; }
IDA="$(keyid a)"
IDB="$(keyid b)"
[ -n "$IDA" ] && [ -n "$IDB" ] || fail "keygen"
free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

start_bg js_server 60 node "$PEER" server 127.0.0.1:0 --pings 0 --until-peer-ends --timeout 50000
port="$(wait_for 20 "$WORK/js_server.out" 'e.event==="listening"' 'e.port')"
start_bg bridgeA 60 "$H" bridge --key "$WORK/a.key" --kaspad "127.0.0.1:$port" \
  --listen /ip4/127.0.0.1/tcp/0 --peer "$IDB" --peer-port "$(free_port)" --log-format json
amA="$(wait_for 10 "$WORK/bridgeA.err" 'e.event==="listening"' 'e.addr')"
start_bg bridgeB 60 "$H" bridge --key "$WORK/b.key" --kaspad 127.0.0.1:9 \
  --listen /ip4/127.0.0.1/tcp/0 --peer "$IDA,${amA%/p2p/*}" --peer-port "$(free_port)" --log-format json
ep="$(wait_for 10 "$WORK/bridgeB.err" 'e.event==="bridge_listen"' 'e.addr')"
wait_for 10 "$WORK/bridgeB.err" 'e.event==="bridge_peer_direct"' >/dev/null
log "grpc-js server on $port behind bridge A; the client dials bridge B at $ep"

step js_client 30 node "$PEER" client "$ep" --pings 10
out="$WORK/js_client.out"
expect "$out" 'e.event==="handshake" && e.user_agent==="/grpc-js-peer:0.1/" && e.version===10' \
  "grpc-js client got the grpc-js server's Version through the bridges"
expect "$out" 'e.event==="ready"' "Ready exchanged end to end"
[ "$(grep -c '"event":"ping"' "$out")" -eq 10 ] || fail "expected 10 answered Pings"
log "ok: 10 Pings answered with the right nonce"
expect "$out" 'e.event==="done" && e.pings===10' "the client finished its pings"
# The server serves until the client ends the call, so the call ends cleanly end to end.
expect "$out" 'e.event==="status" && e.code===0' "the client's call ended with grpc-status 0"
wait_for 10 "$WORK/js_server.out" 'e.event==="ready"' >/dev/null
log "ok: the grpc-js server reached Ready"
for b in bridgeA bridgeB; do
  for side in local remote; do
    expect "$WORK/$b.err" 'e.event==="bridge_peer_version" && e.side==="'$side'" &&
      e.user_agent==="/grpc-js-peer:0.1/" && e.network==="kaspa-mainnet"' "$b: tap read the $side grpc-js Version"
  done
done
wait_for 10 "$WORK/bridgeA.err" 'e.event==="bridge_session_closed" && e.bytes_to_kaspad > 0 &&
  e.bytes_from_kaspad > 0 && e.relayed===false' >/dev/null
log "ok: bridge A logged the session's end with its byte counts"
log "PASS"
