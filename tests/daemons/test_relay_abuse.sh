#!/usr/bin/env bash
# `holepunch relay` under abuse, with a well-behaved pair on it the whole time. The abusive
# clients are bench/bench_relay (hop/stop spoken by hand, every status counted); each comes
# from its own loopback address (127.0.R.2…15 in round R) so the relay's per-IP limits see it
# as one source, while the good pair stays on 127.0.0.1. Two identical rounds of:
#   - a CONNECT flood at a live target (a decoy the abuser reserved): 16 circuits (the
#     per-peer cap), the rest RESOURCE_LIMIT_EXCEEDED; the 16 stay open through the test
#   - a reservation flood from 150 fresh peer IDs on one address: 8 granted (per IP), 52
#     RESERVATION_REFUSED, 90 RESOURCE_LIMIT_EXCEEDED (the IP's 60-token burst)
#   - 64 peer IDs over 8 addresses: the table fills to exactly --max-reservations, the rest
#     RESERVATION_REFUSED
#   - CONNECT floods at a peer without a reservation: one peer (30 NO_RESERVATION, then the
#     peer's rate limit), 20 peers on one address (60, then the IP's rate limit)
#   - 400 hop streams that never finish a request (half send nothing, half 4095 bytes of a
#     4096-byte message): 10 per connection wait and are reset at --stream-timeout, the rest
#     are reset at once
#   - 30 hop messages over the 4 KiB cap: each answered MALFORMED_MESSAGE
# The relay logs every line (--log-repeat 0): the test counts refusals in its log.
# Meanwhile our listener keeps its reservation and our echo (64 KiB) passes through the
# circuit before, during and after; the metrics match the statuses counted on the wire; the
# relay's resident memory stays bounded, the table empties once the abusers leave, and the
# second round reuses the first round's memory; SIGTERM exits 0.
#
# A connection flood from one address (300) must not lock the good clients out: the
# per-IP cap keeps it below the table size.
set -euo pipefail
# shellcheck source=tests/daemons/lib.sh
. "$(dirname "$0")/lib.sh"
need_holepunch
H="$HOLEPUNCH"
BR="${BENCH_RELAY:-$(dirname "$H")/bench_relay}"
[ -x "$BR" ] || fail "$BR not built (cmake --build BUILD --target bench_relay)"
command -v curl >/dev/null || fail "curl not found"
ip -4 addr show lo 2>/dev/null | grep -q '127.0.0.1/8' || fail "loopback is not 127.0.0.1/8 (the abusers need 127.0.R.x)"

MAXRSV=32
start_bg relay 120 env ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=1" "$H" relay --listen /ip4/127.0.0.1/tcp/0 --key "$WORK/relay.key" \
  --log-format json --metrics-listen 127.0.0.1:0 --max-reservations $MAXRSV --stream-timeout 3s \
  --max-connections-per-ip 200 --log-repeat 0 --max-circuits-per-pair 16 --max-connections-per-subnet 0
RELAY_PID=$LAST_PID
RELAY="$(listen_addr relay)"
MPORT="$(wait_for 10 relay 'e.event === "metrics_listening"' 'e.port')"
# The relay's own PID (start_bg runs it under `timeout`).
RPID="$(pgrep -P "$RELAY_PID" -x holepunch || true)"
[ -n "$RPID" ] || RPID=$RELAY_PID
rss() { awk '/^VmRSS:/{print $2}' "/proc/$RPID/status"; }
metrics() { curl -sf "http://127.0.0.1:$MPORT/metrics" >"$WORK/metrics.txt" || fail "metrics endpoint did not answer"; }
metric() { awk -v k="$1" '$1 == k { print $2 }' "$WORK/metrics.txt"; }
# result NAME FIELD: a field of bench_relay's result line (JavaScript expression over e).
result() { jfirst "$WORK/$1.out" 'e.event === "bench_relay"' "$2"; }
# expect_result NAME PREDICATE WHAT
expect_result() { expect "$WORK/$1.out" "e.event === 'bench_relay' && ($2)" "$3"; }
PEAK=0
sample() { local r; r="$(rss)"; [ "$r" -gt "$PEAK" ] && PEAK=$r; return 0; }

for n in good echo; do step "keygen_$n" 10 "$H" keygen --key "$WORK/$n.key"; done
GOOD="$(peer_id_in "$WORK/keygen_good.out")"
sleep 0.5
RSS0="$(rss)"
log "relay $RELAY (metrics port $MPORT), RSS at start $RSS0 KiB"

# ---- the well-behaved pair ---------------------------------------------------------------------
start_bg good 120 "$H" listen --listen /ip4/127.0.0.1/tcp/0 --relay "$RELAY" --key "$WORK/good.key" --log-format json
wait_for 15 good 'e.event === "reservation"' >/dev/null
CIRCUIT="$RELAY/p2p-circuit/p2p/$GOOD"
good_echo() {
  step "$1" 60 "$H" echo "$CIRCUIT" --streams 4 --bytes 64K --key "$WORK/echo.key" --log-format json
  expect "$1" 'e.event === "echo_result" && e.ok === true && e.bytes === 65536' "$2"
}
good_echo echo_before "64 KiB echoed through the circuit before the abuse"

# abuse_round R: every abuse once, from 127.0.R.2…15; counters in the metrics and the log are
# cumulative, so round R expects R times each count.
abuse_round() {
  local R="$1" A="127.0.$1"

  # -- CONNECT flood at a live target: circuits up to the per-peer cap
  start_bg "circuits$R" 100 "$BR" circuits "$RELAY" 40 --peers 1 --ip "$A.13" --hold 100
  local circ_pid=$LAST_PID
  wait_for 20 "circuits$R" 'e.event === "bench_relay"' >/dev/null
  expect_result "circuits$R" "e.ok === 16 && e.status.OK === 16 && e.status.RESOURCE_LIMIT_EXCEEDED === 24 &&
    e.stop_connects === 16 && e.probe_bad === 0" \
    "round $R: CONNECT flood at a live target: 16 circuits carry a probe, 24 RESOURCE_LIMIT_EXCEEDED"
  sample

  # -- reservation floods
  start_bg "rsv_one_ip$R" 100 "$BR" reserve "$RELAY" 150 --ip "$A.2" --hold 100
  local rsv1_pid=$LAST_PID
  wait_for 30 "rsv_one_ip$R" 'e.event === "bench_relay"' >/dev/null
  expect_result "rsv_one_ip$R" "e.connected === 150 && e.ok === 8 && e.status.OK === 8 &&
    e.status.RESERVATION_REFUSED === 52 && e.status.RESOURCE_LIMIT_EXCEEDED === 90" \
    "round $R: 150 peer IDs on one address: 8 reservations (per IP), 52 RESERVATION_REFUSED, 90 RESOURCE_LIMIT_EXCEEDED (IP rate)"
  sample
  # The table now holds the good listener, the decoy and 8: 22 places left for 64 new peers.
  start_bg "rsv_many_ips$R" 100 "$BR" reserve "$RELAY" 64 --ip "$A.3" --ips 8 --hold 100
  local rsv2_pid=$LAST_PID
  wait_for 30 "rsv_many_ips$R" 'e.event === "bench_relay"' >/dev/null
  expect_result "rsv_many_ips$R" "e.ok === $((MAXRSV - 10)) && e.status.RESERVATION_REFUSED === $((64 - MAXRSV + 10))" \
    "round $R: 64 peer IDs over 8 addresses fill the table to $MAXRSV; the rest RESERVATION_REFUSED"
  metrics
  [ "$(metric holepunch_relay_reservations_active)" = $MAXRSV ] ||
    fail "reservations_active $(metric holepunch_relay_reservations_active), want $MAXRSV (the max)"
  [ "$(metric 'holepunch_relay_reservations_refused_total{reason="RESERVATION_REFUSED"}')" = $((R * (52 + 64 - MAXRSV + 10))) ] ||
    fail "RESERVATION_REFUSED counted $(metric 'holepunch_relay_reservations_refused_total{reason="RESERVATION_REFUSED"}')"
  [ "$(metric 'holepunch_relay_reservations_refused_total{reason="RESOURCE_LIMIT_EXCEEDED"}')" = $((R * 90)) ] ||
    fail "reservation RESOURCE_LIMIT_EXCEEDED counted $(metric 'holepunch_relay_reservations_refused_total{reason="RESOURCE_LIMIT_EXCEEDED"}')"
  [ "$(metric holepunch_relay_circuits_active)" = 16 ] || fail "circuits_active $(metric holepunch_relay_circuits_active), want 16"
  log "ok: round $R: metrics: $MAXRSV reservations active (the max), refusals counted by reason, 16 circuits held"
  [ "$(jcount relay "e.event === 'reservation_refused' && e.ip === '$A.2' && e.reason === 'RESOURCE_LIMIT_EXCEEDED'")" = 90 ] ||
    fail "the relay did not log 90 reservation_refused RESOURCE_LIMIT_EXCEEDED from $A.2"
  log "ok: round $R: the relay logged each refusal with the abuser's address and the status"
  sample

  # -- the good pair while the table is full and the floods hold their reservations/circuits
  good_echo "echo_full$R" "round $R: 64 KiB echoed through the circuit while the relay is full"

  # -- CONNECT floods at a peer without a reservation, half-open and oversized hop messages
  start_bg "half$R" 60 "$BR" half-open "$RELAY" 400 --peers 8 --ip "$A.14" --timeout 30
  local half_pid=$LAST_PID
  step "conn_one_peer$R" 30 "$BR" connect "$RELAY" 100 --peers 1 --ip "$A.11"
  expect_result "conn_one_peer$R" "e.status.NO_RESERVATION === 30 && e.status.RESOURCE_LIMIT_EXCEEDED === 70" \
    "round $R: 100 CONNECTs from one peer: 30 NO_RESERVATION, then 70 RESOURCE_LIMIT_EXCEEDED (peer rate)"
  step "conn_one_ip$R" 30 "$BR" connect "$RELAY" 100 --peers 20 --ip "$A.12"
  expect_result "conn_one_ip$R" "e.status.NO_RESERVATION === 60 && e.status.RESOURCE_LIMIT_EXCEEDED === 40" \
    "round $R: 100 CONNECTs from 20 peers on one address: 60 NO_RESERVATION, then 40 RESOURCE_LIMIT_EXCEEDED (IP rate)"
  step "oversize$R" 30 "$BR" oversize "$RELAY" 30 --ip "$A.15"
  expect_result "oversize$R" "e.status.MALFORMED_MESSAGE === 30 && e.reset === 0 && e.closed_no_status === 0" \
    "round $R: 30 hop messages over 4 KiB (4097 B, 1 GiB prefix, 5000 B prefix alone): each answered MALFORMED_MESSAGE"
  sample
  good_echo "echo_half_open$R" "round $R: 64 KiB echoed through the circuit while 400 half-open hop streams wait"
  sample
  local rc=0
  wait "$half_pid" || rc=$?
  [ "$rc" -eq 0 ] || fail "bench_relay half-open exited $rc"
  expect_result "half$R" "e.reset === 400 && e.pending === 0 && e.close_ms_max >= 2900 && e.close_ms_max < 8000" \
    "round $R: 400 half-open hop streams: all reset by the relay, the last after the 3 s stream timeout"
  [ "$(jcount relay "e.event === 'hop_timeout'")" = $((R * 80)) ] || fail "hop_timeout logged $(jcount relay "e.event === 'hop_timeout'") times, want $((R * 80)) (10 per connection)"
  [ "$(jcount relay "e.event === 'hop_refused'")" = $((R * 320)) ] || fail "hop_refused logged $(jcount relay "e.event === 'hop_refused'") times, want $((R * 320))"
  [ "$(jcount relay "e.event === 'hop_malformed'")" = $((R * 30)) ] || fail "hop_malformed logged $(jcount relay "e.event === 'hop_malformed'") times, want $((R * 30))"
  log "ok: round $R: relay log: 80 hop_timeout (10 waiting per connection), 320 hop_refused, 30 hop_malformed"
  metrics
  [ "$(metric 'holepunch_relay_circuits_refused_total{reason="NO_RESERVATION"}')" = $((R * 90)) ] ||
    fail "NO_RESERVATION counted $(metric 'holepunch_relay_circuits_refused_total{reason="NO_RESERVATION"}'), want $((R * 90))"
  [ "$(metric 'holepunch_relay_circuits_refused_total{reason="RESOURCE_LIMIT_EXCEEDED"}')" = $((R * (24 + 70 + 40))) ] ||
    fail "CONNECT RESOURCE_LIMIT_EXCEEDED counted $(metric 'holepunch_relay_circuits_refused_total{reason="RESOURCE_LIMIT_EXCEEDED"}'), want $((R * 134))"
  [ "$(metric 'holepunch_relay_circuits_refused_total{reason="MALFORMED_MESSAGE"}')" = $((R * 30)) ] ||
    fail "MALFORMED_MESSAGE counted $(metric 'holepunch_relay_circuits_refused_total{reason="MALFORMED_MESSAGE"}'), want $((R * 30))"
  log "ok: round $R: metrics count NO_RESERVATION, RESOURCE_LIMIT_EXCEEDED and MALFORMED_MESSAGE as seen on the wire"

  # -- the abusers leave
  sample
  local p
  for p in "$circ_pid" "$rsv1_pid" "$rsv2_pid"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "$circ_pid" "$rsv1_pid" "$rsv2_pid"; do wait "$p" 2>/dev/null || true; done
  local deadline=$((SECONDS + 15))
  while :; do
    metrics
    [ "$(metric holepunch_relay_reservations_active)" = 1 ] && [ "$(metric holepunch_relay_circuits_active)" = 0 ] &&
      [ "$(metric holepunch_relay_connections_active)" -le 2 ] && break
    [ "$SECONDS" -lt "$deadline" ] || fail "after the abusers left: reservations $(metric holepunch_relay_reservations_active), circuits $(metric holepunch_relay_circuits_active), connections $(metric holepunch_relay_connections_active); want 1, 0, <= 2"
    sleep 0.3
  done
  log "ok: round $R: the abusers gone, the relay is back to 1 reservation (ours), 0 circuits"
  good_echo "echo_after$R" "round $R: 64 KiB echoed through the circuit after the abuse"
}

abuse_round 1
sleep 0.5
RSS1="$(rss)"
PEAK1=$PEAK
abuse_round 2
sleep 0.5
RSS2="$(rss)"
jfirst good 'e.event === "reservation_failed"' >/dev/null && fail "the good listener lost its reservation"
log "ok: the good listener kept its reservation throughout"
log "relay RSS: start $RSS0 KiB, round 1 peak $PEAK1 after $RSS1, round 2 peak $PEAK after $RSS2 KiB"
# Generous bounds (an ASan build adds shadow memory; its quarantine is cut to 1 MiB above so
# freed memory is reused): under ~230 connections, 16 circuits and 400 half-open streams the
# relay grows by less than 200 MiB, and a second identical round reuses the first round's
# memory: it adds less than a quarter of round 1's growth plus 8 MiB.
[ $((PEAK - RSS0)) -lt $((200 * 1024)) ] || fail "relay RSS grew by $((PEAK - RSS0)) KiB under abuse"
[ $((PEAK - PEAK1)) -lt $(((PEAK1 - RSS0) / 4 + 8 * 1024)) ] ||
  fail "round 2 raised the relay's peak RSS by $((PEAK - PEAK1)) KiB (round 1 grew it by $((PEAK1 - RSS0)) KiB): memory is not reused"
log "ok: relay memory bounded under abuse and reused by a second round"

# ---- known bug: one address can take every connection slot -----------------------------------
# One address opening 300 connections is capped (--max-connections-per-ip 200 here; 32 by
# default) below the table size (256), so a good client still gets in.
if true; then
  start_bg connflood 60 "$BR" reserve "$RELAY" 300 --no-reserve --ip 127.0.9.20 --hold 20 --timeout 20
  wait_for 30 connflood 'e.event === "bench_relay"' >/dev/null
  step ping_during_connflood 20 "$H" ping "$RELAY" --count 1 --key "$WORK/echo.key" --log-format json
  log "ok: a good client still connects while one address holds 300 connections"
fi

# ---- clean shutdown (an ASan build reports leaks here) ----------------------------------------
kill -TERM "$RELAY_PID"
RC=0
wait "$RELAY_PID" || RC=$?
[ "$RC" -eq 0 ] || fail "relay exited $RC after SIGTERM"
log "PASS"
