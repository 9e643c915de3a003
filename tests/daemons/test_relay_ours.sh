#!/usr/bin/env bash
# `holepunch relay` with our own peers on 127.0.0.1: a listener reserves on our relay, our
# `echo` reaches it through /p2p-circuit (1 MiB echoed, counted by the relay), a transfer over
# the circuit data limit is cut with a clear log line, the duration limit cuts a long circuit,
# a full reservation table refuses with RESERVATION_REFUSED on the wire (our client decodes it),
# a CONNECT to a peer without a reservation is refused with NO_RESERVATION, and the metrics
# endpoint counts all of it.
set -euo pipefail
# shellcheck source=tests/daemons/lib.sh
. "$(dirname "$0")/lib.sh"
need_holepunch
H="$HOLEPUNCH"
command -v curl >/dev/null || fail "curl not found"

# Three relays, started at once: BIG (4 MiB per direction: 1 MiB passes), SMALL (the default
# 128 KiB, one reservation in all, metrics), SHORT (2 s circuits).
start_bg big 90 "$H" relay --listen /ip4/127.0.0.1/tcp/0 --key "$WORK/rbig.key" \
  --log-format json --circuit-data 4M
start_bg small 90 "$H" relay --listen /ip4/127.0.0.1/tcp/0 --key "$WORK/rsmall.key" \
  --log-format json --max-reservations 1 --metrics-listen 127.0.0.1:0
SMALL_PID=$LAST_PID
start_bg short 90 "$H" relay --listen /ip4/127.0.0.1/tcp/0 --key "$WORK/rshort.key" \
  --log-format json --circuit-duration 2s --circuit-data 0 --announce /ip4/198.51.100.7/tcp/4001
BIG="$(listen_addr big)"
SMALL="$(listen_addr small)"
SHORT="$(listen_addr short)"
MPORT="$(wait_for 10 small 'e.event === "metrics_listening"' 'e.port')"
log "relays: big $BIG, small $SMALL, short $SHORT (metrics on port $MPORT)"

for n in l1 l2 l3 l4 e1; do step "keygen_$n" 10 "$H" keygen --key "$WORK/$n.key"; done
L1="$(peer_id_in "$WORK/keygen_l1.out")"
L2="$(peer_id_in "$WORK/keygen_l2.out")"
L3="$(peer_id_in "$WORK/keygen_l3.out")"
L4="$(peer_id_in "$WORK/keygen_l4.out")"
E1="$(peer_id_in "$WORK/keygen_e1.out")"

# ---- bad flag values are refused before anything starts ------------------------------------
step_fails badflag 10 "$H" relay --listen /ip4/127.0.0.1/tcp/0 --key "$WORK/bad.key" --circuit-data lots
grep -q "bad value 'lots' for --circuit-data" "$WORK/badflag.err" || fail "no clear message for a bad --circuit-data"
[ "$STEP_RC" -eq 2 ] || fail "bad flag exit code $STEP_RC, want 2"
step_fails badrate 10 "$H" relay --listen /ip4/127.0.0.1/tcp/0 --key "$WORK/bad.key" --reserve-rate-peer 30
step_fails badmetrics 10 "$H" relay --listen /ip4/127.0.0.1/tcp/0 --key "$WORK/bad.key" --metrics-listen nohost
log "ok: bad --circuit-data, --reserve-rate-peer and --metrics-listen values are refused"

# ---- reservations: L1 on BIG, L2 on SMALL (fills it), L3 refused by SMALL, L4 on SHORT --------
start_bg l1 90 "$H" listen --listen /ip4/127.0.0.1/tcp/0 --relay "$BIG" --key "$WORK/l1.key" --log-format json
start_bg l2 90 "$H" listen --listen /ip4/127.0.0.1/tcp/0 --relay "$SMALL" --key "$WORK/l2.key" --log-format json
wait_for 15 l2 'e.event === "reservation"' >/dev/null
start_bg l3 90 "$H" listen --listen /ip4/127.0.0.1/tcp/0 --relay "$SMALL" --key "$WORK/l3.key" --log-format json
start_bg l4 90 "$H" listen --listen /ip4/127.0.0.1/tcp/0 --relay "$SHORT" --key "$WORK/l4.key" --log-format json

wait_for 15 l1 'e.event === "reservation"' >/dev/null
wait_for 5 big "e.event === 'reservation_granted' && e.peer === '$L1' && e.ip === '127.0.0.1' &&
  e.expires > Date.now() / 1000 + 3500" >/dev/null
expect l1 "e.event === 'reservation' && e.limit_data === 4194304 && e.limit_duration_s === 120 &&
  e.addrs.includes('$BIG/p2p-circuit/p2p/$L1')" \
  "L1 holds a reservation on our relay: 1 h, limit 4 MiB / 120 s, circuit address from the relay's listen address"
expect small "e.event === 'reservation_granted' && e.peer === '$L2'" "L2 reserved on SMALL"

wait_for 15 l3 "e.event === 'reservation_failed' && e.reason === 'RESERVATION_REFUSED'" >/dev/null
log "ok: L3 got STATUS RESERVATION_REFUSED from the full relay"
expect small "e.event === 'reservation_refused' && e.peer === '$L3' && e.reason === 'RESERVATION_REFUSED'" \
  "SMALL logged the refusal"
jfirst l3 'e.event === "reservation"' >/dev/null && fail "L3 reserved on a full relay"
SHORT_ID="${SHORT##*/}"
wait_for 15 l4 "e.event === 'reservation' && e.limit_duration_s === 2 && e.limit_data === 0 &&
  e.addrs.length === 1 && e.addrs[0] === '/ip4/198.51.100.7/tcp/4001/p2p/$SHORT_ID/p2p-circuit/p2p/$L4'" >/dev/null
log "ok: SHORT hands out its --announce address (not the listen address) and its 2 s / no-data limit"

# ---- 1 MiB echoed through BIG ----------------------------------------------------------------
step echo_big 60 "$H" echo "$BIG/p2p-circuit/p2p/$L1" --streams 8 --bytes 1M --key "$WORK/e1.key" --log-format json
expect echo_big 'e.event === "echo_result" && e.ok === true && e.bytes === 1048576' "1 MiB echoed through our relay"
expect echo_big "e.event === 'relay_circuit' && e.direction === 'outbound'" "echo went through a circuit"
wait_for 10 big "e.event === 'circuit_closed' && e.src === '$E1' && e.dst === '$L1' &&
  e.bytes_src_to_dst >= 1048576 && e.bytes_dst_to_src >= 1048576" >/dev/null
expect big "e.event === 'circuit_open' && e.src === '$E1' && e.dst === '$L1'" \
  "BIG opened the circuit and counted >= 1 MiB each way"

# ---- over the data limit: 1 MiB through SMALL (128 KiB) is cut ----------------------------------
step_fails echo_over 60 "$H" echo "$SMALL/p2p-circuit/p2p/$L2" --streams 0 --bytes 1M --key "$WORK/e1.key" --log-format json
jfirst echo_over 'e.event === "echo_result" && e.ok === true' >/dev/null && fail "1 MiB passed a 128 KiB circuit"
wait_for 10 small "e.event === 'circuit_limit' && e.reason === 'data' && e.src === '$E1' &&
  e.dst === '$L2' && e.bytes === 131072" >/dev/null
wait_for 10 small "e.event === 'circuit_closed' && e.dst === '$L2' && e.reason === 'data limit' &&
  Math.max(e.bytes_src_to_dst, e.bytes_dst_to_src) === 131072" >/dev/null
log "ok: SMALL cut the circuit at exactly 128 KiB (circuit_limit, circuit_closed)"

# ---- CONNECT to a peer without a reservation: NO_RESERVATION ----------------------------------
step_fails echo_norsv 30 "$H" echo "$SMALL/p2p-circuit/p2p/$L3" --streams 1 --bytes 1K --key "$WORK/e1.key" --log-format json
expect small "e.event === 'circuit_refused' && e.src === '$E1' && e.dst === '$L3' && e.reason === 'NO_RESERVATION'" \
  "CONNECT to a peer without a reservation refused with NO_RESERVATION"
expect echo_norsv "e.event === 'relay_dial_failed' && e.reason === 'relay refused: NO_RESERVATION'" \
  "the dialer read STATUS NO_RESERVATION on the wire"

# ---- the duration limit: pings through SHORT (2 s circuits) stop after ~2 s ----------------------
start_bg ping_short 30 "$H" ping "$SHORT/p2p-circuit/p2p/$L4" --count 40 --interval 200 --key "$WORK/e1.key" --log-format json
wait_for 15 short "e.event === 'circuit_limit' && e.reason === 'duration' && e.dst === '$L4'" >/dev/null
wait_for 5 short "e.event === 'circuit_closed' && e.dst === '$L4' && e.reason === 'duration limit'" >/dev/null
opened="$(jfirst short 'e.event === "circuit_open"' 'e.ts')"
limited="$(jfirst short 'e.event === "circuit_limit"' 'e.ts')"
took=$((limited - opened))
if [ "$took" -lt 1900 ] || [ "$took" -gt 3500 ]; then
  fail "duration limit hit after $took ms, want ~2000"
fi
log "ok: SHORT cut the circuit after $took ms (limit 2 s)"

# ---- metrics ------------------------------------------------------------------------------
curl -sf "http://127.0.0.1:$MPORT/metrics" >"$WORK/metrics.txt" || fail "metrics endpoint did not answer"
metric() { awk -v k="$1" '$1 == k { print $2 }' "$WORK/metrics.txt"; }
[ "$(metric holepunch_relay_reservations_active)" = 1 ] || fail "reservations_active: $(metric holepunch_relay_reservations_active)"
[ "$(metric 'holepunch_relay_reservations_refused_total{reason="RESERVATION_REFUSED"}')" -ge 1 ] ||
  fail "no RESERVATION_REFUSED counted"
[ "$(metric holepunch_relay_circuits_total)" = 1 ] || fail "circuits_total: $(metric holepunch_relay_circuits_total)"
[ "$(metric holepunch_relay_circuits_active)" = 0 ] || fail "circuits_active: $(metric holepunch_relay_circuits_active)"
[ "$(metric 'holepunch_relay_circuits_limited_total{limit="data"}')" = 1 ] || fail "data limit not counted"
[ "$(metric 'holepunch_relay_circuits_refused_total{reason="NO_RESERVATION"}')" = 1 ] || fail "NO_RESERVATION not counted"
[ "$(metric 'holepunch_relay_bytes_total{direction="src_to_dst"}')" -ge 131072 ] || fail "bytes not counted"
[ "$(metric holepunch_relay_connections_active)" -ge 2 ] || fail "connections_active: $(metric holepunch_relay_connections_active)"
grep -q '^# TYPE holepunch_relay_reservations_refused_total counter$' "$WORK/metrics.txt" || fail "no TYPE line"
# Only reasons that can happen (issue 12): a RESERVE is never answered NO_RESERVATION,
# CONNECTION_FAILED or UNEXPECTED_MESSAGE, a CONNECT never RESERVATION_REFUSED.
rsv_reasons="$(sed -nE 's/^holepunch_relay_reservations_refused_total\{reason="([A-Z_]+)"\}.*/\1/p' "$WORK/metrics.txt" | sort | tr '\n' ' ')"
[ "$rsv_reasons" = "MALFORMED_MESSAGE PERMISSION_DENIED RESERVATION_REFUSED RESOURCE_LIMIT_EXCEEDED " ] ||
  fail "reservation refusal reasons listed: $rsv_reasons"
circ_reasons="$(sed -nE 's/^holepunch_relay_circuits_refused_total\{reason="([A-Z_]+)"\}.*/\1/p' "$WORK/metrics.txt" | sort | tr '\n' ' ')"
[ "$circ_reasons" = "CONNECTION_FAILED MALFORMED_MESSAGE NO_RESERVATION PERMISSION_DENIED RESOURCE_LIMIT_EXCEEDED UNEXPECTED_MESSAGE " ] ||
  fail "circuit refusal reasons listed: $circ_reasons"
code="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/nope")"
[ "$code" = 404 ] || fail "unknown path answered $code, want 404"
log "ok: metrics show 1 reservation, 1 refusal, 1 circuit, 1 data-limit cut, NO_RESERVATION, bytes"

# ---- SIGTERM with live reservations and connections: clean exit (ASan would report leaks) ---
kill -TERM "$SMALL_PID"
RC=0
wait "$SMALL_PID" || RC=$?
[ "$RC" -eq 0 ] || fail "relay exited $RC after SIGTERM"
expect small 'e.event === "shutdown"' "relay logged shutdown and exited 0"
log "PASS"
