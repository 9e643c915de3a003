#!/usr/bin/env bash
# rust-libp2p dials holepunch on loopback: identify both ways, 3 pings, 64 concurrent echo
# streams of 64 KiB each and 16 MiB /perf/1.0.0 each way against our servers.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$INTEROP_DIR/rust/lib.sh"
need_holepunch
need_rustpeer

step keygen 20 "$HOLEPUNCH" keygen --key "$WORK/hp.key"
hpeer="$(peer_id_in "$WORK/keygen.out")"
[ -n "$hpeer" ] || fail "holepunch keygen printed no peer ID"
step rkey 20 "$RUSTPEER" id --key "$WORK/rust.key"
rpeer="$(peer_id_in "$WORK/rkey.out")"

start_bg hp 90 "$HOLEPUNCH" listen --listen /ip4/127.0.0.1/tcp/0 --key "$WORK/hp.key" --log-format json
addr="$(wait_for 20 "$WORK/hp.err" 'e.event==="listening"' 'e.addr')"
log "holepunch listening at $addr"

step dial 60 "$RUSTPEER" dial "$addr" --key "$WORK/rust.key" --streams 64 --echo-bytes 65536 \
  --pings 3 --perf 16777216
out="$WORK/dial.out"
expect "$out" 'e.event==="result" && e.ok===true && e.echo_ok===true' "rust dial result ok (64 echo streams of 64 KiB)"
expect "$out" 'e.event==="result" && e.ping_ms.length===3 && e.ping_ms.every(r => r >= 0 && r < 5000)' "3 pings"
expect "$out" 'e.event==="result" && e.perf_up_mbps > 0 && e.perf_down_mbps > 0' "16 MiB perf each way against our perf server"
expect "$out" 'e.event==="result" && e.noise_initiator===true && e.yamux_client===true' "rust, the dialer, is Noise initiator and Yamux client"
expect "$out" "e.event===\"identify\" && e.peer===\"$hpeer\" &&
  ['/ipfs/id/1.0.0','/ipfs/ping/1.0.0','/echo/1.0.0','/perf/1.0.0'].every(p => e.protocols.includes(p)) &&
  /^\/ip4\/127\.0\.0\.1\/tcp\/[0-9]+/.test(e.observed) &&
  e.listen_addrs.some(a => '$addr'.startsWith(a))" \
  "rust identified holepunch (protocols, observed address, listen address)"
wait_for 10 "$WORK/hp.err" "e.event===\"identify\" && e.peer===\"$rpeer\" &&
  e.protocols.includes('/ipfs/id/1.0.0') && String(e.agent).startsWith('rustpeer/')" >/dev/null
log "ok: holepunch identified the rust peer"

step dial2 30 "$RUSTPEER" dial "$addr" --streams 8 --pings 1
expect "$WORK/dial2.out" 'e.event==="result" && e.ok===true' "a second rust peer is served after the first left"
log "PASS"
