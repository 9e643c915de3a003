#!/usr/bin/env bash
# --metrics-listen on a daemon that punches (holepunch listen with --relay), on loopback:
# /healthz is 503 with its reason until the reservation is held, 200 while it is, 503 again
# once the relay is gone; /metrics has holepunch_build_info with the version, the process_*
# families, and, after a client was hole-punched through our relay, punch and connection
# counts that agree with the JSON log of the same daemon.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need_holepunch
H=$HOLEPUNCH
J=(--log-format json)

start_bg relay 90 "$H" relay --listen /ip4/127.0.0.1/tcp/0 --key "$WORK/relay.key" "${J[@]}"
RELAY_PID=$LAST_PID
RELAY=$(listen_addr relay)
start_bg server 90 "$H" listen --listen /ip4/127.0.0.1/tcp/0 --relay "$RELAY" \
  --key "$WORK/server.key" --metrics-listen 127.0.0.1:0 --max-memory 128M --max-conn-memory 8M \
  "${J[@]}"
MPORT="$(wait_for 10 server 'e.event === "metrics_listening"' 'e.port')"
URL="http://127.0.0.1:$MPORT"
health() { curl -s -o "$WORK/health.txt" -w '%{http_code}' "$URL/healthz"; }

# ---- /healthz: 200 once the reservation is held
wait_for 15 server 'e.event === "reservation"' 'e.relay' >/dev/null
code=$(health)
[ "$code" = 200 ] || fail "healthz answered $code ($(cat "$WORK/health.txt")) with a reservation held"
grep -qx ok "$WORK/health.txt" || fail "healthz body: $(cat "$WORK/health.txt")"
log "ok: /healthz 200 with the reservation held"

# ---- build info and process metrics
curl -sf "$URL/metrics" >"$WORK/m0.txt" || fail "metrics endpoint did not answer"
metric() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }
ver=$(grep -oE 'holepunch_build_info\{version="[^"]+"\} 1' "$WORK/m0.txt") ||
  fail "no holepunch_build_info = 1"
"$H" --version | grep -qF "$(echo "$ver" | sed -E 's/.*version="([^"]+)".*/\1/')" ||
  fail "build_info ($ver) does not match holepunch --version ($("$H" --version))"
rss=$(metric "$WORK/m0.txt" process_resident_memory_bytes)
fds=$(metric "$WORK/m0.txt" process_open_fds)
start=$(metric "$WORK/m0.txt" process_start_time_seconds)
cpu=$(metric "$WORK/m0.txt" process_cpu_seconds_total)
[ "${rss%.*}" -gt 1000000 ] || fail "process_resident_memory_bytes = $rss"
[ "$fds" -ge 4 ] || fail "process_open_fds = $fds"
now=$(date +%s)
[ "${start%.*}" -le "$now" ] && [ "${start%.*}" -gt $((now - 120)) ] ||
  fail "process_start_time_seconds = $start, now $now"
[ -n "$cpu" ] || fail "no process_cpu_seconds_total"
grep -q '^# TYPE process_cpu_seconds_total counter$' "$WORK/m0.txt" || fail "cpu is not a counter"
log "ok: build info $ver, rss $rss, fds $fds, start $start, cpu $cpu"

# ---- the memory budget (--max-memory / --max-conn-memory) and what it holds now
mlim=$(metric "$WORK/m0.txt" holepunch_memory_budget_limit_bytes)
mcl=$(metric "$WORK/m0.txt" holepunch_memory_budget_connection_limit_bytes)
mused=$(metric "$WORK/m0.txt" holepunch_memory_budget_used_bytes)
mstarved=$(metric "$WORK/m0.txt" holepunch_memory_budget_starved_connections)
[ "$mlim" = 134217728 ] || fail "holepunch_memory_budget_limit_bytes = '$mlim', want 134217728 (--max-memory 128M)"
[ "$mcl" = 8388608 ] || fail "holepunch_memory_budget_connection_limit_bytes = '$mcl', want 8388608"
[ -n "$mused" ] && [ "${mused%.*}" -ge 0 ] && [ "${mused%.*}" -le "$mlim" ] ||
  fail "holepunch_memory_budget_used_bytes = '$mused'"
[ "$mstarved" = 0 ] || fail "holepunch_memory_budget_starved_connections = '$mstarved' on an idle daemon"
log "ok: memory budget limit $mlim, per connection $mcl, used $mused, starved $mstarved"

# ---- a punch, then the counts against the log
SID=$("$H" id --key "$WORK/server.key")
step client 40 "$H" ping "$RELAY/p2p-circuit/p2p/$SID" --listen /ip4/127.0.0.1/tcp/0 \
  --wait-direct 10000 --count 3 --interval 200 --key "$WORK/client.key" "${J[@]}"
wait_for 10 server 'e.event === "direct_connected"' 'e.addr' >/dev/null
sleep 0.5
curl -sf "$URL/metrics" >"$WORK/m1.txt" || fail "metrics endpoint did not answer"
att=$(metric "$WORK/m1.txt" 'holepunch_punch_attempts_total{role="b",attempt="1"}')
log_att=$(jcount server 'e.event === "dcutr_attempt" && e.attempt === 1')
[ "$att" = "$log_att" ] && [ "$att" -ge 1 ] ||
  fail "attempts_total{b,1} = $att, the log has $log_att dcutr_attempt with attempt 1"
direct=$(metric "$WORK/m1.txt" 'holepunch_punch_outcomes_total{role="b",outcome="direct"}')
log_direct=$(jcount server 'e.event === "direct_connected"')
[ "$direct" = "$log_direct" ] && [ "$direct" -ge 1 ] ||
  fail "outcomes_total{b,direct} = $direct, the log has $log_direct direct_connected"
hist=$(metric "$WORK/m1.txt" holepunch_punch_relayed_to_direct_seconds_count)
[ "$hist" = "$direct" ] || fail "histogram count $hist != direct outcomes $direct"
relayed_in=$(metric "$WORK/m1.txt" 'holepunch_connections_established_total{path="relayed",direction="inbound"}')
log_relayed=$(jcount server 'e.event === "connected" && e.relayed === true')
[ "$relayed_in" = "$log_relayed" ] && [ "$relayed_in" -ge 1 ] ||
  fail "relayed inbound connections $relayed_in, the log has $log_relayed"
# 3 pings of 32 bytes each way, at least, went over the direct connection
dbytes=$(metric "$WORK/m1.txt" 'holepunch_connection_bytes_total{path="direct",direction="in"}')
rbytes=$(metric "$WORK/m1.txt" 'holepunch_connection_bytes_total{path="relayed",direction="in"}')
[ "${dbytes%.*}" -ge 96 ] && [ "${rbytes%.*}" -gt 0 ] ||
  fail "connection bytes: direct in $dbytes, relayed in $rbytes"
held=$(metric "$WORK/m1.txt" holepunch_reservations_held)
[ "$held" = 1 ] || fail "holepunch_reservations_held = $held"
# Per relay (label relay="<peer ID>"): held, time left (the relay's TTL is 1 h), no failures.
RID=${RELAY##*/}
[ "$(metric "$WORK/m1.txt" "holepunch_reservation_held{relay=\"$RID\"}")" = 1 ] ||
  fail "holepunch_reservation_held{relay=$RID}: $(grep '^holepunch_reservation_' "$WORK/m1.txt")"
exp=$(metric "$WORK/m1.txt" "holepunch_reservation_expiry_seconds{relay=\"$RID\"}")
awk -v e="$exp" 'BEGIN { exit !(e > 3000 && e <= 3600) }' || fail "expiry_seconds = $exp, want ~3600"
[ "$(metric "$WORK/m1.txt" "holepunch_reservation_failures{relay=\"$RID\"}")" = 0 ] || fail "failures != 0"
log "ok: punch counts agree with the log (attempts $att, direct $direct, relayed in $relayed_in)"

# ---- the relay goes away: 503 with the reason
kill "$RELAY_PID"
deadline=$((SECONDS + 15))
while [ "$(health)" != 503 ]; do
  [ "$SECONDS" -lt "$deadline" ] || fail "healthz still $(health) after the relay stopped"
  sleep 0.2
done
grep -q "no relay reservation held" "$WORK/health.txt" || fail "503 reason: $(cat "$WORK/health.txt")"
log "ok: /healthz 503 ($(cat "$WORK/health.txt")) once the relay is gone"
curl -sf "http://127.0.0.1:$MPORT/metrics" >"$WORK/m2.txt" || fail "no /metrics after the relay went"
[ "$(metric "$WORK/m2.txt" "holepunch_reservation_held{relay=\"$RID\"}")" = 0 ] ||
  fail "reservation still held on the stopped relay: $(grep '^holepunch_reservation_' "$WORK/m2.txt")"
log "ok: holepunch_reservation_held{relay=...} 0 once the relay is gone"

# ---- a daemon that cannot reserve is never healthy
# (--metrics-listen takes a host name too, resolved at start.)
start_bg lonely 30 "$H" listen --listen /ip4/127.0.0.1/tcp/0 --relay "$RELAY" \
  --key "$WORK/lonely.key" --metrics-listen localhost:0 "${J[@]}"
LPORT="$(wait_for 10 lonely 'e.event === "metrics_listening"' 'e.port')"
expect lonely 'e.event === "metrics_listening" && e.url === "http://127.0.0.1:'"$LPORT"'/metrics"' \
  "--metrics-listen localhost:0 serves on 127.0.0.1"
[ "$(jcount server 'e.event === "metrics_http_error"')" = 0 ] ||
  fail "libmicrohttpd complained at start: $(jfirst server 'e.event === "metrics_http_error"' 'e.reason')"
code=$(curl -s -o "$WORK/h2.txt" -w '%{http_code}' "http://127.0.0.1:$LPORT/healthz")
[ "$code" = 503 ] || fail "healthz of a daemon without its relay: $code"
log "ok: /healthz 503 ($(cat "$WORK/h2.txt")) for a daemon whose relay is down"
