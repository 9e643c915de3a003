#!/usr/bin/env bash
# Proves the interop harness before it is pointed at holepunch: js-libp2p dials js-libp2p
# on loopback and runs what the holepunch interop tests run (identify both ways, 3 pings,
# 64 concurrent echo streams, 16 MiB through one echo stream, perf both ways), key files
# round-trip, and a dial to the right address with the wrong peer ID fails.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_bg listener 60 node "$JS_PEER" listen --write-key "$WORK/listener.key"
addr="$(wait_for 20 "$WORK/listener.out" 'e.event==="listening"' 'e.addr')"
lpeer="$(jq_first "$WORK/listener.out" 'e.event==="listening"' 'e.peer')"
log "listener at $addr"
case "$addr" in /ip4/127.0.0.1/tcp/*/p2p/"$lpeer") ;; *) fail "bad listen addr $addr" ;; esac

step dial 50 node "$JS_PEER" dial "$addr" --perf 8388608
out="$WORK/dial.out"
dpeer="$(jq_first "$out" 'e.event==="started"' 'e.peer')"
expect "$out" "e.event===\"result\" && e.ok===true && e.peer===\"$lpeer\"" "dial result ok"
expect "$out" "e.event===\"identify\" && e.peer===\"$lpeer\" &&
  ['/echo/1.0.0','/ipfs/id/1.0.0','/ipfs/ping/1.0.0','/perf/1.0.0'].every(p => e.protocols.includes(p)) &&
  /^\/ip4\/127\.0\.0\.1\/tcp\/[0-9]+/.test(e.observed) && typeof e.agent === 'string'" \
  "dialer identified the listener (protocols, observed address, agent)"
expect "$out" 'e.event==="result" && e.ping_rtts_ms.length===3 && e.ping_rtts_ms.every(r => r >= 0 && r < 5000)' \
  "3 pings with sane RTTs"
expect "$out" 'e.event==="result" && e.streams===64 && e.stream_bytes>=64' "64 concurrent echo streams"
expect "$out" 'e.event==="result" && e.bulk_bytes===16777216' "16 MiB through one echo stream"
expect "$out" 'e.event==="perf" && e.upload_bytes===8388608 && e.download_bytes===8388608' "perf both ways"
# Identify the other way: the listener saw the dialer's identify, with the listener's own
# address as the dialer observed it.
wait_for 10 "$WORK/listener.out" "e.event===\"identify\" && e.peer===\"$dpeer\" &&
  e.protocols.includes('/echo/1.0.0') && e.observed && e.observed.startsWith('${addr%%/p2p/*}')" >/dev/null
log "ok: listener identified the dialer"

# Key files: the key the listener wrote reloads to the same peer ID; keygen/id agree for
# every key type our identity code must read.
step keygen 30 node "$JS_KEY" keygen "$WORK/Ed25519.key" Ed25519 "$WORK/secp256k1.key" secp256k1 \
  "$WORK/RSA.key" RSA
step id 30 node "$JS_KEY" id "$WORK/listener.key" "$WORK/Ed25519.key" "$WORK/secp256k1.key" "$WORK/RSA.key"
expect "$WORK/id.out" "e.file===\"$WORK/listener.key\" && e.peer===\"$lpeer\"" "listener key file reloads to its peer ID"
for type in Ed25519 secp256k1 RSA; do
  want="$(jq_first "$WORK/keygen.out" "e.file===\"$WORK/$type.key\" && e.type===\"$type\"" 'e.peer')"
  expect "$WORK/id.out" "e.file===\"$WORK/$type.key\" && e.peer===\"$want\"" "$type key file round-trips ($want)"
done

# Negative: the right address with another peer's ID must fail the Noise handshake, and
# the dialer must report it (proves a failing dial is detected, not silently passed).
other="$(jq_first "$WORK/keygen.out" 'e.type==="Ed25519"' 'e.peer')"
rc=0
timeout -k 2 30 node "$JS_PEER" dial "${addr%%/p2p/*}/p2p/$other" --timeout 20 \
  >"$WORK/wrongpeer.out" 2>"$WORK/wrongpeer.err" || rc=$?
[ "$rc" -ne 0 ] || fail "dial with the wrong peer ID succeeded"
expect "$WORK/wrongpeer.out" 'e.event==="result" && e.ok===false' "dial with the wrong peer ID fails"
log "PASS"
