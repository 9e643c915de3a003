#!/usr/bin/env bash
# `holepunch relay` serving js-libp2p 2.10 peers (tests/interop/js/peer.mjs) on 127.0.0.1:
# js listeners reserve on our relay (the circuit address js builds from our reservation is
# relay/p2p-circuit/p2p/listener); a js dialer reaches one through /p2p-circuit (a limited
# connection: identify, 3 pings, echo streams) and the relay logs the circuit with its byte
# counts; 1 MiB through the relay is cut at the default 128 KiB limit; a third js listener is
# refused by the full table (--max-reservations 2); the metrics endpoint counts all of it.
# Needs tests/interop/node_modules (bash tests/interop/npm-ci.sh).
set -euo pipefail
# shellcheck source=tests/daemons/lib.sh
. "$(dirname "$0")/lib.sh"
need_holepunch
H="$HOLEPUNCH"
JS_PEER="$DAEMONS_DIR/../interop/js/peer.mjs"
[ -d "$DAEMONS_DIR/../interop/node_modules" ] ||
  fail "tests/interop/node_modules missing: run bash tests/interop/npm-ci.sh"
command -v curl >/dev/null || fail "curl not found"

start_bg relay 90 "$H" relay --listen /ip4/127.0.0.1/tcp/0 --key "$WORK/relay.key" \
  --log-format json --max-reservations 2 --metrics-listen 127.0.0.1:0
RELAY_PID=$LAST_PID
RA="$(listen_addr relay)"
RID="${RA##*/}"
MPORT="$(wait_for 10 relay 'e.event === "metrics_listening"' 'e.port')"
log "relay at $RA, metrics on port $MPORT"

# ---- two js listeners reserve ---------------------------------------------------------------
start_bg ja 90 node "$JS_PEER" listen --relay "$RA" --timeout 85
start_bg jb 90 node "$JS_PEER" listen --relay "$RA" --timeout 85
A="$(wait_for 20 "$WORK/ja.out" 'e.event === "listening"' 'e.peer')"
B="$(wait_for 20 "$WORK/jb.out" 'e.event === "listening"' 'e.peer')"
CA="$(wait_for 20 "$WORK/ja.out" 'e.event === "reserved"' 'e.addr')"
wait_for 20 "$WORK/jb.out" 'e.event === "reserved"' >/dev/null
[ "$CA" = "$RA/p2p-circuit/p2p/$A" ] || fail "js listener's circuit address is $CA, want $RA/p2p-circuit/p2p/$A"
expect relay "e.event === 'reservation_granted' && e.peer === '$A' && e.ip === '127.0.0.1'" \
  "relay granted js listener A a reservation"
expect relay "e.event === 'reservation_granted' && e.peer === '$B'" "relay granted js listener B a reservation"
expect "$WORK/ja.out" "e.event === 'identify' && e.peer === '$RID' &&
  e.protocols.includes('/libp2p/circuit/relay/0.2.0/hop')" "js identified our relay as a hop relay"

# ---- a third one is refused: the table holds 2 ------------------------------------------------
# js fails to start a listener whose reservation is refused, naming the status it read.
start_bg jc 30 node "$JS_PEER" listen --relay "$RA" --timeout 25
JC_PID=$LAST_PID
rc=0
wait "$JC_PID" || rc=$?
if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ]; then fail "third js listener exited $rc, want a reservation failure"; fi
grep -q 'reservation failed with status RESERVATION_REFUSED' "$WORK/jc.err" ||
  fail "js did not read STATUS RESERVATION_REFUSED from our relay"
C="$(jfirst relay 'e.event === "reservation_refused"' 'e.peer')"
if [ -z "$C" ] || [ "$C" = "$A" ] || [ "$C" = "$B" ]; then fail "refused peer is '$C'"; fi
expect relay "e.event === 'reservation_refused' && e.peer === '$C' && e.ip === '127.0.0.1' &&
  e.reason === 'RESERVATION_REFUSED'" "relay refused the third js listener (table full) and js read the status"

# ---- js dials A through our relay ------------------------------------------------------------
step dial 60 node "$JS_PEER" dial "$CA" --streams 4 --stream-bytes 4096 --bytes 32768 --timeout 50
expect "$WORK/dial.out" "e.event === 'connected' && e.peer === '$A' && e.limited === true &&
  e.remote_addr.includes('/p2p-circuit')" "js dialer reached A through our relay (limited connection)"
expect "$WORK/dial.out" "e.event === 'result' && e.ok === true && e.ping_rtts_ms.length === 3 &&
  e.streams === 4 && e.bulk_bytes === 32768" "identify, ping and echo over the circuit"
D="$(jfirst "$WORK/dial.out" 'e.event === "started"' 'e.peer')"
expect relay "e.event === 'circuit_open' && e.src === '$D' && e.dst === '$A'" "relay logged circuit_open {src, dst}"
wait_for 10 relay "e.event === 'circuit_closed' && e.src === '$D' && e.dst === '$A' &&
  e.bytes_src_to_dst > 32768 && e.bytes_dst_to_src > 32768" >/dev/null
log "ok: relay logged circuit_closed with the bytes of both directions"

# ---- 1 MiB is cut at the default 128 KiB per direction -------------------------------------------
start_bg over 40 node "$JS_PEER" dial "$CA" --streams 0 --pings 1 --bytes 1048576 --timeout 30
OVER_PID=$LAST_PID
wait_for 20 relay "e.event === 'circuit_limit' && e.reason === 'data' && e.dst === '$A' &&
  e.bytes === 131072" >/dev/null
rc=0
wait "$OVER_PID" || rc=$?
[ "$rc" -ne 124 ] || fail "over-limit relayed echo hung"
[ "$rc" -ne 0 ] || fail "1 MiB through our relay succeeded despite the 128 KiB circuit limit"
log "ok: relay cut the js circuit at 128 KiB (circuit_limit) and the js dialer failed"

# ---- metrics ---------------------------------------------------------------------------------
curl -sf "http://127.0.0.1:$MPORT/metrics" >"$WORK/metrics.txt" || fail "metrics endpoint did not answer"
metric() { awk -v k="$1" '$1 == k { print $2 }' "$WORK/metrics.txt"; }
[ "$(metric holepunch_relay_reservations_active)" = 2 ] ||
  fail "reservations_active $(metric holepunch_relay_reservations_active), want 2"
[ "$(metric 'holepunch_relay_reservations_refused_total{reason="RESERVATION_REFUSED"}')" -ge 1 ] ||
  fail "refusal not counted"
[ "$(metric holepunch_relay_circuits_total)" = 2 ] || fail "circuits_total $(metric holepunch_relay_circuits_total), want 2"
[ "$(metric 'holepunch_relay_circuits_limited_total{limit="data"}')" = 1 ] || fail "data-limit cut not counted"
[ "$(metric 'holepunch_relay_bytes_total{direction="src_to_dst"}')" -gt 131072 ] || fail "bytes not counted"
[ "$(metric holepunch_relay_connections_active)" -ge 2 ] ||
  fail "connections_active $(metric holepunch_relay_connections_active), want >= 2 (js listeners A and B)"
[ "$(metric holepunch_relay_connections_total)" -ge 5 ] ||
  fail "connections_total $(metric holepunch_relay_connections_total), want >= 5 (A, B, C, two dialers)"
log "ok: metrics: 2 reservations, refusal, 2 circuits, 1 data-limit cut, bytes, connections"

kill -TERM "$RELAY_PID"
rc=0
wait "$RELAY_PID" || rc=$?
[ "$rc" -eq 0 ] || fail "relay exited $rc after SIGTERM"
log "PASS"
