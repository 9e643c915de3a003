#!/usr/bin/env bash
# Metrics of a daemon that is hole-punched in the NAT lab (two endpoint-independent NATs):
# `holepunch listen --metrics-listen 127.0.0.1:9101` behind router A, scraped inside A's
# namespace after a client behind B punched to it. The counts must agree with the same
# daemon's JSON log: attempts as B by attempt number, direct outcomes, the relayed → direct
# histogram, relayed inbound connections, direct payload bytes, one reservation held, and
# /healthz 200.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
punch_need_root
punch_need_holepunch

SRV_METRICS=127.0.0.1:9101
scrape() { # scrape PATH: from inside router A's host namespace
  local in_ns=("$NATLAB" exec "$PL" a --)
  ((PUNCH_LOOPBACK)) && in_ns=()
  "${in_ns[@]}" curl -s --max-time 2 "http://$SRV_METRICS$1"
}
metric() { awk -v k="$1" '$1 == k { print $2 }' "$PW/srv_metrics.txt"; }

check "natlab up (eim/eim)" punch_lab_up --nat-a eim --nat-b eim || exit 1
check "relay listening" punch_start_relay || exit 1
check "server reserved a slot on the relay (metrics on $SRV_METRICS)" \
  punch_start_server --metrics-listen "$SRV_METRICS" || exit 1
check "server: /healthz ok with the reservation held" test "$(scrape /healthz)" = ok

punch_client_case echo 40
sleep 0.5
scrape /metrics >"$PW/srv_metrics.txt"
check "server: /metrics answered" test -s "$PW/srv_metrics.txt"

att=$(metric 'holepunch_punch_attempts_total{role="b",attempt="1"}')
log_att=$(jcount "$PW/srv.log" dcutr_attempt '.attempt == 1')
check "attempts_total{b,1} = $att = dcutr_attempt(attempt 1) in the log ($log_att)" \
  test "$att" = "$log_att" -a "${att:-0}" -ge 1
direct=$(metric 'holepunch_punch_outcomes_total{role="b",outcome="direct"}')
log_direct=$(jcount "$PW/srv.log" direct_connected)
check "outcomes_total{b,direct} = $direct = direct_connected in the log ($log_direct)" \
  test "$direct" = "$log_direct" -a "${direct:-0}" -ge 1
hist=$(metric holepunch_punch_relayed_to_direct_seconds_count)
check "relayed → direct histogram counted each punch ($hist)" test "$hist" = "$direct"
rin=$(metric 'holepunch_connections_established_total{path="relayed",direction="inbound"}')
log_rin=$(jcount "$PW/srv.log" connected '.relayed == true')
check "relayed inbound connections $rin = relayed connected in the log ($log_rin)" \
  test "$rin" = "$log_rin"
dbytes=$(metric 'holepunch_connection_bytes_total{path="direct",direction="in"}')
check "direct payload bytes in ($dbytes) > 0" test "${dbytes%.*}" -gt 0
check "one reservation held" test "$(metric holepunch_reservations_held)" = 1
grep -v '^#' "$PW/srv_metrics.txt" | grep -E '^holepunch_(punch|connection)' | sed 's/^/# /'

punch_finish
