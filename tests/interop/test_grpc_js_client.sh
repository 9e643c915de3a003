#!/usr/bin/env bash
# @grpc/grpc-js (with rusty-kaspa's own proto files) dials `holepunch server --kaspa-listen`
# over plain TCP: Kaspa handshake, 5 Pings answered, our RequestAddresses answered, gzip both
# ways (grpc-js sends gzip; our server gzips because grpc-js accepts it), clean end. Then a
# grpc-js peer on the wrong network gets Reject "Network mismatch - ...".
set -euo pipefail
# shellcheck source=tests/interop/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_holepunch
PEER="$INTEROP_DIR/grpc/kaspa_peer.mjs"

start_bg hp 60 "$HOLEPUNCH" server --kaspa-listen 127.0.0.1:0 --log-format json
pid_hp=$LAST_PID
addr="$(wait_for 20 "$WORK/hp.err" 'e.event==="kaspa_listen"' 'e.addr')"
log "holepunch serves Kaspa at $addr"

step js 30 node "$PEER" client "$addr" --pings 5
out="$WORK/js.out"
expect "$out" 'e.event==="handshake" && e.version===10 && e.network==="kaspa-mainnet" &&
  e.user_agent.startsWith("/kaspa-holepunch:")' "grpc-js got our Version (v10, mainnet, user agent)"
expect "$out" 'e.event==="ready"' "Ready exchanged"
expect "$out" 'e.event==="request_addresses"' "we sent RequestAddresses once after Ready"
[ "$(grep -c '"event":"ping"' "$out")" -eq 5 ] || fail "expected 5 answered Pings"
log "ok: 5 Pings answered with the right nonce"
expect "$out" 'e.event==="status" && e.code===0' "the call ended with grpc-status 0"

wait_for 10 "$WORK/hp.err" 'e.event==="kaspa_handshake" && e.user_agent==="/grpc-js-peer:0.1/" &&
  e.network==="kaspa-mainnet" && e.version===10 && e.relayed===false' >/dev/null
log "ok: holepunch logged kaspa_handshake for the grpc-js peer"
wait_for 10 "$WORK/hp.err" 'e.event==="kaspa_ready" && typeof e.ms_since_start==="number"' >/dev/null
log "ok: holepunch logged kaspa_ready"

step jsbad 30 node "$PEER" client "$addr" --network kaspa-testnet-10 \
  --expect-reject "Network mismatch - local: kaspa-mainnet, remote: kaspa-testnet-10"
wait_for 10 "$WORK/hp.err" 'e.event==="kaspa_reject" &&
  e.reason==="Network mismatch - local: kaspa-mainnet, remote: kaspa-testnet-10"' >/dev/null
log "ok: wrong network rejected with rusty-kaspa's reason text"

kill -0 "$pid_hp" 2>/dev/null || fail "holepunch server exited"
log "PASS"
