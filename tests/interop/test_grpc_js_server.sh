#!/usr/bin/env bash
# `holepunch client --kaspa-connect` dials a @grpc/grpc-js Kaspa server (rusty-kaspa's own
# proto files) over plain TCP: request headers as tonic sends them, our Version, Verack,
# Ready, the grpc-js peer's Ready; our client exits after Ready (--exit-after-ready).
set -euo pipefail
# shellcheck source=tests/interop/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_holepunch
PEER="$INTEROP_DIR/grpc/kaspa_peer.mjs"

start_bg js 60 node "$PEER" server 127.0.0.1:0 --pings 0
port="$(wait_for 20 "$WORK/js.out" 'e.event==="listening"' 'e.port')"
log "grpc-js Kaspa server on 127.0.0.1:$port"

step hp 30 "$HOLEPUNCH" client --kaspa-connect "127.0.0.1:$port" --log-format json --exit-after-ready
all="$(both hp)"
expect "$all" 'e.event==="kaspa_handshake" && e.user_agent==="/grpc-js-peer:0.1/" &&
  e.network==="kaspa-mainnet" && e.version===10' "holepunch logged kaspa_handshake"
expect "$all" 'e.event==="kaspa_ready"' "holepunch logged kaspa_ready"

out="$WORK/js.out"
wait_for 10 "$out" 'e.event==="ready"' >/dev/null
expect "$out" 'e.event==="request" && e.path==="/protowire.P2P/MessageStream"' "grpc-js served our MessageStream call"
expect "$out" 'e.event==="handshake" && e.version===10 && e.network==="kaspa-mainnet" &&
  e.user_agent.startsWith("/kaspa-holepunch:") && e.id.length===32' "grpc-js got our Version (16-byte id)"
log "PASS"
