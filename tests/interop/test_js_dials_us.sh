#!/usr/bin/env bash
# js-libp2p dials holepunch: our listener with a fixed key, the js peer dials it and checks
# identify (both ways), 3 pings, 64 concurrent echo streams with distinct data, 16 MiB
# through one echo stream, and /perf/1.0.0 both ways against our perf server. Then a second
# js peer dials, to show our listener keeps serving after the first connection closed.
# (wip_: renamed to test_ once `holepunch listen` exists.)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_holepunch

step keygen 20 "$HOLEPUNCH" keygen --key "$WORK/hp.key"
hpeer="$(peer_id_in "$WORK/keygen.out")"
[ -n "$hpeer" ] || fail "holepunch keygen printed no peer ID"

start_bg hp 60 "$HOLEPUNCH" listen --listen /ip4/127.0.0.1/tcp/0 --key "$WORK/hp.key" --log-format json
pid_hp=$LAST_PID
addr="$(wait_for 20 "$WORK/hp.err" 'e.event==="listening"' 'e.addr')"
log "holepunch listening at $addr"
case "$addr" in /ip4/127.0.0.1/tcp/*/p2p/"$hpeer") ;; *) fail "listen addr $addr is not /ip4/127.0.0.1/tcp/PORT/p2p/$hpeer" ;; esac

step dial 50 node "$JS_PEER" dial "$addr" --perf 4194304
out="$WORK/dial.out"
jpeer="$(jq_first "$out" 'e.event==="started"' 'e.peer')"
expect "$out" "e.event===\"result\" && e.ok===true && e.peer===\"$hpeer\"" "js dial result ok"
expect "$out" "e.event===\"identify\" && e.peer===\"$hpeer\" &&
  ['/ipfs/id/1.0.0','/ipfs/ping/1.0.0','/echo/1.0.0','/perf/1.0.0'].every(p => e.protocols.includes(p)) &&
  typeof e.agent === 'string' && e.agent.length > 0 &&
  /^\/ip4\/127\.0\.0\.1\/tcp\/[0-9]+/.test(e.observed) &&
  e.listen_addrs.some(a => '$addr'.startsWith(a))" \
  "js identified holepunch (protocols, agent, observed address, listen address)"
expect "$out" 'e.event==="result" && e.ping_rtts_ms.length===3 && e.ping_rtts_ms.every(r => r >= 0 && r < 5000)' "3 pings"
expect "$out" 'e.event==="result" && e.streams===64 && e.stream_bytes>=64' "64 concurrent echo streams"
expect "$out" 'e.event==="result" && e.bulk_bytes===16777216' "16 MiB through one echo stream"
expect "$out" 'e.event==="perf" && e.upload_bytes===4194304 && e.download_bytes===4194304' "perf against our perf server"

# Identify the other way: holepunch logged the js peer's identify, including the address
# js saw us at (our listen address).
wait_for 10 "$WORK/hp.err" "e.event===\"identify\" && e.peer===\"$jpeer\" &&
  e.protocols.includes('/ipfs/id/1.0.0') && String(e.agent).startsWith('js-libp2p/') &&
  String(e.observed).startsWith('${addr%%/p2p/*}')" >/dev/null
log "ok: holepunch identified the js peer (protocols, agent, observed = our listen address)"

step dial2 30 node "$JS_PEER" dial "$addr" --streams 8 --bytes 65536 --pings 1
expect "$WORK/dial2.out" 'e.event==="result" && e.ok===true' "a second js peer is served after the first left"
kill -0 "$pid_hp" 2>/dev/null || fail "holepunch listener exited"
log "PASS"
